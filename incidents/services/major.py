"""Major incidents: an incident commander, management engaged, stakeholder updates."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from incidents import selectors, timeline
from incidents.choices import TERMINAL_STATUSES, EventKind
from incidents.errors import (
    IncidentActionForbiddenError,
    IncidentErrorCode,
    InvalidTransitionError,
    TransitionRequirementError,
)
from incidents.models import Incident, IncidentEvent
from incidents.services.base import IncidentKey, check_open, locked, save
from itsm.tenancy import selectors as tenancy
from itsm.tenancy.choices import STAFF_ROLES
from itsm.tenancy.models import Tenant


@transaction.atomic(savepoint=False)
def incident_declare_major(
    *,
    tenant: Tenant,
    incident_id: IncidentKey,
    actor: Any,
    commander: Any,
    reason: str,
    expected_version: int | None = None,
) -> Incident:
    """Run the incident as a major incident under an incident commander; management is told."""
    incident = locked(tenant, incident_id, expected_version, read_clocks=True)
    check_open(incident, "declare major")
    if not reason.strip():
        raise TransitionRequirementError(
            "Say why this is a major incident.", fields={"reason": ["Say why."]}
        )
    if tenancy.member_role(tenant=tenant, user=commander) not in STAFF_ROLES:
        raise TransitionRequirementError(
            "The incident commander must be an agent of this tenant.",
            code=IncidentErrorCode.INVALID_ASSIGNMENT,
            fields={"commander": ["Must be an agent of this tenant."]},
        )
    if incident.is_major and incident.commander == commander:
        return incident
    incident.is_major, incident.commander = True, commander
    incident.major_declared_at = incident.major_declared_at or timezone.now()
    save(incident, ["is_major", "commander", "major_declared_at"])
    timeline.record(
        incident,
        EventKind.MAJOR_DECLARED,
        actor,
        body=reason,
        data={"commander": commander.get_username()},
    )
    return incident


@transaction.atomic(savepoint=False)
def incident_stakeholder_update(
    *, tenant: Tenant, incident_id: IncidentKey, actor: Any, body: str
) -> IncidentEvent:
    """A communication to stakeholders of a major incident, by its commander or management."""
    incident = locked(tenant, incident_id, None)
    if not incident.is_major or incident.status in TERMINAL_STATUSES:
        raise InvalidTransitionError(
            "Stakeholder updates belong to open major incidents.", extra={"allowed_actions": []}
        )
    if not selectors.may_brief(tenant=tenant, incident=incident, user=actor):
        raise IncidentActionForbiddenError(
            "Only the incident commander or management post stakeholder updates."
        )
    if not body.strip():
        raise TransitionRequirementError(
            "Write the update.", fields={"body": ["Write the update."]}
        )
    save(incident, [])
    return timeline.record(incident, EventKind.STAKEHOLDER_UPDATE, actor, body=body)
