"""The changes app's part of the workspace shell: its header links, its search provider and the
cards it adds to problem and incident pages (which cannot name changes)."""

from __future__ import annotations

from functools import reduce
from operator import and_

from django.db.models import Q
from django.urls import reverse

from changes import selectors
from changes.models import Change
from itsm.tenancy.choices import STAFF_ROLES
from itsm.tenancy.models import MAX_NUMBER, Membership, Tenant, parse_reference
from itsm.web.workspace import (
    NavItem,
    RecordCard,
    SearchHit,
    SearchResult,
    register_cards,
    register_nav,
    register_search,
)

MAX_WORDS = 8
STAFF = frozenset(STAFF_ROLES)


def change_search(tenant: Tenant, membership: Membership, query: str, limit: int) -> SearchResult:
    """A change number (CHG-000042) that exists jumps to it; words match change titles (a
    tenant's changes are few enough to scan, like its problems). Requesters find nothing."""
    changes = selectors.change_list(tenant=tenant, membership=membership)
    number = parse_reference(Change.NUMBER_PREFIX, query)
    # A bare number is an incident's (incidents answer it): only prefixed ones here.
    prefixed = query.strip().upper().startswith(f"{Change.NUMBER_PREFIX}-")
    if prefixed and number is not None and number <= MAX_NUMBER:
        change = changes.filter(number=number).first()
        if change is not None:
            return SearchResult(
                jump_to=reverse("changes:detail", args=[tenant.slug, change.reference])
            )
    words = query.split()[:MAX_WORDS]
    if not words:
        return SearchResult()
    titled = changes.filter(reduce(and_, (Q(title__icontains=word) for word in words)))
    return SearchResult(
        hits=[
            SearchHit(
                kind="Change",
                title=f"{change.reference} {change.title}",
                url=reverse("changes:detail", args=[tenant.slug, change.reference]),
                detail=change.get_status_display(),
            )
            for change in titled.select_related(None)
            .prefetch_related(None)
            .order_by("-created_at", "-id")[:limit]
        ]
    )


def register() -> None:
    register_nav(
        NavItem(
            "Changes",
            "changes:list",
            STAFF,
            order=42,
            section=("changes:list", "changes:create", "changes:detail", "changes:action"),
        ),
        NavItem("Approvals", "changes:approvals", STAFF, order=44, section=("changes:approvals",)),
        NavItem("Calendar", "changes:calendar", STAFF, order=46, section=("changes:calendar",)),
    )
    register_search("changes", change_search)
    register_cards(
        RecordCard("problem", "Changes", "changes:problem-changes", STAFF, order=20),
        RecordCard("known_error", "Changes", "changes:known-error-changes", STAFF, order=20),
        RecordCard("incident", "Caused by a change", "changes:incident-changes", STAFF, order=30),
    )
