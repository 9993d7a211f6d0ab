"""Who hears about an incident event, and what the e-mail says."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model

from incidents.choices import EscalationKind, EventKind
from incidents.models import IncidentEvent
from itsm.tenancy.choices import TeamKind
from itsm.tenancy.models import Team


@dataclass(frozen=True)
class Message:
    subject: str
    body: str
    recipients: list[str]


def message_for(event: IncidentEvent) -> Message | None:
    """The e-mail for an assignment, escalation, SLA or major-incident event; None if nobody
    to tell."""
    incident = event.incident
    actor = event.actor.get_username() if event.actor else "ITSM"
    headline = f"[{incident.reference}] {incident.title}"
    if event.kind == EventKind.ASSIGNMENT:
        recipients = _people(users=[incident.assignee]) or _team_addresses(
            [incident.assignment_team]
        )
        return _message(
            f"Assigned to you: {headline}",
            f"{actor} assigned {incident.reference} to you.",
            recipients,
            event,
        )
    if event.kind == EventKind.ESCALATION:
        if event.data.get("kind") == EscalationKind.HIERARCHICAL:
            recipients = _team_addresses(_management(incident.tenant_id))
            subject = f"Management engaged: {headline}"
        else:
            recipients = _team_addresses([incident.assignment_team])
            subject = f"Escalated to your team: {headline}"
        return _message(
            subject, f"{actor} escalated {incident.reference}: {event.body}", recipients, event
        )
    if event.kind == EventKind.SLA:
        # Warnings and breaches go to whoever works the incident: the assignee and the team.
        recipients = sorted(
            set(_people(users=[incident.assignee]))
            | set(_team_addresses([incident.assignment_team]))
        )
        clock, threshold = event.data.get("clock", "SLA"), event.data.get("threshold")
        subject = (
            f"SLA BREACHED ({clock}): {headline}"
            if event.data.get("breach")
            else f"SLA warning: {threshold}% of the {clock} target used: {headline}"
        )
        return _message(subject, f"Due at {event.data.get('due_at')}.", recipients, event)
    if event.kind == EventKind.MAJOR_DECLARED:
        recipients = sorted(
            set(_people(users=[incident.commander]))
            | set(_team_addresses(_management(incident.tenant_id)))
        )
        return _message(
            f"MAJOR INCIDENT: {headline}",
            f"{actor} declared a major incident; commander: "
            f"{event.data.get('commander')}.\n\n{event.body}",
            recipients,
            event,
        )
    return None


def _message(
    subject: str, lead: str, recipients: list[str], event: IncidentEvent
) -> Message | None:
    if not recipients:
        return None
    incident = event.incident
    body = (
        f"{lead}\n\n"
        f"Priority: {incident.get_priority_display()}  Status: {incident.get_status_display()}\n"
        f"Service: {incident.service or '-'}\n\n{incident.description}\n"
    )
    return Message(subject=subject, body=body, recipients=recipients)


def _management(tenant_id: int) -> list[Team]:
    return list(Team.objects.for_tenant(tenant_id).filter(kind=TeamKind.MANAGEMENT))


def _people(*, users: Sequence[Any]) -> list[str]:
    return sorted({user.email for user in users if user is not None and user.email})


def _team_addresses(teams: Sequence[Team | None]) -> list[str]:
    """A team's own address if it has one, else its members' addresses."""
    addresses: set[str] = set()
    for team in teams:
        if team is None:
            continue
        if team.email:
            addresses.add(team.email)
        else:
            addresses.update(
                get_user_model()
                .objects.filter(teams=team)
                .exclude(email="")
                .values_list("email", flat=True)
            )
    return sorted(addresses)
