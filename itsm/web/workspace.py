"""What every workspace page shares, filled in by the apps: navigation and the search box.

The shell (itsm/web) knows no domain app; each app registers its navigation entries and its
search provider in its AppConfig.ready(), so problems, changes and articles join the same header
and the same search box later without the shell changing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from django.urls import reverse

if TYPE_CHECKING:
    from itsm.tenancy.models import Membership, Tenant


@dataclass(frozen=True)
class NavItem:
    """A link in the header: `url_name` takes the tenant slug as its only argument."""

    label: str
    url_name: str
    roles: frozenset[str]  # the membership roles that see it
    order: int = 100
    # Marks the link current for every page whose URL name starts with one of these.
    section: tuple[str, ...] = ()

    def url(self, tenant: Tenant) -> str:
        return reverse(self.url_name, args=[tenant.slug])


@dataclass(frozen=True)
class SearchHit:
    kind: str  # "Incident", later "Problem", "Change", "Article"
    title: str
    url: str
    detail: str = ""


@dataclass
class SearchResult:
    """A provider's answer: a direct hit to jump to (an exact number), or hits to list."""

    jump_to: str | None = None
    hits: list[SearchHit] = field(default_factory=list)


# (tenant, membership, query, limit) -> result
SearchProvider = Callable[["Tenant", "Membership", str, int], SearchResult]

_nav: list[NavItem] = []
_search: list[tuple[str, SearchProvider]] = []


def register_nav(*items: NavItem) -> None:
    _nav.extend(items)
    _nav.sort(key=lambda item: item.order)


def nav_for(role: str) -> Sequence[NavItem]:
    return [item for item in _nav if role in item.roles]


def register_search(name: str, provider: SearchProvider) -> None:
    _search.append((name, provider))


def search(tenant: Tenant, membership: Membership, query: str, limit: int = 20) -> SearchResult:
    """Ask every provider; the first exact hit wins, otherwise all hits are listed together."""
    result = SearchResult()
    for _name, provider in _search:
        answer = provider(tenant, membership, query, limit)
        if answer.jump_to:
            return answer
        result.hits.extend(answer.hits)
    return result
