"""Recording an incident, editing its details, re-rating its priority, and conversation."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db import transaction
from django.utils import timezone

from incidents import selectors, sla, timeline
from incidents.choices import EventKind
from incidents.errors import TransitionRequirementError
from incidents.models import Incident, IncidentEvent
from incidents.services.base import IncidentKey, check_not_terminal, check_open, locked, save
from incidents.services.routing import apply_assignment, check_assignment
from itsm.bulk import bulk_create_graph
from itsm.services import keep_related, validate_fields
from itsm.tenancy.models import Tenant
from itsm.tenancy.services import next_number

# Fields an agent may edit directly; everything else changes through an action.
EDITABLE_FIELDS = frozenset(
    {"title", "description", "service", "category", "source", "occurred_at", "detected_at"}
)


@transaction.atomic(savepoint=False)
def incident_create(*, tenant: Tenant, actor: Any, data: Mapping[str, Any]) -> Incident:
    """Record an incident: number, priority from the tenant's matrix, SLA clocks, first timeline
    event (and the assignment's, when one is given).

    `data` may name the reporter (default: the actor) and an initial team and assignee. The
    related objects given are kept on the incident, so its representation needs no re-read.
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
    validate_fields(incident, exclude=["number"])
    if team is not None or assignee is not None:
        check_assignment(tenant, team, assignee)
    clocks = sla.plan_clocks(incident, now)
    created = timeline.draft(
        incident,
        EventKind.CREATED,
        actor,
        is_public=True,
        to_status=incident.status,
        data={"priority": incident.priority, "source": incident.source},
    )
    events = [created]
    if team is not None or assignee is not None:
        events.append(apply_assignment(incident, actor, team=team, assignee=assignee, now=now))
    # Taken by the INSERT itself where it can be, and read back with the row's key.
    incident.number = next_number(tenant=tenant, key=Incident.NUMBER_PREFIX)
    # The incident, its clocks with their timers, and its events: one statement (itsm/bulk.py).
    bulk_create_graph([incident], *sla.clock_rows(clocks), events)
    timeline.recorded(events)
    # What the representation reads, as written: the clocks, and no problem link yet.
    keep_related(incident, "sla_clocks", clocks)
    keep_related(incident, "problem_link", None)
    return incident


@transaction.atomic(savepoint=False)
def incident_update(
    *,
    tenant: Tenant,
    incident_id: IncidentKey,
    actor: Any,
    data: Mapping[str, Any],
    expected_version: int | None = None,
) -> Incident:
    """Edit descriptive fields; status, priority and routing change only through actions."""
    incident = locked(tenant, incident_id, expected_version, read_clocks=True)
    unknown = set(data) - EDITABLE_FIELDS
    if unknown:
        raise TransitionRequirementError(
            "These fields change through actions.",
            fields={name: ["Changes through an action."] for name in sorted(unknown)},
        )
    check_not_terminal(incident, "cannot be edited")
    changed = {name: value for name, value in data.items() if getattr(incident, name) != value}
    if not changed:
        return incident
    for name, value in changed.items():
        setattr(incident, name, value)
    validate_fields(incident, only=changed)
    save(incident, list(changed))
    timeline.record(incident, EventKind.FIELDS, actor, data={"fields": sorted(changed)})
    return incident


@transaction.atomic(savepoint=False)
def incident_change_priority(
    *,
    tenant: Tenant,
    incident_id: IncidentKey,
    actor: Any,
    impact: int,
    urgency: int,
    reason: str,
    expected_version: int | None = None,
) -> Incident:
    """Re-rate impact and urgency; the matrix gives the new priority. The reason is kept."""
    incident = locked(tenant, incident_id, expected_version)
    check_open(incident, "change the priority of")
    if not reason.strip():
        raise TransitionRequirementError(
            "Say why the priority changes.", fields={"reason": ["Say why the priority changes."]}
        )
    if (impact, urgency) == (incident.impact, incident.urgency):
        return incident
    before = {"impact": incident.impact, "urgency": incident.urgency, "priority": incident.priority}
    incident.impact, incident.urgency = impact, urgency
    incident.priority = selectors.priority_for(tenant=tenant, impact=impact, urgency=urgency)
    validate_fields(incident, only=["impact", "urgency", "priority"])
    summary = sla.follow_priority(incident, timezone.now())
    save(incident, ["impact", "urgency", "priority", *summary])
    timeline.record(
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


@transaction.atomic(savepoint=False)
def incident_comment(
    *, tenant: Tenant, incident_id: IncidentKey, actor: Any, body: str, is_public: bool
) -> IncidentEvent:
    """Add a comment (public: the reporter sees it) or a work note (internal)."""
    incident = locked(tenant, incident_id, None)
    check_not_terminal(incident, "takes no more comments")
    if not body.strip():
        raise TransitionRequirementError("Write something.", fields={"body": ["Write something."]})
    kind = EventKind.COMMENT if is_public else EventKind.WORK_NOTE
    save(incident, [])
    return timeline.record(incident, kind, actor, is_public=is_public, body=body)
