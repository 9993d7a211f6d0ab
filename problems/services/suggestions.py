"""Trend analysis runs and the problem suggestions they make; a problem manager's decisions.

A run goes queued → running → succeeded or failed. It reads the tenant's incidents of the
window that no problem covers, clusters them (`problems.trends`), and writes what it found in one
transaction at the end, so a failed run leaves no half-written suggestion. Its progress is
committed as it goes, in transactions of its own, for a progress bar.

Writing is idempotent: a cluster that shares incidents with an open suggestion updates it (new
incidents are added; the score and evidence are the latest), so running twice over the same data
gives the same suggestions. A cluster whose incidents were all in a dismissed suggestion is not
suggested again; one with a new incident may be.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from incidents.models import Incident
from itsm.errors import ConflictError, InvalidInputError, NotFoundError
from itsm.tenancy import rls
from itsm.tenancy.models import Tenant
from itsm.tenancy.services import allocate_number
from problems import selectors, trends
from problems.choices import (
    TERMINAL_PROBLEM_STATUSES,
    SuggestionStatus,
    TrendRunStatus,
    TrendRunTrigger,
)
from problems.errors import ProblemErrorCode
from problems.models import (
    IncidentNeighbours,
    Problem,
    ProblemSuggestion,
    SuggestionIncident,
    TrendRun,
)
from problems.services.links import problem_link_incidents
from problems.services.recording import problem_create

logger = logging.getLogger(__name__)

ACTIVE_RUN_STATUSES = (TrendRunStatus.QUEUED, TrendRunStatus.RUNNING)
# A run that has not finished after this long is taken for dead (a worker killed mid-run) and no
# longer blocks a new one.
RUN_STALE_AFTER = timedelta(hours=1)


class SuggestionErrorCode:
    RUN_IN_PROGRESS = "run_in_progress"
    DECIDED = "suggestion_decided"


# --- Runs ----------------------------------------------------------------------------------------


@transaction.atomic
def trend_run_request(
    *, tenant: Tenant, actor: Any = None, trigger: str = TrendRunTrigger.MANUAL
) -> TrendRun:
    """Record a queued run; the caller sends the task after commit (`tasks.py`).

    Raises:
        ConflictError: a run of the tenant is queued or running (409, with its id).
    """
    active = (
        TrendRun.objects.for_tenant(tenant)
        .select_for_update()
        .filter(status__in=ACTIVE_RUN_STATUSES, created_at__gte=timezone.now() - RUN_STALE_AFTER)
        .first()
    )
    if active is not None:
        raise ConflictError(
            "An analysis is already queued or running.",
            code=SuggestionErrorCode.RUN_IN_PROGRESS,
            extra={"run": active.pk},
        )
    return TrendRun.objects.create(tenant=tenant, trigger=trigger, requested_by=actor)


def _progress(run: TrendRun, progress: int, stage: str, **fields: Any) -> None:
    """Commit the run's progress at once (its own transaction), for whoever watches it."""
    with rls.tenant_scope(run.tenant_id):
        TrendRun.objects.for_tenant(run.tenant_id).filter(pk=run.pk).update(
            progress=progress, stage=stage, **fields
        )


def trend_run_execute(
    *, tenant: Tenant, run_id: int, window: tuple[datetime, datetime] | None = None
) -> TrendRun:
    """Carry out a queued run: read, analyse, write. Not inside a transaction: each step commits
    on its own, and the suggestions in one transaction at the end. `window` replaces the
    tenant's (the last `window_days`) for an evaluation over a labelled set's own time span.

    A failure marks the run failed with the error, and writes no suggestion.
    """
    with rls.tenant_scope(tenant.pk):
        run = TrendRun.objects.for_tenant(tenant).get(pk=run_id)
        if run.status != TrendRunStatus.QUEUED:
            return run  # a repeated delivery of the task: done or being done
        settings = selectors.trend_settings(tenant=tenant)
        now = timezone.now()
        run.status, run.started_at = TrendRunStatus.RUNNING, now
        run.window_start, run.window_end = window or (
            now - timedelta(days=settings.window_days),
            now,
        )
        run.stage, run.progress = "Reading incidents", 5
        run.save()
    try:
        with rls.tenant_scope(tenant.pk):
            records = selectors.trend_records(
                tenant=tenant, since=run.window_start, until=run.window_end
            )
        _progress(run, 20, "Comparing incidents", incidents_considered=len(records))
        index = trends.fit(records)
        _progress(run, 60, "Grouping incidents")
        groups = trends.clusters(index, settings.min_incidents)
        _progress(run, 80, "Writing suggestions", clusters_found=len(groups))
        with rls.tenant_scope(tenant.pk):
            created, updated = _write_suggestions(tenant, run, index, groups)
            _write_neighbours(tenant, run, index)
            TrendRun.objects.for_tenant(tenant).filter(pk=run.pk).update(
                status=TrendRunStatus.SUCCEEDED,
                progress=100,
                stage="Done",
                suggestions_created=created,
                suggestions_updated=updated,
                finished_at=timezone.now(),
            )
    except Exception as error:  # recorded for the people watching, then re-raised for the log
        logger.exception("Trend run %s of tenant %s failed", run.pk, tenant.pk)
        with rls.tenant_scope(tenant.pk):
            TrendRun.objects.for_tenant(tenant).filter(pk=run.pk).update(
                status=TrendRunStatus.FAILED,
                error=f"{type(error).__name__}: {error}"[:2000],
                finished_at=timezone.now(),
            )
        raise
    with rls.tenant_scope(tenant.pk):
        return TrendRun.objects.for_tenant(tenant).get(pk=run.pk)


# --- Writing suggestions -------------------------------------------------------------------------


@dataclass(frozen=True)
class _Found:
    incident_ids: frozenset[int]
    score: float
    evidence: dict[str, Any]
    title: str


def _write_suggestions(
    tenant: Tenant, run: TrendRun, index: trends.Index, groups: list[list[int]]
) -> tuple[int, int]:
    hurt = selectors.trend_incident_hurt(
        tenant=tenant,
        incident_ids=[index.records[position].id for members in groups for position in members],
    )
    found = [_describe(index, members, hurt) for members in groups]
    # incident -> its open suggestion; each dismissed suggestion's incidents
    links = SuggestionIncident.objects.for_tenant(tenant).filter(
        suggestion__status__in=[SuggestionStatus.OPEN, SuggestionStatus.DISMISSED]
    )
    open_of: dict[int, int] = {}
    dismissed: dict[int, set[int]] = {}
    for suggestion_id, incident_id, status in links.values_list(
        "suggestion_id", "incident_id", "suggestion__status"
    ):
        if status == SuggestionStatus.OPEN:
            open_of[incident_id] = suggestion_id
        else:
            dismissed.setdefault(suggestion_id, set()).add(incident_id)
    created = updated = 0
    for item in found:
        if any(item.incident_ids <= ids for ids in dismissed.values()):
            continue  # the same incidents, dismissed together before
        existing = {open_of[i] for i in item.incident_ids if i in open_of}
        if existing:
            suggestion = ProblemSuggestion.objects.for_tenant(tenant).get(pk=min(existing))
            known = set(
                SuggestionIncident.objects.for_tenant(tenant)
                .filter(suggestion=suggestion)
                .values_list("incident_id", flat=True)
            )
            new = item.incident_ids - known - set(open_of)
            SuggestionIncident.objects.bulk_create(
                SuggestionIncident(tenant_id=tenant.pk, suggestion=suggestion, incident_id=i)
                for i in sorted(new)
            )
            suggestion.score, suggestion.evidence = item.score, item.evidence
            suggestion.incident_count = len(known | new)
            suggestion.last_run = run
            suggestion.version += 1
            suggestion.save()
            updated += 1
            continue
        suggestion = ProblemSuggestion.objects.create(
            tenant=tenant,
            number=allocate_number(tenant=tenant, key=ProblemSuggestion.NUMBER_PREFIX),
            title=item.title,
            score=item.score,
            evidence=item.evidence,
            incident_count=len(item.incident_ids),
            last_run=run,
        )
        SuggestionIncident.objects.bulk_create(
            SuggestionIncident(tenant_id=tenant.pk, suggestion=suggestion, incident_id=i)
            for i in sorted(item.incident_ids)
        )
        open_of.update(dict.fromkeys(item.incident_ids, suggestion.pk))
        created += 1
    return created, updated


NEIGHBOURS_KEPT = 10
NEIGHBOUR_BATCH = 5000


def _write_neighbours(tenant: Tenant, run: TrendRun, index: trends.Index) -> None:
    """Every analysed incident's nearest neighbours, replacing what an earlier run stored."""
    records = index.records
    # By the window, not by id: a list of 100,000 ids is more than a statement may carry.
    IncidentNeighbours.objects.for_tenant(tenant).filter(
        incident__created_at__gte=run.window_start, incident__created_at__lte=run.window_end
    ).delete()
    lists = [
        [[records[other].id, round(score, 4)] for other, score in found]
        for found in trends.similar(index, NEIGHBOURS_KEPT)
    ]
    if connection.vendor == "postgresql":
        # One statement for every row: 100,000 rows took 14 s through bulk_create's batches.
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO problems_incidentneighbours "
                "(tenant_id, created_at, updated_at, incident_id, neighbours, run_id) "
                "SELECT %s, now(), now(), t.incident, t.neighbours::jsonb, %s "
                "FROM unnest(%s::bigint[], %s::text[]) AS t(incident, neighbours)",
                [
                    tenant.pk,
                    run.pk,
                    [record.id for record in records],
                    [json.dumps(found) for found in lists],
                ],
            )
        return
    IncidentNeighbours.objects.bulk_create(
        (
            IncidentNeighbours(
                tenant_id=tenant.pk, incident_id=record.id, run=run, neighbours=found
            )
            for record, found in zip(records, lists, strict=True)
        ),
        batch_size=NEIGHBOUR_BATCH,
    )


def _describe(
    index: trends.Index, members: Sequence[int], hurt: dict[int, selectors.IncidentHurt]
) -> _Found:
    """The evidence of a group: shared terms, services, categories, time span, and how much it
    hurt (SEV1/SEV2, SLA breaches, reassignments)."""
    records = [index.records[position] for position in members]
    ids = [record.id for record in records]
    created = sorted(record.created for record in records)
    terms = trends.shared_terms(records)
    evidence = {
        "terms": terms,
        "services": _counts(record.service_id for record in records),
        "categories": _counts(record.category_id for record in records),
        "first_at": created[0].isoformat(),
        "last_at": created[-1].isoformat(),
        "span_hours": round((created[-1] - created[0]).total_seconds() / 3600, 1),
        "sev1": sum(hurt[i].priority == 1 for i in ids),
        "sev2": sum(hurt[i].priority == 2 for i in ids),
        "sla_breaches": sum(hurt[i].breaches for i in ids),
        "reassignments": sum(hurt[i].reassignments for i in ids),
    }
    # The title that carries most of what they share stands for the group.
    central = max(records, key=lambda record: sum(term in record.title.lower() for term in terms))
    score = round(trends.cohesion(index, members), 4)
    return _Found(frozenset(ids), score, evidence, central.title[:200])


def _counts(values: Iterable[int | None]) -> list[dict[str, int]]:
    """How many of the group have each value (service or category id), commonest first."""
    return [
        {"value": value, "count": count}
        for value, count in Counter(v for v in values if v is not None).most_common()
    ]


# --- Decisions -----------------------------------------------------------------------------------


def _locked(tenant: Tenant, suggestion_id: int, expected_version: int | None) -> ProblemSuggestion:
    suggestion = (
        ProblemSuggestion.objects.for_tenant(tenant)
        .select_for_update()
        .filter(pk=suggestion_id)
        .first()
    )
    if suggestion is None:
        raise NotFoundError("No such suggestion.")
    if expected_version is not None and suggestion.version != expected_version:
        raise ConflictError(
            f"{suggestion.reference} has changed since you read it; reload and try again.",
            code=ProblemErrorCode.STALE_VERSION,
        )
    if suggestion.status != SuggestionStatus.OPEN:
        raise ConflictError(
            f"{suggestion.reference} is {suggestion.get_status_display().lower()} already.",
            code=SuggestionErrorCode.DECIDED,
            extra={"allowed_actions": []},
        )
    return suggestion


def _unlinked_references(tenant: Tenant, suggestion: ProblemSuggestion) -> list[str]:
    """The suggestion's incidents that no problem covers yet (others may have been linked
    since the run), by reference."""
    incidents = Incident.objects.for_tenant(tenant).filter(
        suggestion_links__suggestion=suggestion, problem_link__isnull=True
    )
    return [incident.reference for incident in incidents.order_by("number")]


def _decide(suggestion: ProblemSuggestion, actor: Any, status: str, **fields: Any) -> None:
    suggestion.status = status
    suggestion.decided_by, suggestion.decided_at = actor, timezone.now()
    for name, value in fields.items():
        setattr(suggestion, name, value)
    suggestion.version += 1
    suggestion.save()


@transaction.atomic
def suggestion_accept(
    *,
    tenant: Tenant,
    suggestion_id: int,
    actor: Any,
    data: dict[str, Any] | None = None,
    expected_version: int | None = None,
) -> Problem:
    """A new problem with the suggestion's incidents linked, in one transaction. `data` may
    name the problem's title and other fields (`problem_create`'s); the title defaults to the
    suggestion's, the manager to the actor.

    Raises:
        ConflictError: decided already, stale version, or no incident left unlinked (409).
    """
    suggestion = _locked(tenant, suggestion_id, expected_version)
    references = _unlinked_references(tenant, suggestion)
    if not references:
        raise ConflictError(
            "Every incident of the suggestion is linked to a problem already.",
            code=SuggestionErrorCode.DECIDED,
        )
    fields = {"title": suggestion.title, "problem_manager": actor, **(data or {})}
    fields.setdefault("description", _summary(suggestion))
    problem = problem_create(tenant=tenant, actor=actor, data=fields)
    problem_link_incidents(tenant=tenant, problem_id=problem.pk, actor=actor, incidents=references)
    _decide(suggestion, actor, SuggestionStatus.ACCEPTED, problem=problem)
    return problem


@transaction.atomic
def suggestion_merge(
    *,
    tenant: Tenant,
    suggestion_id: int,
    actor: Any,
    problem_id: int,
    expected_version: int | None = None,
) -> Problem:
    """Link the suggestion's incidents to an existing open problem.

    Raises:
        NotFoundError: no such problem (404).
        ConflictError: decided already, stale version, or the problem is closed (409).
    """
    suggestion = _locked(tenant, suggestion_id, expected_version)
    problem = Problem.objects.for_tenant(tenant).filter(pk=problem_id).first()
    if problem is None:
        raise NotFoundError("No such problem.")
    if problem.status in TERMINAL_PROBLEM_STATUSES:
        raise ConflictError(
            f"{problem.reference} is {problem.get_status_display().lower()}.",
            code=ProblemErrorCode.NOT_EDITABLE,
        )
    references = _unlinked_references(tenant, suggestion)
    if references:
        problem_link_incidents(
            tenant=tenant, problem_id=problem.pk, actor=actor, incidents=references
        )
    _decide(suggestion, actor, SuggestionStatus.MERGED, problem=problem)
    return problem


@transaction.atomic
def suggestion_dismiss(
    *,
    tenant: Tenant,
    suggestion_id: int,
    actor: Any,
    reason: str,
    expected_version: int | None = None,
) -> ProblemSuggestion:
    """Dismiss with a reason: the same incidents are not suggested together again.

    Raises:
        InvalidInputError: no reason (400).
        ConflictError: decided already or stale version (409).
    """
    if not reason.strip():
        raise InvalidInputError("Say why it is dismissed.", fields={"reason": ["Required."]})
    suggestion = _locked(tenant, suggestion_id, expected_version)
    _decide(suggestion, actor, SuggestionStatus.DISMISSED, reason=reason.strip())
    return suggestion


def _summary(suggestion: ProblemSuggestion) -> str:
    evidence = suggestion.evidence
    terms = ", ".join(evidence.get("terms", [])) or "—"
    return (
        f"Suggested by trend analysis ({suggestion.reference}): {suggestion.incident_count} "
        f"similar incidents between {evidence.get('first_at', '?')[:16]} and "
        f"{evidence.get('last_at', '?')[:16]}, sharing: {terms}."
    )
