"""What is searchable: each domain app registers its models in AppConfig.ready()."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Model


@dataclass(frozen=True)
class Searchable:
    """A model's part in search, by column: the engine indexes these and nothing else.

    `owner` is the column a requester's view is limited by (an incident's reporter); `status`
    and `audience` let a caller ask for published articles for requesters, say.
    """

    model: type[Model]
    kind: str
    title: str
    body: tuple[str, ...] = ()
    service: str | None = None
    category: str | None = None
    owner: str | None = None
    status: str | None = None
    audience: str | None = None

    @property
    def table(self) -> str:
        return str(self.model._meta.db_table)


_registered: dict[str, Searchable] = {}


def register(searchable: Searchable) -> None:
    _registered[searchable.kind] = searchable


def registered() -> dict[str, Searchable]:
    return dict(_registered)
