"""The incidents app's part of the workspace shell: its header links and its search provider."""

from __future__ import annotations

from django.urls import reverse

from incidents import selectors
from incidents.models import Incident
from itsm.search.selectors import filter_matching
from itsm.tenancy.choices import STAFF_ROLES, MembershipRole
from itsm.tenancy.models import Membership, Tenant, format_reference, parse_reference
from itsm.web.workspace import NavItem, SearchHit, SearchResult, register_nav, register_search

REQUESTER_ROLES = frozenset({MembershipRole.REQUESTER})


def incident_search(tenant: Tenant, membership: Membership, query: str, limit: int) -> SearchResult:
    """An incident number (INC-000042 or 42) that exists jumps to it; words match the title
    and description of the incidents the member may see (a requester: their own)."""
    incidents = selectors.incident_list(tenant=tenant, membership=membership)
    number = parse_reference(Incident.NUMBER_PREFIX, query)
    if number is not None and incidents.filter(number=number).exists():
        reference = format_reference(Incident.NUMBER_PREFIX, number, Incident.NUMBER_DIGITS)
        return SearchResult(jump_to=reverse("incidents:detail", args=[tenant.slug, reference]))
    if not query.strip():
        return SearchResult()
    matching = filter_matching(incidents, tenant_id=tenant.pk, kind="incident", text=query)
    hits = matching.order_by("-created_at", "-id")[:limit]
    return SearchResult(
        hits=[
            SearchHit(
                kind="Incident",
                title=f"{incident.reference} {incident.title}",
                url=incident_url(tenant, incident),
                detail=incident.get_status_display(),
            )
            for incident in hits
        ]
    )


def incident_url(tenant: Tenant, incident: Incident) -> str:
    return reverse("incidents:detail", args=[tenant.slug, incident.reference])


def register() -> None:
    register_nav(
        NavItem(
            "Queues",
            "incidents:list",
            frozenset(STAFF_ROLES),
            order=10,
            section=("incidents:list", "incidents:detail"),
        ),
        NavItem("Record incident", "incidents:create", frozenset(STAFF_ROLES), order=20),
        NavItem(
            "My requests",
            "incidents:list",
            REQUESTER_ROLES,
            order=10,
            section=("incidents:list", "incidents:detail"),
        ),
        NavItem("Report an incident", "incidents:create", REQUESTER_ROLES, order=20),
    )
    register_search("incidents", incident_search)
