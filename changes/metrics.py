"""The change figures on the metrics API and dashboard: the change failure rate.

A change's outcome is recorded when it is closed (`change_close` stamps `closed_at` and the
outcome together); a cancelled change is closed too, but without an outcome, and is not
counted. So the changes counted in a period are those closed in it with an outcome. `actual_end`
is when the work ended, before the review; the outcome is only known at the close.

The database counts them per bucket and outcome, with whether each caused an incident (an
EXISTS on `ChangeIncident`), in one GROUP BY; the headline is the sum of the buckets. Only the
service filter applies: a change affects services through `ChangeService`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from functools import cached_property
from typing import Any

from django.db.models import Count, Exists, OuterRef, Q, QuerySet

from changes.choices import ChangeOutcome
from changes.models import Change, ChangeIncident, ChangeService
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
    share,
)
from itsm.tenancy.models import Tenant

CHANGES = "changes"

CHANGE_FAILURE_RATE = MetricDefinition(
    key="change_failure_rate",
    label="Change failure rate",
    unit="ratio",
    section=CHANGES,
    filters=frozenset({"service"}),
    definition=(
        "Of the changes closed with an outcome in the period (the outcome is recorded at the "
        "close; cancelled changes have none and are left out), the share that failed, were "
        "backed out, or caused an incident (an incident linked to the change as caused by "
        "it, whenever it was linked); a change counts once however many of these apply. Per "
        "day or week of the close, by outcome. With a service filter: the changes that "
        "affect at least one of those services."
    ),
)
DEFINITIONS = (CHANGE_FAILURE_RATE,)

FAILED_OUTCOMES = (ChangeOutcome.FAILED, ChangeOutcome.BACKED_OUT)
CAUSED_INCIDENT = Q(caused_incident=True)
# Per bucket: the counts of each outcome, a successful change that caused an incident apart,
# so the stack adds up to the changes counted and its upper three parts are the failures.
MEASURES = {
    "successful": Count("id", filter=Q(outcome=ChangeOutcome.SUCCESSFUL, caused_incident=False)),
    "successful_caused_incident": Count(
        "id", filter=Q(outcome=ChangeOutcome.SUCCESSFUL, caused_incident=True)
    ),
    "failed": Count("id", filter=Q(outcome=ChangeOutcome.FAILED)),
    "backed_out": Count("id", filter=Q(outcome=ChangeOutcome.BACKED_OUT)),
    "caused_incident": Count("id", filter=CAUSED_INCIDENT),
}
STACK = (
    Column("successful", "Successful", tone="good"),
    Column("successful_caused_incident", "Successful, caused an incident", tone="warn"),
    Column("failed", "Failed", tone="bad"),
    Column("backed_out", "Backed out"),
)

EXPORT_COLUMNS = (
    "number",
    "title",
    "change_type",
    "status",
    "outcome",
    "risk",
    "planned_start",
    "planned_end",
    "actual_start",
    "actual_end",
    "closed_at",
    "incidents_caused",
)
EXPORT_HEADER = (
    "reference",
    "title",
    "type",
    "status",
    "outcome",
    "risk",
    "planned_start",
    "planned_end",
    "actual_start",
    "actual_end",
    "closed_at",
    "incidents_caused",
)


def scoped_changes(tenant: Tenant, query: MetricQuery) -> QuerySet[Change]:
    """The tenant's changes the query's service filter keeps (each change once)."""
    changes = Change.objects.for_tenant(tenant)
    if query.services:
        links = ChangeService.objects.for_tenant(tenant).filter(
            change=OuterRef("pk"), service_id__in=query.service_ids
        )
        changes = changes.filter(Exists(links))
    return changes


class ChangeReport:
    """The change figures of one query for one tenant: the outcomes per bucket, read once."""

    def __init__(self, tenant: Tenant, query: MetricQuery) -> None:
        self.tenant = tenant
        self.query = query
        self.period = query.period
        self.changes = scoped_changes(tenant, query)

    def outcomes(self) -> QuerySet[Change]:
        """The changes closed with an outcome in the period."""
        return self.changes.exclude(outcome="").filter(
            closed_at__gte=self.period.start, closed_at__lt=self.period.end
        )

    @cached_property
    def buckets(self) -> dict[date, dict[str, int]]:
        """One query: the measures per bucket of the close (buckets without changes absent)."""
        caused = ChangeIncident.objects.for_tenant(self.tenant).filter(change=OuterRef("pk"))
        rows = (
            self.outcomes()
            .annotate(caused_incident=Exists(caused), bucket=self.period.bucket_of("closed_at"))
            .values("bucket")
            .annotate(**MEASURES)
            .order_by()
        )
        return {as_date(row["bucket"]): _measures(row) for row in rows}

    def figure(self, definition: MetricDefinition) -> Figure:
        totals = dict.fromkeys(MEASURES, 0)
        for row in self.buckets.values():
            for name in MEASURES:
                totals[name] += row[name]
        counted = sum(totals[column.key] for column in STACK)
        failures = counted - totals["successful"]
        return Figure(
            definition,
            share(failures, counted),
            counted,
            parts={
                "successful": totals["successful"] + totals["successful_caused_incident"],
                "failed": totals["failed"],
                "backed_out": totals["backed_out"],
                "caused_incident": totals["caused_incident"],
                "failures": failures,
            },
        )

    def summary(self) -> list[Figure]:
        return [self.figure(definition) for definition in DEFINITIONS]

    def details(self, keys: Sequence[str]) -> list[MetricDetail]:
        by_key = {definition.key: definition for definition in DEFINITIONS}
        return [self.detail(by_key[key]) for key in keys]

    def detail(self, definition: MetricDefinition) -> MetricDetail:
        """The changes per bucket, stacked by outcome."""
        bucket = bucket_column(self.period)
        empty = dict.fromkeys(MEASURES, 0)
        rows = []
        for start in self.period.buckets():
            found = self.buckets.get(start, empty)
            rows.append({"bucket": start, **{column.key: found[column.key] for column in STACK}})
        return MetricDetail(self.figure(definition), "stacked_bars", [bucket, *STACK], rows)

    def export(self, key: str) -> Export:
        if key != CHANGE_FAILURE_RATE.key:
            raise KeyError(key)
        rows = (
            self.outcomes()
            .annotate(incidents_caused=Count("caused_incidents"))
            .order_by("closed_at", "id")
        )
        filename = export_filename(self.tenant, key, self.period)
        return Export(
            filename, EXPORT_HEADER, numbered_rows(rows, Change.NUMBER_PREFIX, EXPORT_COLUMNS)
        )

    def freshness(self) -> Freshness:
        return Freshness(from_rollups=False, note="Computed from the changes now.")


def _measures(row: Mapping[str, Any]) -> dict[str, int]:
    return {name: row[name] for name in MEASURES}


class ChangeMetrics:
    """The change app's metrics provider, registered with the metrics engine."""

    name = "changes"
    definitions: Sequence[MetricDefinition] = DEFINITIONS

    def report(self, tenant: Tenant, query: MetricQuery) -> ChangeReport:
        return ChangeReport(tenant, query)
