"""The problem figures on the metrics API and dashboard: problems opened and resolved.

Each figure counts the problems whose own event falls in the period (days in the tenant's
time zone): created in it, or resolved in it. The database counts them per bucket (one GROUP BY
per event); the headline is the sum of the buckets, so a report runs two queries whatever the
number of problems. Only the service filter applies: a problem affects services through
`ProblemService`; team, priority and category belong to incidents' figures.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from functools import cached_property

from django.db.models import Count, Exists, OuterRef, QuerySet

from itsm.metrics.export import export_filename, numbered_rows
from itsm.metrics.query import MetricQuery, as_date
from itsm.metrics.registry import (
    Column,
    Export,
    Figure,
    Freshness,
    MetricDefinition,
    MetricDetail,
    bucket_column,
)
from itsm.tenancy.models import Tenant
from problems.models import Problem, ProblemService

PROBLEMS = "problems"
SERVICE_ONLY = frozenset({"service"})

PROBLEMS_OPENED = MetricDefinition(
    key="problems_opened",
    label="Problems opened",
    unit="count",
    section=PROBLEMS,
    filters=SERVICE_ONLY,
    definition=(
        "Problems created in the period, per day or week, whatever their status now; "
        "cancelled problems count. With a service filter: the problems that affect at least "
        "one of those services (each problem once)."
    ),
)
PROBLEMS_RESOLVED = MetricDefinition(
    key="problems_resolved",
    label="Problems resolved",
    unit="count",
    section=PROBLEMS,
    filters=SERVICE_ONLY,
    definition=(
        "Problems whose resolution time falls in the period, per day or week: resolved (root "
        "cause removed) in it and not reopened since. A reopened problem loses its resolution "
        "and counts again on the day it is resolved again; a closed problem counts on the day "
        "it was resolved; a cancelled problem is never resolved. With a service filter: the "
        "problems that affect at least one of those services."
    ),
)
DEFINITIONS = (PROBLEMS_OPENED, PROBLEMS_RESOLVED)
# The metric key -> the event time it counts.
EVENTS = {PROBLEMS_OPENED.key: "created_at", PROBLEMS_RESOLVED.key: "resolved_at"}
COLUMNS = {PROBLEMS_OPENED.key: "opened", PROBLEMS_RESOLVED.key: "resolved"}

EXPORT_COLUMNS = (
    "number",
    "title",
    "status",
    "priority",
    "category__name",
    "assignment_team__name",
    "created_at",
    "root_cause_identified_at",
    "resolved_at",
    "closed_at",
)
EXPORT_HEADER = (
    "reference",
    "title",
    "status",
    "priority",
    "category",
    "team",
    "created_at",
    "root_cause_identified_at",
    "resolved_at",
    "closed_at",
)


def scoped_problems(tenant: Tenant, query: MetricQuery) -> QuerySet[Problem]:
    """The tenant's problems the query's service filter keeps (an EXISTS, so a problem on
    two of the services is still one row)."""
    problems = Problem.objects.for_tenant(tenant)
    if query.services:
        links = ProblemService.objects.for_tenant(tenant).filter(
            problem=OuterRef("pk"), service_id__in=query.service_ids
        )
        problems = problems.filter(Exists(links))
    return problems


class ProblemReport:
    """The problem figures of one query for one tenant; each event's counts are read once."""

    def __init__(self, tenant: Tenant, query: MetricQuery) -> None:
        self.tenant = tenant
        self.query = query
        self.period = query.period
        self.problems = scoped_problems(tenant, query)

    def in_period(self, event: str) -> QuerySet[Problem]:
        return self.problems.filter(
            **{f"{event}__gte": self.period.start, f"{event}__lt": self.period.end}
        )

    def _counts(self, event: str) -> dict[date, int]:
        """One query: the problems whose `event` falls in the period, per bucket."""
        rows = (
            self.in_period(event)
            .annotate(bucket=self.period.bucket_of(event))
            .values("bucket")
            .annotate(count=Count("id"))
            .order_by()
        )
        return {as_date(row["bucket"]): row["count"] for row in rows}

    @cached_property
    def counts(self) -> dict[str, dict[date, int]]:
        """Per metric key, the count per bucket (buckets without problems absent)."""
        return {key: self._counts(event) for key, event in EVENTS.items()}

    def figure(self, definition: MetricDefinition) -> Figure:
        total = sum(self.counts[definition.key].values())
        return Figure(definition, total, total)

    def summary(self) -> list[Figure]:
        return [self.figure(definition) for definition in DEFINITIONS]

    def details(self, keys: Sequence[str]) -> list[MetricDetail]:
        by_key = {definition.key: definition for definition in DEFINITIONS}
        return [self.detail(by_key[key]) for key in keys]

    def detail(self, definition: MetricDefinition) -> MetricDetail:
        """Either figure's table is the same: opened and resolved side by side per bucket."""
        columns = [
            bucket_column(self.period),
            Column("opened", "Opened"),
            Column("resolved", "Resolved"),
        ]
        rows = [
            {
                "bucket": start,
                **{name: self.counts[key].get(start, 0) for key, name in COLUMNS.items()},
            }
            for start in self.period.buckets()
        ]
        return MetricDetail(self.figure(definition), "grouped_bars", columns, rows)

    def export(self, key: str) -> Export:
        event = EVENTS[key]  # KeyError for another app's metric, as the other providers
        rows = self.in_period(event).order_by(event, "id")
        filename = export_filename(self.tenant, key, self.period)
        return Export(
            filename, EXPORT_HEADER, numbered_rows(rows, Problem.NUMBER_PREFIX, EXPORT_COLUMNS)
        )

    def freshness(self) -> Freshness:
        return Freshness(from_rollups=False, note="Computed from the problems now.")


class ProblemMetrics:
    """The problem app's metrics provider, registered with the metrics engine."""

    name = "problems"
    definitions: Sequence[MetricDefinition] = DEFINITIONS

    def report(self, tenant: Tenant, query: MetricQuery) -> ProblemReport:
        return ProblemReport(tenant, query)
