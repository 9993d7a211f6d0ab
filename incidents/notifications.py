"""Who hears about an incident event, and what they are told.

`notify_incident_events` is called by the timeline writer inside the transaction that records the
events; it publishes into the notifications outbox, so a notification exists exactly when its
event does and is delivered after the commit, even if the broker is down at that moment.

Recipients: an assignment tells the assignee, else the team; a functional escalation the team it
went to; a hierarchical escalation the management teams; an SLA warning or breach the assignee
and the team; a declared major incident the commander and the management teams. A team with its
own address is told there, else each member is.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, Final

from django.contrib.auth import get_user_model

from incidents.choices import EscalationKind, EventKind
from incidents.models import Incident, IncidentEvent
from itsm.catalog.models import Service
from itsm.notifications.choices import EMAIL, IN_APP
from itsm.notifications.registry import register_event_type
from itsm.notifications.services import NotificationDraft, notification_publish_many
from itsm.tenancy import selectors as tenancy
from itsm.tenancy.choices import TeamKind
from itsm.tenancy.config import tenant_rows
from itsm.tenancy.models import Team, Tenant

ASSIGNED: Final = "incident.assigned"
ESCALATED: Final = "incident.escalated"
MANAGEMENT_ENGAGED: Final = "incident.management_engaged"
SLA_WARNING: Final = "incident.sla_warning"
SLA_BREACHED: Final = "incident.sla_breached"
MAJOR_DECLARED: Final = "incident.major_declared"

EVENT_TYPE_LABELS: Final[dict[str, str]] = {
    ASSIGNED: "An incident is assigned to me or my team",
    ESCALATED: "An incident is escalated to my team",
    MANAGEMENT_ENGAGED: "Management is engaged on an incident",
    SLA_WARNING: "An SLA target of my or my team's incident is running out",
    SLA_BREACHED: "An SLA target of my or my team's incident is breached",
    MAJOR_DECLARED: "A major incident is declared",
}
for _name, _label in EVENT_TYPE_LABELS.items():
    register_event_type(_name, label=_label, default_channels=(EMAIL, IN_APP))

NOTIFYING_KINDS: Final = frozenset(
    {EventKind.ASSIGNMENT, EventKind.ESCALATION, EventKind.SLA, EventKind.MAJOR_DECLARED}
)


def notify_incident_events(events: Sequence[IncidentEvent]) -> None:
    """Publish the notifications of the events that notify; ignore the other kinds.

    Call inside the transaction that wrote the events. A batch (the SLA timers record hundreds
    of events of one tenant at once) costs a constant number of queries: the incidents the
    events do not carry, the tenant and the people the messages name, one query each (teams
    and services are the tenant's cached configuration), then one publish of all the
    messages.
    """
    by_tenant: dict[int, list[IncidentEvent]] = defaultdict(list)
    for event in events:
        # A breach recorded only when a late clock stopped is history: nobody is alerted.
        if event.kind in NOTIFYING_KINDS and not event.data.get("late"):
            by_tenant[event.tenant_id].append(event)
    for tenant_id, tenant_events in by_tenant.items():
        _notify_tenant(tenant_id, tenant_events)


@dataclass(frozen=True)
class _Names:
    """What the messages of one tenant's batch name, loaded once for the batch."""

    tenant: Tenant
    teams: dict[int, Team]
    users: dict[Any, Any]
    services: dict[int, Service]

    @property
    def management(self) -> list[Team]:
        return [team for team in self.teams.values() if team.kind == TeamKind.MANAGEMENT]


def _notify_tenant(tenant_id: int, events: list[IncidentEvent]) -> None:
    incidents = _incidents(tenant_id, events)
    events = [event for event in events if _may_tell_someone(event, incidents[event.incident_id])]
    if not events:
        return  # incidents nobody works yet (a sweep over fresh ones): nothing more to read
    # What the writer's instances already carry (a service's incident, its actor) is not read
    # again; teams and services are the tenant's cached configuration; people are read in one
    # query.
    held = list(incidents.values())
    tenant = next(iter(_loaded(held, "tenant").values()), None) or Tenant.objects.get(pk=tenant_id)
    teams = _loaded(held, "assignment_team") | _cached(tenant, Team, held, "assignment_team_id")
    if any(_needs_management(event) for event in events):
        teams |= {team.pk: team for team in tenancy.management_teams(tenant=tenant)}
    users = _loaded(held, "assignee") | _loaded(held, "commander") | _loaded(events, "actor")
    people = {event.actor_id for event in events} | {
        person for incident in held for person in _people_of(incident)
    }
    if wanted_people := people - {None} - set(users):
        users |= get_user_model().objects.in_bulk(wanted_people)
    services = _loaded(held, "service") | _cached(tenant, Service, held, "service_id")
    names = _Names(tenant=tenant, teams=teams, users=users, services=services)
    drafts = [_draft(event, incidents[event.incident_id], names) for event in events]
    notification_publish_many(
        tenant=names.tenant, drafts=[draft for draft in drafts if draft is not None]
    )


def _loaded(instances: Sequence[Any], relation: str) -> dict[Any, Any]:
    """The related objects the instances already hold (loaded with them), by primary key; not
    those loaded in part (a username read inline), whose other fields would cost a query each."""
    found: dict[Any, Any] = {}
    for instance in instances:
        field = instance._meta.get_field(relation)
        if field.is_cached(instance):
            related = field.get_cached_value(instance)
            if related is not None and not related.get_deferred_fields():
                found[related.pk] = related
    return found


def _cached(
    tenant: Tenant, model: type[Any], incidents: list[Incident], key: str
) -> dict[Any, Any]:
    """The rows of a cached configuration table (`tenant_rows`) the incidents name by `key`."""
    rows = tenant_rows(tenant, model)
    found = (rows.get(pk) for pk in {getattr(incident, key) for incident in incidents} - {None})
    return {row.pk: row for row in found if row is not None}


def _incidents(tenant_id: int, events: list[IncidentEvent]) -> dict[int, Incident]:
    """The events' incidents as the writer holds them, the others read in one query.

    The writer's instance is the truth: a service may record an event before it saves the
    change the event describes (an assignment does).
    """
    field = IncidentEvent._meta.get_field("incident")
    incidents = {event.incident_id: event.incident for event in events if field.is_cached(event)}
    missing = {event.incident_id for event in events} - set(incidents)
    if missing:
        incidents.update(Incident.objects.for_tenant(tenant_id).in_bulk(missing))
    return incidents


def _may_tell_someone(event: IncidentEvent, incident: Incident) -> bool:
    return bool(
        incident.assignee_id
        or incident.assignment_team_id
        or incident.commander_id
        or _needs_management(event)
    )


def _people_of(incident: Incident) -> tuple[int | None, int | None]:
    return incident.assignee_id, incident.commander_id


def _needs_management(event: IncidentEvent) -> bool:
    return event.kind == EventKind.MAJOR_DECLARED or (
        event.kind == EventKind.ESCALATION and event.data.get("kind") == EscalationKind.HIERARCHICAL
    )


def _draft(event: IncidentEvent, incident: Incident, names: _Names) -> NotificationDraft | None:
    """The message for one event: its type, subject, lead line and recipients; None when there
    is nobody to tell."""
    actor = names.users.get(event.actor_id)
    who = actor.get_username() if actor is not None else "ITSM"
    headline = f"[{incident.reference}] {incident.title}"
    assignee = names.users.get(incident.assignee_id)
    team = [names.teams[incident.assignment_team_id]] if incident.assignment_team_id else []
    message = partial(_message, incident, names)
    if event.kind == EventKind.ASSIGNMENT:
        # The assignee if there is one, else everyone the team reaches.
        return message(
            ASSIGNED,
            f"Assigned to you: {headline}",
            f"{who} assigned {incident.reference} to you.",
            users=[assignee] if assignee else [],
            teams=[] if assignee else team,
        )
    if event.kind == EventKind.ESCALATION:
        lead = f"{who} escalated {incident.reference}: {event.body}"
        if _needs_management(event):
            return message(
                MANAGEMENT_ENGAGED,
                f"Management engaged: {headline}",
                lead,
                teams=names.management,
            )
        return message(ESCALATED, f"Escalated to your team: {headline}", lead, teams=team)
    if event.kind == EventKind.SLA:
        # Warnings and breaches go to whoever works the incident: the assignee and the team.
        clock, threshold = event.data.get("clock", "SLA"), event.data.get("threshold")
        breached = bool(event.data.get("breach"))
        return message(
            SLA_BREACHED if breached else SLA_WARNING,
            f"SLA BREACHED ({clock}): {headline}"
            if breached
            else f"SLA warning: {threshold}% of the {clock} target used: {headline}",
            f"Due at {event.data.get('due_at')}.",
            users=[assignee] if assignee else [],
            teams=team,
        )
    # EventKind.MAJOR_DECLARED
    commander = names.users.get(incident.commander_id)
    return message(
        MAJOR_DECLARED,
        f"MAJOR INCIDENT: {headline}",
        f"{who} declared a major incident; commander: "
        f"{event.data.get('commander')}.\n\n{event.body}",
        users=[commander] if commander else [],
        teams=names.management,
    )


def _message(
    incident: Incident,
    names: _Names,
    event_type: str,
    subject: str,
    lead: str,
    *,
    users: Sequence[Any] = (),
    teams: Sequence[Team] = (),
) -> NotificationDraft | None:
    if not users and not teams:
        return None  # an incident nobody works yet: spare rendering a message nobody gets
    service = names.services.get(incident.service_id) if incident.service_id else None
    body = (
        f"{lead}\n\n"
        f"Priority: {incident.get_priority_display()}  Status: {incident.get_status_display()}\n"
        f"Service: {service or '-'}\n\n{incident.description}\n"
    )
    return NotificationDraft(
        event_type=event_type,
        title=subject,
        body=body,
        link=f"/t/{names.tenant.slug}/incidents/{incident.reference}/",
        reference=incident.reference,
        users=users,
        teams=teams,
    )
