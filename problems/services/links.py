"""Incidents linked to a problem: link and unlink in bulk, hold them for the problem, tell them
when it is resolved, resolve them with it.

Linking and unlinking cost a fixed number of queries whatever the number of incidents: the
incidents in one query, their existing links in one, one bulk insert (or delete) of links, one
problem event, one bulk insert of incident events, one save of the problem.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import IntegrityError, transaction

from incidents import services as incident_services
from incidents import timeline as incident_timeline
from incidents.choices import OPEN_STATUSES, EventKind, HoldReason, IncidentStatus
from incidents.models import Incident, IncidentEvent
from itsm.errors import ConflictError, DomainError
from itsm.tenancy.models import Tenant, parse_reference
from problems import timeline
from problems.choices import ProblemEventKind, ProblemStatus, allowed_problem_actions
from problems.errors import (
    InvalidProblemTransitionError,
    ProblemErrorCode,
    ProblemRequirementError,
)
from problems.models import Problem, ProblemIncident
from problems.notifications import notify_problem_resolved
from problems.services.base import check_not_terminal, locked, save

MAX_LINKS_PER_REQUEST = 1000


@dataclass
class LinkResult:
    """What a link or unlink request did, by incident reference."""

    changed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)  # already as asked
    held: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class RowResult:
    """One incident of a bulk action: done, or refused with the reason."""

    incident: str
    result: str  # "resolved" | "refused"
    code: str = ""
    message: str = ""


@transaction.atomic
def problem_link_incidents(
    *,
    tenant: Tenant,
    problem_id: int,
    actor: Any,
    incidents: Sequence[str],
    hold: bool = False,
    expected_version: int | None = None,
) -> LinkResult:
    """Link incidents (by reference) to the problem, all or none.

    Already linked to this problem: left as is. `hold`: those in progress go on hold
    "awaiting problem", each through the incident services.

    Raises:
        ProblemRequirementError: a reference names no incident of the tenant (400, per incident).
        ConflictError: an incident is linked to another problem (409, per incident).
    """
    problem = locked(tenant, problem_id, expected_version)
    check_not_terminal(problem, "link incidents to")
    found = _incidents(tenant, incidents)
    links = dict(
        ProblemIncident.objects.for_tenant(tenant)
        .filter(incident_id__in=[incident.pk for incident in found])
        .values_list("incident_id", "problem__number")
    )
    elsewhere = {
        incident.reference: Problem(number=links[incident.pk]).reference
        for incident in found
        if incident.pk in links and links[incident.pk] != problem.number
    }
    if elsewhere:
        raise ConflictError(
            "An incident has at most one problem; unlink it from its problem first.",
            code=ProblemErrorCode.ALREADY_LINKED,
            fields={
                "incidents": [f"{ref} is linked to {other}." for ref, other in elsewhere.items()]
            },
            extra={"linked_elsewhere": elsewhere},
        )
    new = [incident for incident in found if incident.pk not in links]
    result = LinkResult(
        changed=[incident.reference for incident in new],
        unchanged=[incident.reference for incident in found if incident.pk in links],
    )
    if new:
        try:
            with transaction.atomic():
                ProblemIncident.objects.bulk_create(
                    ProblemIncident(
                        tenant_id=tenant.pk, problem=problem, incident=incident, linked_by=actor
                    )
                    for incident in new
                )
        except IntegrityError as error:  # a concurrent request linked one of them meanwhile
            raise ConflictError(
                "An incident was linked to a problem meanwhile; reload and try again.",
                code=ProblemErrorCode.ALREADY_LINKED,
            ) from error
        _record(problem, new, actor, linked=True)
    if hold:
        result.held = _hold(tenant, problem, found, actor)
    return result


@transaction.atomic
def problem_unlink_incidents(
    *,
    tenant: Tenant,
    problem_id: int,
    actor: Any,
    incidents: Sequence[str],
    expected_version: int | None = None,
) -> LinkResult:
    """Unlink incidents (by reference) from the problem, all or none.

    Raises:
        ProblemRequirementError: a reference names no incident of the tenant, or one that is not
            linked to this problem (400, per incident).
    """
    problem = locked(tenant, problem_id, expected_version)
    found = _incidents(tenant, incidents)
    links = ProblemIncident.objects.for_tenant(tenant).filter(
        problem=problem, incident_id__in=[incident.pk for incident in found]
    )
    linked = set(links.values_list("incident_id", flat=True))
    stray = [incident.reference for incident in found if incident.pk not in linked]
    if stray:
        raise ProblemRequirementError(
            f"Not linked to {problem.reference}: {', '.join(stray)}.",
            fields={"incidents": [f"{ref} is not linked to {problem.reference}." for ref in stray]},
        )
    links.delete()
    _record(problem, found, actor, linked=False)
    return LinkResult(changed=[incident.reference for incident in found])


def tell_linked_incidents_resolved(problem: Problem, actor: Any) -> None:
    """The problem is resolved: its open linked incidents held "awaiting problem" resume (each
    through the incident services), every open one gets a timeline entry and its assignee a
    notification."""
    incidents = list(
        _linked(problem)
        .filter(status__in=OPEN_STATUSES)
        .select_related("assignee")
        .order_by("number")
    )
    for incident in incidents:
        if (
            incident.status == IncidentStatus.ON_HOLD
            and incident.hold_reason == HoldReason.AWAITING_PROBLEM
        ):
            incident_services.incident_resume(
                tenant=problem.tenant,
                incident_id=incident.pk,
                actor=actor,
                note=f"{problem.reference} is resolved.",
            )
    incident_timeline.record_many(
        [
            IncidentEvent(
                tenant_id=problem.tenant_id,
                incident=incident,
                kind=EventKind.LINK,
                actor=actor,
                body=f"Problem {problem.reference} is resolved: {problem.fix_notes}",
                data={"problem": problem.reference, "problem_status": str(problem.status)},
            )
            for incident in incidents
        ]
    )
    notify_problem_resolved(problem, incidents, actor)


def problem_resolve_linked_incidents(
    *,
    tenant: Tenant,
    problem_id: int,
    actor: Any,
    resolution_code: str,
    resolution_notes: str = "",
) -> list[RowResult]:
    """Resolve the problem's open linked incidents with its fix, each through
    `incident_resolve` in its own savepoint: one refused (not in progress, not the actor's to
    resolve) leaves the others resolved and says why.

    Raises:
        InvalidProblemTransitionError: the problem is not resolved (or closed).
    """
    with transaction.atomic():
        problem = locked(tenant, problem_id)
        if problem.status not in (ProblemStatus.RESOLVED, ProblemStatus.CLOSED):
            raise InvalidProblemTransitionError(
                f"Resolve {problem.reference} before resolving its incidents.",
                code=ProblemErrorCode.NOT_RESOLVED,
                extra={
                    "allowed_actions": [str(a) for a in allowed_problem_actions(problem.status)]
                },
            )
        notes = resolution_notes.strip() or f"Resolved by problem {problem.reference}: "
        if not resolution_notes.strip():
            notes += problem.fix_notes
        incidents = list(
            _linked(problem).filter(status__in=OPEN_STATUSES).order_by("number").only("number")
        )
        rows: list[RowResult] = []
        for incident in incidents:
            try:
                with transaction.atomic():  # one incident's refusal undoes only its own writes
                    incident_services.incident_resolve(
                        tenant=tenant,
                        incident_id=incident.pk,
                        actor=actor,
                        resolution_code=resolution_code,
                        resolution_notes=notes,
                    )
            except DomainError as error:
                rows.append(RowResult(incident.reference, "refused", error.code, error.message))
            else:
                rows.append(RowResult(incident.reference, "resolved"))
        timeline.record(
            problem,
            ProblemEventKind.INCIDENTS_RESOLVED,
            actor,
            data={
                "resolved": [row.incident for row in rows if row.result == "resolved"],
                "refused": [row.incident for row in rows if row.result == "refused"],
            },
        )
        return rows


def _linked(problem: Problem) -> Any:
    return Incident.objects.for_tenant(problem.tenant_id).filter(problem_link__problem=problem)


def _incidents(tenant: Tenant, references: Sequence[str]) -> list[Incident]:
    """The tenant's incidents named by `references`, in the order given, each once.

    Raises:
        ProblemRequirementError: some name no incident of the tenant (another tenant's reads
            exactly like a missing one).
    """
    if not references:
        raise ProblemRequirementError(
            "Name at least one incident.", fields={"incidents": ["Name at least one incident."]}
        )
    if len(references) > MAX_LINKS_PER_REQUEST:
        raise ProblemRequirementError(
            f"At most {MAX_LINKS_PER_REQUEST} incidents per request.",
            fields={"incidents": [f"At most {MAX_LINKS_PER_REQUEST} incidents per request."]},
        )
    numbers: dict[int, str] = {}
    bad: list[str] = []
    for reference in references:
        number = parse_reference(Incident.NUMBER_PREFIX, str(reference))
        if number is None or number > 2**62:
            bad.append(str(reference))
        else:
            numbers.setdefault(number, str(reference))
    by_number = {
        incident.number: incident
        for incident in Incident.objects.for_tenant(tenant).filter(number__in=list(numbers))
    }
    bad += [reference for number, reference in numbers.items() if number not in by_number]
    if bad:
        raise ProblemRequirementError(
            f"No such incident: {', '.join(bad)}.",
            fields={"incidents": [f"{reference}: no such incident." for reference in bad]},
        )
    return [by_number[number] for number in numbers]


def _record(problem: Problem, incidents: Sequence[Incident], actor: Any, *, linked: bool) -> None:
    """One problem event for the batch, one event per incident (one statement), a new version."""
    references = [incident.reference for incident in incidents]
    verb = "Linked to" if linked else "Unlinked from"
    timeline.record(
        problem,
        ProblemEventKind.INCIDENTS_LINKED if linked else ProblemEventKind.INCIDENTS_UNLINKED,
        actor,
        data={"incidents": references},
    )
    incident_timeline.record_many(
        [
            IncidentEvent(
                tenant_id=problem.tenant_id,
                incident=incident,
                kind=EventKind.LINK,
                actor=actor,
                body=f"{verb} problem {problem.reference}: {problem.title}",
                data={"problem": problem.reference, "linked": linked},
            )
            for incident in incidents
        ]
    )
    save(problem, [])


def _hold(tenant: Tenant, problem: Problem, incidents: Sequence[Incident], actor: Any) -> list[str]:
    """Put the incidents in progress on hold "awaiting problem"; the others stay as they are."""
    held = []
    for incident in incidents:
        if incident.status == IncidentStatus.IN_PROGRESS:
            incident_services.incident_hold(
                tenant=tenant,
                incident_id=incident.pk,
                actor=actor,
                hold_reason=HoldReason.AWAITING_PROBLEM,
                note=f"Awaiting problem {problem.reference}.",
            )
            held.append(incident.reference)
    return held
