"""Search for callers: ids and ranks of what matches, for the caller to load through its own
tenant-scoped querysets. PostgreSQL answers through the search structure (itsm/search/sql.py);
the embedded SQLite default, small by nature, matches and ranks in Python."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.db.models import Q, QuerySet
from django.db.models.expressions import RawSQL

from itsm.search.registry import Searchable, registered
from itsm.search.sql import STOP_WORDS

MAX_WORDS = 16  # a pasted paragraph must not become a huge query (SQLite side)


@dataclass(frozen=True)
class Hit:
    kind: str
    object_id: int
    rank: float


def filter_matching(
    queryset: QuerySet[Any], *, tenant_id: int, kind: str, text: str, owner_id: int | None = None
) -> QuerySet[Any]:
    """The queryset narrowed to rows of `kind` containing every word of `text` (by prefix)."""
    if not text.strip():
        return queryset
    if connection.vendor == "postgresql":
        ids = RawSQL("SELECT itsm_search_ids(%s, %s, %s, %s)", [tenant_id, kind, text, owner_id])
        return queryset.filter(pk__in=ids)
    return queryset.filter(_words_q(registered()[kind], text))


def ranked(
    *,
    tenant_id: int,
    kinds: Sequence[str],
    text: str,
    limit: int = 10,
    statuses: Sequence[str] | None = None,
    audiences: Sequence[str] | None = None,
    service_id: int | None = None,
    category_id: int | None = None,
    match_all: bool = False,
) -> list[Hit]:
    """The best matches among `kinds`, any word counting (or every word, `match_all`); the same
    service ranks higher, then the same category."""
    if not text.strip() or not kinds:
        return []
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT kind, object_id, rank FROM itsm_search_ranked"
                "(%s, %s, %s, %s, %s, %s, %s, %s, %s)",
                [
                    tenant_id,
                    list(kinds),
                    text,
                    limit,
                    list(statuses) if statuses is not None else None,
                    list(audiences) if audiences is not None else None,
                    service_id,
                    category_id,
                    match_all,
                ],
            )
            return [Hit(kind, object_id, rank) for kind, object_id, rank in cursor.fetchall()]
    hits = [
        hit
        for kind in kinds
        for hit in _rank_in_python(
            registered()[kind],
            tenant_id,
            text,
            statuses,
            audiences,
            service_id,
            category_id,
            match_all,
        )
    ]
    hits.sort(key=lambda hit: (-hit.rank, -hit.object_id))
    return hits[:limit]


# --- The embedded default: plain ORM filters and a simple score ------------------------------


def _words(text: str) -> list[str]:
    stripped = (w.strip(".,;:!?()[]{}\"'").lower() for w in text.split())
    return [word for word in stripped if word and word not in STOP_WORDS][:MAX_WORDS]


def _words_q(searchable: Searchable, text: str, *, every: bool = True) -> Q:
    fields = (searchable.title, *searchable.body)
    combined = Q()
    for word in _words(text):
        one = Q()
        for field in fields:
            one |= Q(**{f"{field}__icontains": word})
        combined = (combined & one) if every else (combined | one)
    return combined


def _rank_in_python(
    searchable: Searchable,
    tenant_id: int,
    text: str,
    statuses: Iterable[str] | None,
    audiences: Iterable[str] | None,
    service_id: int | None,
    category_id: int | None,
    match_all: bool,
) -> list[Hit]:
    rows = searchable.model._default_manager.filter(tenant_id=tenant_id).filter(
        _words_q(searchable, text, every=match_all)
    )
    if statuses is not None and searchable.status:
        rows = rows.filter(**{f"{searchable.status}__in": list(statuses)})
    if audiences is not None and searchable.audience:
        rows = rows.filter(**{f"{searchable.audience}__in": list(audiences)})
    words = _words(text)
    hits = []
    for row in rows:
        title = str(getattr(row, searchable.title) or "").lower()
        body = " ".join(str(getattr(row, field) or "") for field in searchable.body).lower()
        # Title words weigh like PostgreSQL's weight A against B.
        score = sum(1.0 * title.count(word) + 0.4 * body.count(word) for word in words)
        boost = 1.0
        if service_id is not None and searchable.service:
            boost += 0.5 * (getattr(row, searchable.service) == service_id)
        if category_id is not None and searchable.category:
            boost += 0.25 * (getattr(row, searchable.category) == category_id)
        hits.append(Hit(searchable.kind, int(row.pk), score * boost))
    return hits
