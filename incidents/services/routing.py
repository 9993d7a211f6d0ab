"""Who works the incident: assignment to a team and agent; functional and hierarchical
escalation."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from incidents import timeline
from incidents.choices import EscalationKind, EventKind, IncidentAction
from incidents.errors import IncidentErrorCode, TransitionRequirementError
from incidents.lifecycle import check_action, check_details
from incidents.models import Incident, IncidentEvent
from incidents.services.base import IncidentKey, locked, save
from itsm.tenancy import selectors as tenancy
from itsm.tenancy.choices import STAFF_ROLES, TeamKind
from itsm.tenancy.config import tenant_rows
from itsm.tenancy.models import Team, Tenant

NEXT_TIER = {TeamKind.L1: TeamKind.L2, TeamKind.L2: TeamKind.L3}


@transaction.atomic(savepoint=False)
def incident_assign(
    *,
    tenant: Tenant,
    incident_id: IncidentKey,
    actor: Any,
    team: Team | None = None,
    assignee: Any = None,
    expected_version: int | None = None,
) -> Incident:
    """Route the incident to a team and/or an agent of that team. Repeating it is a no-op."""
    incident = locked(tenant, incident_id, expected_version, read_clocks=True)
    check_action(incident.status, IncidentAction.ASSIGN)
    if team is None and assignee is None:
        raise TransitionRequirementError(
            "Name a team, an assignee or both.",
            fields={"team": ["Name a team, an assignee or both."]},
        )
    team = team or incident.assignment_team
    check_assignment(tenant, team, assignee)
    if team == incident.assignment_team and assignee == incident.assignee:
        return incident
    event = apply_assignment(incident, actor, team=team, assignee=assignee, now=timezone.now())
    save(incident, ["assignment_team", "assignee", "first_assigned_at", "reassignment_count"])
    timeline.record_many([event])
    return incident


@transaction.atomic(savepoint=False)
def incident_escalate(
    *,
    tenant: Tenant,
    incident_id: IncidentKey,
    actor: Any,
    kind: str,
    reason: str,
    team: Team | None = None,
    expected_version: int | None = None,
) -> Incident:
    """Functional: to the next tier's team (or a named one). Hierarchical: engage management."""
    incident = locked(tenant, incident_id, expected_version, read_clocks=True)
    check_action(incident.status, IncidentAction.ESCALATE)
    check_details(IncidentAction.ESCALATE, {"reason": reason})
    now = timezone.now()
    if kind == EscalationKind.HIERARCHICAL:
        managers = [team.slug for team in tenancy.management_teams(tenant=tenant)]
        if not managers:
            raise TransitionRequirementError(
                "This tenant has no management team to engage.",
                code=IncidentErrorCode.NO_ESCALATION_TARGET,
                fields={"kind": ["No team of kind management exists."]},
            )
        incident.management_engaged_at = incident.management_engaged_at or now
        incident.escalation_count += 1
        incident.hierarchical_escalation_count += 1
        save(
            incident,
            ["management_engaged_at", "escalation_count", "hierarchical_escalation_count"],
        )
        timeline.record(
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
    check_assignment(tenant, target, None)
    from_team = incident.assignment_team
    incident.assignment_team, incident.assignee = target, None
    incident.first_assigned_at = incident.first_assigned_at or now
    incident.escalation_count += 1
    incident.functional_escalation_count += 1
    save(
        incident,
        [
            "assignment_team",
            "assignee",
            "first_assigned_at",
            "escalation_count",
            "functional_escalation_count",
        ],
    )
    timeline.record(
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


def check_assignment(tenant: Tenant, team: Team | None, assignee: Any) -> None:
    """Raises TransitionRequirementError unless the team is the tenant's and the assignee one of
    its agents (and of the team, if one is named)."""
    problems: dict[str, list[str]] = {}
    if team is not None and team.tenant_id != tenant.pk:
        problems["team"] = ["No such team."]
    if assignee is not None:
        if tenancy.member_role(tenant=tenant, user=assignee) not in STAFF_ROLES:
            problems["assignee"] = ["Must be an agent of this tenant."]
        elif team is not None and not tenancy.is_team_member(
            tenant=tenant, team_id=team.pk, user=assignee
        ):
            problems["assignee"] = [f"Is not a member of team {team.slug}."]
    if problems:
        raise TransitionRequirementError(
            "The assignment is not possible.",
            code=IncidentErrorCode.INVALID_ASSIGNMENT,
            fields=problems,
        )


def apply_assignment(
    incident: Incident, actor: Any, *, team: Team | None, assignee: Any, now: datetime
) -> IncidentEvent:
    """Set team and assignee and count a reassignment; the caller saves the incident and
    records the returned event (with its others, in one statement)."""
    moved_team = incident.assignment_team_id is not None and team != incident.assignment_team
    moved_person = incident.assignee_id is not None and assignee not in (None, incident.assignee)
    if moved_team or moved_person:
        incident.reassignment_count += 1
    before_team, before_assignee = incident.assignment_team, incident.assignee
    incident.assignment_team, incident.assignee = team, assignee
    incident.first_assigned_at = incident.first_assigned_at or now
    return timeline.draft(
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
    """The team's own escalation target, else the only team of the next tier (from the
    tenant's cached teams)."""
    teams = tenant_rows(tenant, Team)
    if team is not None and team.escalation_team_id is not None:
        return teams.get(team.escalation_team_id)
    next_kind = NEXT_TIER.get(TeamKind(team.kind)) if team is not None else TeamKind.L1
    if next_kind is None:
        return None
    candidates = teams.where(kind=next_kind)
    return candidates[0] if len(candidates) == 1 else None
