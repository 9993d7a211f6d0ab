"""What every workspace page shares, filled in by the apps: navigation, the search box, and
the cards one app adds to another's record pages.

The shell (itsm/web) knows no domain app; each app registers its navigation entries, its
search provider and its record cards in its AppConfig.ready(), so problems, changes and articles
join the same header, the same search box and each other's pages without the shell changing.
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


@dataclass(frozen=True)
class RecordCard:
    """A card a higher app adds to a lower app's record page (problems on the incident page,
    for instance), which cannot name it: the page asks for the cards of its kind of record and
    htmx loads each after the page; without JavaScript each is a link to the card as a page."""

    record: str  # the kind of record page: "incident", "article"
    title: str
    url_name: str  # takes the tenant slug and the record's reference
    roles: frozenset[str]  # the membership roles that see it
    order: int = 100

    def url(self, tenant: Tenant, reference: str) -> str:
        return reverse(self.url_name, args=[tenant.slug, reference])


@dataclass(frozen=True)
class PlacedCard:
    """A record card for one record: its title and where to load it from."""

    title: str
    url: str
    slug: str  # for the element's id


_nav: list[NavItem] = []
_search: list[tuple[str, SearchProvider]] = []
_cards: list[RecordCard] = []


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


def register_cards(*cards: RecordCard) -> None:
    _cards.extend(cards)
    _cards.sort(key=lambda card: card.order)


def cards_for(record: str, tenant: Tenant, role: str, reference: str) -> list[PlacedCard]:
    """The cards other apps add to this record's page, for a member of this role."""
    return [
        PlacedCard(card.title, card.url(tenant, reference), card.url_name.replace(":", "-"))
        for card in _cards
        if card.record == record and role in card.roles
    ]
