"""Every write to an incident: recording, editing, each lifecycle action, and the timeline.

Each service locks the incident row (`select_for_update`), checks the lifecycle table and the
action's requirements, writes the incident and exactly one timeline event, and schedules
notifications after commit. A stale `expected_version` (the API's If-Match) is refused, so two
agents never silently overwrite each other. `actor=None` means the system acted.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from functools import partial
from typing import Any

from django.db import transaction
from django.utils import timezone

from incidents import selectors, sla
from incidents.choices import (
    OPEN_STATUSES,
    TERMINAL_STATUSES,
    EscalationKind,
    EventKind,
    IncidentAction,
    IncidentStatus,
)
from incidents.errors import (
    IncidentActionForbiddenError,
    IncidentErrorCode,
    InvalidTransitionError,
    StaleIncidentError,
    TransitionRequirementError,
)
from incidents.lifecycle import check_action, check_details, check_reopen_window
from incidents.models import Incident, IncidentEvent
from itsm.errors import NotFoundError
from itsm.tenancy.choices import STAFF_ROLES, MembershipRole, TeamKind
from itsm.tenancy.models import Team, Tenant
from itsm.tenancy.services import allocate_number

# Fields an agent may edit directly; everything else changes through an action.
EDITABLE_FIELDS = frozenset(
    {"title", "description", "service", "category", "source", "occurred_at", "detected_at"}
)
NEXT_TIER = {TeamKind.L1: TeamKind.L2, TeamKind.L2: TeamKind.L3}
NOTIFIED_EVENTS = frozenset({EventKind.ASSIGNMENT, EventKind.ESCALATION, EventKind.MAJOR_DECLARED})


# --- Recording and editing ---------------------------------------------------------------------


@transaction.atomic
def incident_create(*, tenant: Tenant, actor: Any, data: Mapping[str, Any]) -> Incident:
    """Record an incident: number, priority from the tenant's matrix, first timeline event.

    `data` may name the reporter (default: the actor) and an initial team and assignee.
    """
    now = timezone.now()
    data = dict(data)
    team, assignee = data.pop("assignment_team", None), data.pop("assignee", None)
    impact = data.pop("impact", None) or Incident._meta.get_field("impact").get_default()
    urgency = data.pop("urgency", None) or Incident._meta.get_field("urgency").get_default()
    incident = Incident(
        tenant=tenant,
        number=0,  # allocated below, once the input has passed validation
        reported_by=data.pop("reported_by", None) or actor,
        impact=impact,
        urgency=urgency,
        priority=selectors.priority_for(tenant=tenant, impact=impact, urgency=urgency),
        detected_at=data.pop("detected_at", None) or now,
        **data,
    )
    incident.full_clean(exclude=["number"])
    if team is not None or assignee is not None:
        _check_assignment(tenant, team, assignee)
    incident.number = allocate_number(tenant=tenant, key=Incident.NUMBER_PREFIX)
    incident.save(force_insert=True)
    sla.start_clocks(incident, now)
    _record(
        incident,
        EventKind.CREATED,
        actor,
        is_public=True,
        to_status=incident.status,
        data={"priority": incident.priority, "source": incident.source},
    )
    if team is not None or assignee is not None:
        _apply_assignment(incident, actor, team=team, assignee=assignee, now=now)
        incident.save()
    return incident


@transaction.atomic
def incident_update(
    *,
    tenant: Tenant,
    incident_id: int,
    actor: Any,
    data: Mapping[str, Any],
    expected_version: int | None = None,
) -> Incident:
    """Edit descriptive fields; status, priority and routing change only through actions."""
    incident = _locked(tenant, incident_id, expected_version)
    unknown = set(data) - EDITABLE_FIELDS
    if unknown:
        raise TransitionRequirementError(
            "These fields change through actions.",
            fields={name: ["Changes through an action."] for name in sorted(unknown)},
        )
    if incident.status in TERMINAL_STATUSES:
        raise InvalidTransitionError(
            f"A {incident.get_status_display().lower()} incident cannot be edited.",
            extra={"allowed_actions": []},
        )
    changed = {name: value for name, value in data.items() if getattr(incident, name) != value}
    if not changed:
        return incident
    for name, value in changed.items():
        setattr(incident, name, value)
    incident.full_clean()
    _save(incident, list(changed))
    _record(incident, EventKind.FIELDS, actor, data={"fields": sorted(changed)})
    return incident


# --- Lifecycle actions -------------------------------------------------------------------------


@transaction.atomic
def incident_acknowledge(
    *, tenant: Tenant, incident_id: int, actor: Any, expected_version: int | None = None
) -> Incident:
    """An agent takes the incident: in progress, acknowledged now, assigned to them if nobody is."""
    incident = _locked(tenant, incident_id, expected_version)
    now = timezone.now()
    previous = _move(incident, IncidentAction.ACKNOWLEDGE)
    incident.acknowledged_at = now
    data: dict[str, Any] = {}
    # A platform administrator acting through admin is not an agent of the tenant.
    if incident.assignee_id is None and selectors.is_tenant_agent(tenant=tenant, user=actor):
        incident.assignee = actor
        incident.first_assigned_at = incident.first_assigned_at or now
        data["assignee"] = actor.get_username()
    _finish(
        incident,
        IncidentAction.ACKNOWLEDGE,
        actor,
        previous,
        ["acknowledged_at", "assignee", "first_assigned_at"],
        data=data,
    )
    return incident


@transaction.atomic
def incident_assign(
    *,
    tenant: Tenant,
    incident_id: int,
    actor: Any,
    team: Team | None = None,
    assignee: Any = None,
    expected_version: int | None = None,
) -> Incident:
    """Route the incident to a team and/or an agent of that team. Repeating it is a no-op."""
    incident = _locked(tenant, incident_id, expected_version)
    check_action(incident.status, IncidentAction.ASSIGN)
    if team is None and assignee is None:
        raise TransitionRequirementError(
            "Name a team, an assignee or both.",
            fields={"team": ["Name a team, an assignee or both."]},
        )
    team = team or incident.assignment_team
    _check_assignment(tenant, team, assignee)
    if team == incident.assignment_team and assignee == incident.assignee:
        return incident
    _apply_assignment(incident, actor, team=team, assignee=assignee, now=timezone.now())
    _save(incident, ["assignment_team", "assignee", "first_assigned_at", "reassignment_count"])
    return incident


@transaction.atomic
def incident_escalate(
    *,
    tenant: Tenant,
    incident_id: int,
    actor: Any,
    kind: str,
    reason: str,
    team: Team | None = None,
    expected_version: int | None = None,
) -> Incident:
    """Functional: to the next tier's team (or a named one). Hierarchical: engage management."""
    incident = _locked(tenant, incident_id, expected_version)
    check_action(incident.status, IncidentAction.ESCALATE)
    check_details(IncidentAction.ESCALATE, {"reason": reason})
    now = timezone.now()
    if kind == EscalationKind.HIERARCHICAL:
        managers = list(selectors.management_teams(tenant=tenant).values_list("slug", flat=True))
        if not managers:
            raise TransitionRequirementError(
                "This tenant has no management team to engage.",
                code=IncidentErrorCode.NO_ESCALATION_TARGET,
                fields={"kind": ["No team of kind management exists."]},
            )
        incident.management_engaged_at = incident.management_engaged_at or now
        incident.escalation_count += 1
        _save(incident, ["management_engaged_at", "escalation_count"])
        _record(
            incident,
            EventKind.ESCALATION,
            actor,
            body=reason,
            data={"kind": kind, "management_teams": managers},
        )
        return incident

    target = team or _next_tier_team(tenant, incident.assignment_team)
    if target is None or target == incident.assignment_team:
        raise TransitionRequirementError(
            "There is no next-tier team to escalate to: name one.",
            code=IncidentErrorCode.NO_ESCALATION_TARGET,
            fields={"team": ["Name the team to escalate to."]},
        )
    _check_assignment(tenant, target, None)
    from_team = incident.assignment_team
    incident.assignment_team, incident.assignee = target, None
    incident.first_assigned_at = incident.first_assigned_at or now
    incident.escalation_count += 1
    _save(incident, ["assignment_team", "assignee", "first_assigned_at", "escalation_count"])
    _record(
        incident,
        EventKind.ESCALATION,
        actor,
        body=reason,
        data={
            "kind": kind,
            "from_team": from_team.slug if from_team else None,
            "to_team": target.slug,
        },
    )
    return incident


@transaction.atomic
def incident_hold(
    *,
    tenant: Tenant,
    incident_id: int,
    actor: Any,
    hold_reason: str,
    note: str = "",
    expected_version: int | None = None,
) -> Incident:
    """Park the incident while it waits for the caller, a vendor, a change or a problem."""
    incident = _locked(tenant, incident_id, expected_version)
    check_action(incident.status, IncidentAction.HOLD)
    check_details(IncidentAction.HOLD, {"hold_reason": hold_reason})
    previous = _move(incident, IncidentAction.HOLD)
    incident.hold_reason = hold_reason
    _finish(
        incident,
        IncidentAction.HOLD,
        actor,
        previous,
        ["hold_reason"],
        body=note,
        data={"hold_reason": hold_reason},
    )
    return incident


@transaction.atomic
def incident_resume(
    *,
    tenant: Tenant,
    incident_id: int,
    actor: Any,
    note: str = "",
    expected_version: int | None = None,
) -> Incident:
    """Take the incident off hold."""
    incident = _locked(tenant, incident_id, expected_version)
    previous = _move(incident, IncidentAction.RESUME)
    incident.hold_reason = ""
    _finish(incident, IncidentAction.RESUME, actor, previous, ["hold_reason"], body=note)
    return incident


@transaction.atomic
def incident_resolve(
    *,
    tenant: Tenant,
    incident_id: int,
    actor: Any,
    resolution_code: str,
    resolution_notes: str,
    expected_version: int | None = None,
) -> Incident:
    """Service is restored. Only the assigned team, management or tenant admins resolve.

    First-contact resolution: an L1 team resolves without escalation, reassignment or reopen.
    """
    incident = _locked(tenant, incident_id, expected_version)
    check_action(incident.status, IncidentAction.RESOLVE)
    check_details(
        IncidentAction.RESOLVE,
        {"resolution_code": resolution_code, "resolution_notes": resolution_notes},
    )
    _check_may_resolve(tenant, incident, actor)
    previous = _move(incident, IncidentAction.RESOLVE)
    incident.resolution_code, incident.resolution_notes = resolution_code, resolution_notes
    incident.resolved_at = timezone.now()
    team = incident.assignment_team
    incident.first_contact_resolution = (
        team is not None
        and team.kind == TeamKind.L1
        and incident.escalation_count == 0
        and incident.reassignment_count == 0
        and incident.reopen_count == 0
    )
    _finish(
        incident,
        IncidentAction.RESOLVE,
        actor,
        previous,
        ["resolution_code", "resolution_notes", "resolved_at", "first_contact_resolution"],
        body=resolution_notes,
        data={"resolution_code": resolution_code},
    )
    return incident


@transaction.atomic
def incident_close(
    *,
    tenant: Tenant,
    incident_id: int,
    actor: Any,
    note: str = "",
    expected_version: int | None = None,
) -> Incident:
    """The reporter confirms the resolution (or an agent closes it): closed for good."""
    incident = _locked(tenant, incident_id, expected_version)
    _close(incident, actor, note=note)
    return incident


@transaction.atomic
def incident_reopen(
    *,
    tenant: Tenant,
    incident_id: int,
    actor: Any,
    reason: str = "",
    expected_version: int | None = None,
) -> Incident:
    """The fix did not hold: back to in progress, within the tenant's reopen window."""
    incident = _locked(tenant, incident_id, expected_version)
    check_action(incident.status, IncidentAction.REOPEN)
    window = selectors.incident_settings(tenant=tenant).reopen_window
    check_reopen_window(incident.resolved_at, timezone.now(), window)
    previous = _move(incident, IncidentAction.REOPEN)
    incident.reopen_count += 1
    incident.resolved_at = None
    incident.resolution_code, incident.resolution_notes = "", ""
    incident.first_contact_resolution = False
    _finish(
        incident,
        IncidentAction.REOPEN,
        actor,
        previous,
        [
            "reopen_count",
            "resolved_at",
            "resolution_code",
            "resolution_notes",
            "first_contact_resolution",
        ],
        body=reason,
    )
    return incident


@transaction.atomic
def incident_cancel(
    *,
    tenant: Tenant,
    incident_id: int,
    actor: Any,
    reason: str,
    expected_version: int | None = None,
) -> Incident:
    """Withdraw an incident recorded in error (a duplicate, not an incident)."""
    incident = _locked(tenant, incident_id, expected_version)
    check_action(incident.status, IncidentAction.CANCEL)
    check_details(IncidentAction.CANCEL, {"reason": reason})
    previous = _move(incident, IncidentAction.CANCEL)
    incident.hold_reason = ""
    _finish(incident, IncidentAction.CANCEL, actor, previous, ["hold_reason"], body=reason)
    return incident


# --- Priority, conversation, major incidents ----------------------------------------------------


@transaction.atomic
def incident_change_priority(
    *,
    tenant: Tenant,
    incident_id: int,
    actor: Any,
    impact: int,
    urgency: int,
    reason: str,
    expected_version: int | None = None,
) -> Incident:
    """Re-rate impact and urgency; the matrix gives the new priority. The reason is kept."""
    incident = _locked(tenant, incident_id, expected_version)
    _check_open(incident, "change the priority of")
    if not reason.strip():
        raise TransitionRequirementError(
            "Say why the priority changes.", fields={"reason": ["Say why the priority changes."]}
        )
    if (impact, urgency) == (incident.impact, incident.urgency):
        return incident
    before = {"impact": incident.impact, "urgency": incident.urgency, "priority": incident.priority}
    incident.impact, incident.urgency = impact, urgency
    incident.priority = selectors.priority_for(tenant=tenant, impact=impact, urgency=urgency)
    incident.full_clean()
    _save(incident, ["impact", "urgency", "priority"])
    sla.follow_priority(incident, timezone.now())
    _record(
        incident,
        EventKind.PRIORITY,
        actor,
        body=reason,
        data={
            "from": before,
            "to": {"impact": impact, "urgency": urgency, "priority": incident.priority},
        },
    )
    return incident


@transaction.atomic
def incident_comment(
    *, tenant: Tenant, incident_id: int, actor: Any, body: str, is_public: bool
) -> IncidentEvent:
    """Add a comment (public: the reporter sees it) or a work note (internal)."""
    incident = _locked(tenant, incident_id, None)
    if incident.status in TERMINAL_STATUSES:
        raise InvalidTransitionError(
            f"A {incident.get_status_display().lower()} incident takes no more comments.",
            extra={"allowed_actions": []},
        )
    if not body.strip():
        raise TransitionRequirementError("Write something.", fields={"body": ["Write something."]})
    kind = EventKind.COMMENT if is_public else EventKind.WORK_NOTE
    _save(incident, [])
    return _record(incident, kind, actor, is_public=is_public, body=body)


@transaction.atomic
def incident_declare_major(
    *,
    tenant: Tenant,
    incident_id: int,
    actor: Any,
    commander: Any,
    reason: str,
    expected_version: int | None = None,
) -> Incident:
    """Run the incident as a major incident under an incident commander; management is told."""
    incident = _locked(tenant, incident_id, expected_version)
    _check_open(incident, "declare major")
    if not reason.strip():
        raise TransitionRequirementError(
            "Say why this is a major incident.", fields={"reason": ["Say why."]}
        )
    if selectors.member_role(tenant=tenant, user=commander) not in STAFF_ROLES:
        raise TransitionRequirementError(
            "The incident commander must be an agent of this tenant.",
            code=IncidentErrorCode.INVALID_ASSIGNMENT,
            fields={"commander": ["Must be an agent of this tenant."]},
        )
    if incident.is_major and incident.commander == commander:
        return incident
    incident.is_major, incident.commander = True, commander
    incident.major_declared_at = incident.major_declared_at or timezone.now()
    _save(incident, ["is_major", "commander", "major_declared_at"])
    _record(
        incident,
        EventKind.MAJOR_DECLARED,
        actor,
        body=reason,
        data={"commander": commander.get_username()},
    )
    return incident


@transaction.atomic
def incident_stakeholder_update(
    *, tenant: Tenant, incident_id: int, actor: Any, body: str
) -> IncidentEvent:
    """A communication to stakeholders of a major incident, by its commander or management."""
    incident = _locked(tenant, incident_id, None)
    if not incident.is_major or incident.status in TERMINAL_STATUSES:
        raise InvalidTransitionError(
            "Stakeholder updates belong to open major incidents.", extra={"allowed_actions": []}
        )
    role = selectors.member_role(tenant=tenant, user=actor)
    if not (
        actor == incident.commander
        or role == MembershipRole.TENANT_ADMIN
        or selectors.is_management_member(tenant=tenant, user=actor)
    ):
        raise IncidentActionForbiddenError(
            "Only the incident commander or management post stakeholder updates."
        )
    if not body.strip():
        raise TransitionRequirementError(
            "Write the update.", fields={"body": ["Write the update."]}
        )
    _save(incident, [])
    return _record(incident, EventKind.STAKEHOLDER_UPDATE, actor, body=body)


# --- Automation --------------------------------------------------------------------------------


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


# --- Helpers -----------------------------------------------------------------------------------


def _locked(tenant: Tenant, incident_id: int, expected_version: int | None) -> Incident:
    incidents = Incident.objects.for_tenant(tenant).filter(pk=incident_id)
    # Lock first, then read: a locking query that joins would hand back the joined rows as they
    # were before a concurrent writer committed (PostgreSQL re-checks only the locked row).
    if not incidents.select_for_update().values_list("pk", flat=True):
        raise NotFoundError("No such incident.")
    incident = incidents.select_related("assignment_team", "assignee", "commander").get()
    if expected_version is not None and incident.version != expected_version:
        raise StaleIncidentError(
            f"{incident.reference} has changed since you read it; reload and try again.",
            extra={"current_version": incident.version},
        )
    return incident


def _move(incident: Incident, action: IncidentAction) -> str:
    """Apply the lifecycle's target status; return the previous one."""
    rule = check_action(incident.status, action)
    previous = incident.status
    if rule.to_status is not None:
        incident.status = rule.to_status
    return previous


def _check_open(incident: Incident, doing: str) -> None:
    if incident.status not in OPEN_STATUSES:
        raise InvalidTransitionError(
            f"Cannot {doing} a {incident.get_status_display().lower()} incident.",
            extra={"allowed_actions": []},
        )


def _close(
    incident: Incident, actor: Any, *, note: str, data: dict[str, Any] | None = None
) -> None:
    previous = _move(incident, IncidentAction.CLOSE)
    incident.closed_at = timezone.now()
    _finish(incident, IncidentAction.CLOSE, actor, previous, ["closed_at"], body=note, data=data)


def _finish(
    incident: Incident,
    action: IncidentAction,
    actor: Any,
    previous: str,
    fields: list[str],
    *,
    body: str = "",
    data: dict[str, Any] | None = None,
) -> None:
    """Save a status change with the fields it set, record it, and let the SLA clocks follow."""
    _save(incident, ["status", *fields])
    _record_status(incident, actor, previous, body=body, data=data)
    sla.follow_incident(incident, action, timezone.now())


def _save(incident: Incident, fields: list[str]) -> None:
    # The row is locked, so the read-increment-write of version cannot lose an update.
    incident.version += 1
    incident.save(update_fields=[*fields, "version", "updated_at"])


def _record(
    incident: Incident,
    kind: EventKind,
    actor: Any,
    *,
    is_public: bool = False,
    from_status: str = "",
    to_status: str = "",
    body: str = "",
    data: dict[str, Any] | None = None,
) -> IncidentEvent:
    event = IncidentEvent.objects.create(
        tenant_id=incident.tenant_id,
        incident=incident,
        kind=kind,
        actor=actor,
        is_public=is_public,
        from_status=from_status,
        to_status=to_status,
        body=body,
        data=data or {},
    )
    if kind in NOTIFIED_EVENTS:
        from incidents.tasks import notify_incident_event_task

        transaction.on_commit(
            partial(
                notify_incident_event_task.delay, tenant_id=incident.tenant_id, event_id=event.pk
            )
        )
    return event


def _record_status(
    incident: Incident,
    actor: Any,
    previous: str,
    *,
    body: str = "",
    data: dict[str, Any] | None = None,
) -> IncidentEvent:
    # Status changes are public: the reporter follows their incident's progress.
    return _record(
        incident,
        EventKind.STATUS,
        actor,
        is_public=True,
        from_status=previous,
        to_status=incident.status,
        body=body,
        data=data,
    )


def _check_assignment(tenant: Tenant, team: Team | None, assignee: Any) -> None:
    problems: dict[str, list[str]] = {}
    if team is not None and team.tenant_id != tenant.pk:
        problems["team"] = ["No such team."]
    if assignee is not None:
        if selectors.member_role(tenant=tenant, user=assignee) not in STAFF_ROLES:
            problems["assignee"] = ["Must be an agent of this tenant."]
        elif team is not None and not selectors.is_team_member(
            tenant=tenant, team_id=team.pk, user=assignee
        ):
            problems["assignee"] = [f"Is not a member of team {team.slug}."]
    if problems:
        raise TransitionRequirementError(
            "The assignment is not possible.",
            code=IncidentErrorCode.INVALID_ASSIGNMENT,
            fields=problems,
        )


def _apply_assignment(
    incident: Incident, actor: Any, *, team: Team | None, assignee: Any, now: datetime
) -> None:
    moved_team = incident.assignment_team_id is not None and team != incident.assignment_team
    moved_person = incident.assignee_id is not None and assignee not in (None, incident.assignee)
    if moved_team or moved_person:
        incident.reassignment_count += 1
    before_team, before_assignee = incident.assignment_team, incident.assignee
    incident.assignment_team, incident.assignee = team, assignee
    incident.first_assigned_at = incident.first_assigned_at or now
    _record(
        incident,
        EventKind.ASSIGNMENT,
        actor,
        data={
            "from_team": before_team.slug if before_team else None,
            "to_team": team.slug if team else None,
            "from_assignee": before_assignee.get_username() if before_assignee else None,
            "to_assignee": assignee.get_username() if assignee else None,
        },
    )


def _next_tier_team(tenant: Tenant, team: Team | None) -> Team | None:
    """The team's own escalation target, else the only team of the next tier."""
    if team is not None and team.escalation_team_id is not None:
        return team.escalation_team
    next_kind = NEXT_TIER.get(TeamKind(team.kind)) if team is not None else TeamKind.L1
    if next_kind is None:
        return None
    candidates = list(Team.objects.for_tenant(tenant).filter(kind=next_kind)[:2])
    return candidates[0] if len(candidates) == 1 else None


def _check_may_resolve(tenant: Tenant, incident: Incident, actor: Any) -> None:
    role = selectors.member_role(tenant=tenant, user=actor)
    if (
        role == MembershipRole.TENANT_ADMIN
        or selectors.is_team_member(tenant=tenant, team_id=incident.assignment_team_id, user=actor)
        or selectors.is_management_member(tenant=tenant, user=actor)
    ):
        return
    raise IncidentActionForbiddenError(
        "Only the assigned team, management or a tenant administrator may resolve this incident."
    )
