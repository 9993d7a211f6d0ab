"""A support organisation to run incidents through: L1 → L2 → L3 teams, management, agents."""

from dataclasses import dataclass
from typing import Any

import pytest

from incidents import services
from incidents.models import Incident, IncidentEvent
from itsm.tenancy import rls
from itsm.tenancy.choices import MembershipRole, TeamKind
from itsm.tenancy.models import Team, Tenant
from tests.factories import (
    CategoryFactory,
    MembershipFactory,
    ServiceFactory,
    TeamFactory,
    TeamMemberFactory,
    UserFactory,
)


@dataclass
class Desk:
    tenant: Tenant
    l1: Team
    l2: Team
    l3: Team
    management: Team
    l1_agent: Any
    l2_agent: Any
    l3_agent: Any
    manager: Any
    admin: Any
    outsider_agent: Any  # an agent in no team
    requester: Any
    other_requester: Any
    service: Any
    category: Any

    def url(self, path: str = "") -> str:
        return f"/api/v1/t/{self.tenant.slug}/incidents/{path}"


def _member(tenant: Tenant, role: str, username: str, team: Team | None = None) -> Any:
    user = MembershipFactory(tenant=tenant, role=role, user=UserFactory(username=username)).user
    if team is not None:
        TeamMemberFactory(tenant=tenant, team=team, user=user)
    return user


@pytest.fixture
def desk(db) -> Desk:
    tenant = Tenant.objects.create(name="Acme", slug="acme")
    management = TeamFactory(tenant=tenant, slug="management", kind=TeamKind.MANAGEMENT, email="")
    l3 = TeamFactory(tenant=tenant, slug="l3", kind=TeamKind.L3)
    l2 = TeamFactory(tenant=tenant, slug="l2", kind=TeamKind.L2, escalation_team=l3)
    l1 = TeamFactory(tenant=tenant, slug="l1", kind=TeamKind.L1, escalation_team=l2)
    return Desk(
        tenant=tenant,
        l1=l1,
        l2=l2,
        l3=l3,
        management=management,
        l1_agent=_member(tenant, MembershipRole.AGENT, "lena-l1", l1),
        l2_agent=_member(tenant, MembershipRole.AGENT, "leo-l2", l2),
        l3_agent=_member(tenant, MembershipRole.AGENT, "lou-l3", l3),
        manager=_member(tenant, MembershipRole.AGENT, "mia-manager", management),
        admin=_member(tenant, MembershipRole.TENANT_ADMIN, "ada-admin"),
        outsider_agent=_member(tenant, MembershipRole.AGENT, "otto-outsider"),
        requester=_member(tenant, MembershipRole.REQUESTER, "rita-requester"),
        other_requester=_member(tenant, MembershipRole.REQUESTER, "ralf-requester"),
        service=ServiceFactory(tenant=tenant, slug="email", owner_team=l2),
        category=CategoryFactory(tenant=tenant, slug="software"),
    )


STATES = ["new", "in_progress", "on_hold", "resolved", "closed", "cancelled"]


def make_incident(desk: Desk, state: str = "new", **data: Any) -> Incident:
    """An incident brought to `state` through the services, as agents would."""
    tenant, admin = desk.tenant, desk.admin
    with rls.tenant_scope(tenant.pk):
        incident = services.incident_create(
            tenant=tenant,
            actor=desk.l1_agent,
            data={
                "title": "Mail is down",
                "reported_by": desk.requester,
                "assignment_team": desk.l1,
                "service": desk.service,
                **data,
            },
        )
        ids = {"tenant": tenant, "incident_id": incident.pk, "actor": admin}
        if state == "cancelled":
            services.incident_cancel(**ids, reason="Duplicate of another report.")
        elif state != "new":
            services.incident_acknowledge(**{**ids, "actor": desk.l1_agent})
            if state == "on_hold":
                services.incident_hold(**ids, hold_reason="awaiting_caller")
            elif state in ("resolved", "closed"):
                services.incident_resolve(
                    **ids, resolution_code="fixed", resolution_notes="Restarted the mail relay."
                )
                if state == "closed":
                    services.incident_close(**ids)
        incident.refresh_from_db()
    return incident


def incident_state(desk: Desk, incident: Incident) -> tuple[dict[str, Any], int]:
    """The incident's row and its number of events: what a refused request must not change."""
    with rls.tenant_scope(desk.tenant.pk):
        row = dict(Incident.objects.filter(pk=incident.pk).values().get())
        events = IncidentEvent.objects.filter(incident=incident).count()
    return row, events
