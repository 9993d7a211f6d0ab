"""The lifecycle verbs: acknowledge, hold, resume, resolve, close, reopen, cancel, auto-close.

Each checks what its action needs beyond the table and hands the rest to `transition`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from incidents import selectors
from incidents.choices import IncidentAction, IncidentStatus
from incidents.errors import IncidentActionForbiddenError
from incidents.lifecycle import check_action, check_details, check_reopen_window
from incidents.models import Incident
from incidents.services.base import IncidentKey, locked, transition
from itsm.tenancy import selectors as tenancy
from itsm.tenancy.choices import TeamKind
from itsm.tenancy.models import Tenant


@transaction.atomic(savepoint=False)
def incident_acknowledge(
    *, tenant: Tenant, incident_id: IncidentKey, actor: Any, expected_version: int | None = None
) -> Incident:
    """An agent takes the incident: in progress, acknowledged now, assigned to them if nobody is
    (and to their team, when the incident has none and they work in exactly one)."""
    incident = locked(tenant, incident_id, expected_version)
    now = timezone.now()
    changes: dict[str, Any] = {"acknowledged_at": now}
    data: dict[str, Any] = {}
    # A platform administrator acting through admin is not an agent of the tenant.
    if incident.assignee_id is None and tenancy.is_tenant_agent(tenant=tenant, user=actor):
        changes |= {"assignee": actor, "first_assigned_at": incident.first_assigned_at or now}
        data["assignee"] = actor.get_username()
        team = (
            tenancy.home_team(tenant=tenant, user=actor)
            if not incident.assignment_team_id
            else None
        )
        if team is not None:
            # Without it, escalating the agent's own unrouted call would send it to L1.
            changes["assignment_team"] = team
            data["team"] = team.slug
    transition(incident, IncidentAction.ACKNOWLEDGE, actor, changes=changes, data=data)
    return incident


@transaction.atomic(savepoint=False)
def incident_hold(
    *,
    tenant: Tenant,
    incident_id: IncidentKey,
    actor: Any,
    hold_reason: str,
    note: str = "",
    expected_version: int | None = None,
) -> Incident:
    """Park the incident while it waits for the caller, a vendor, a change or a problem."""
    incident = locked(tenant, incident_id, expected_version)
    check_action(incident.status, IncidentAction.HOLD)
    check_details(IncidentAction.HOLD, {"hold_reason": hold_reason})
    transition(
        incident,
        IncidentAction.HOLD,
        actor,
        changes={"hold_reason": hold_reason},
        body=note,
        data={"hold_reason": hold_reason},
    )
    return incident


@transaction.atomic(savepoint=False)
def incident_resume(
    *,
    tenant: Tenant,
    incident_id: IncidentKey,
    actor: Any,
    note: str = "",
    expected_version: int | None = None,
) -> Incident:
    """Take the incident off hold."""
    incident = locked(tenant, incident_id, expected_version)
    transition(incident, IncidentAction.RESUME, actor, changes={"hold_reason": ""}, body=note)
    return incident


@transaction.atomic(savepoint=False)
def incident_resolve(
    *,
    tenant: Tenant,
    incident_id: IncidentKey,
    actor: Any,
    resolution_code: str,
    resolution_notes: str,
    expected_version: int | None = None,
) -> Incident:
    """Service is restored. Only the assigned team, management or tenant admins resolve.

    First-contact resolution: an L1 team resolves without escalation, reassignment or reopen.
    """
    incident = locked(tenant, incident_id, expected_version)
    check_action(incident.status, IncidentAction.RESOLVE)
    check_details(
        IncidentAction.RESOLVE,
        {"resolution_code": resolution_code, "resolution_notes": resolution_notes},
    )
    _check_may_resolve(tenant, incident, actor)
    team = incident.assignment_team
    first_contact = (
        team is not None
        and team.kind == TeamKind.L1
        and incident.escalation_count == 0
        and incident.reassignment_count == 0
        and incident.reopen_count == 0
    )
    transition(
        incident,
        IncidentAction.RESOLVE,
        actor,
        changes={
            "resolution_code": resolution_code,
            "resolution_notes": resolution_notes,
            "resolved_at": timezone.now(),
            "first_contact_resolution": first_contact,
        },
        body=resolution_notes,
        data={"resolution_code": resolution_code},
    )
    return incident


@transaction.atomic(savepoint=False)
def incident_close(
    *,
    tenant: Tenant,
    incident_id: IncidentKey,
    actor: Any,
    note: str = "",
    expected_version: int | None = None,
) -> Incident:
    """The reporter confirms the resolution (or an agent closes it): closed for good."""
    incident = locked(tenant, incident_id, expected_version)
    _close(incident, actor, note=note)
    return incident


@transaction.atomic(savepoint=False)
def incident_reopen(
    *,
    tenant: Tenant,
    incident_id: IncidentKey,
    actor: Any,
    reason: str = "",
    expected_version: int | None = None,
) -> Incident:
    """The fix did not hold: back to in progress, within the tenant's reopen window."""
    incident = locked(tenant, incident_id, expected_version)
    check_action(incident.status, IncidentAction.REOPEN)
    window = selectors.incident_settings(tenant=tenant).reopen_window
    check_reopen_window(incident.resolved_at, timezone.now(), window)
    transition(
        incident,
        IncidentAction.REOPEN,
        actor,
        changes={
            "reopen_count": incident.reopen_count + 1,
            "resolved_at": None,
            "resolution_code": "",
            "resolution_notes": "",
            "first_contact_resolution": False,
        },
        body=reason,
    )
    return incident


@transaction.atomic(savepoint=False)
def incident_cancel(
    *,
    tenant: Tenant,
    incident_id: IncidentKey,
    actor: Any,
    reason: str,
    expected_version: int | None = None,
) -> Incident:
    """Withdraw an incident recorded in error (a duplicate, not an incident)."""
    incident = locked(tenant, incident_id, expected_version)
    check_action(incident.status, IncidentAction.CANCEL)
    check_details(IncidentAction.CANCEL, {"reason": reason})
    transition(incident, IncidentAction.CANCEL, actor, changes={"hold_reason": ""}, body=reason)
    return incident


def incidents_close_resolved(
    *, tenant: Tenant, now: datetime | None = None, batch: int = 500
) -> int:
    """Close incidents resolved longer ago than the tenant's auto-close period. Idempotent.

    Each incident closes in its own transaction; rows another worker holds are skipped.
    """
    now = now or timezone.now()
    cutoff = now - selectors.incident_settings(tenant=tenant).auto_close_after
    due = Incident.objects.for_tenant(tenant).filter(
        status=IncidentStatus.RESOLVED, resolved_at__lte=cutoff
    )
    closed = 0
    for pk in list(due.values_list("pk", flat=True)[:batch]):
        with transaction.atomic():
            incident = due.select_for_update(skip_locked=True).filter(pk=pk).first()
            if incident is not None:
                _close(
                    incident,
                    None,
                    note="Closed automatically after resolution.",
                    data={"automatic": True},
                )
                closed += 1
    return closed


def _close(
    incident: Incident, actor: Any, *, note: str, data: dict[str, Any] | None = None
) -> None:
    transition(
        incident,
        IncidentAction.CLOSE,
        actor,
        changes={"closed_at": timezone.now()},
        body=note,
        data=data,
    )


def _check_may_resolve(tenant: Tenant, incident: Incident, actor: Any) -> None:
    if not selectors.may_resolve(tenant=tenant, incident=incident, user=actor):
        raise IncidentActionForbiddenError(
            "Only the assigned team, management or a tenant administrator may resolve this "
            "incident."
        )
