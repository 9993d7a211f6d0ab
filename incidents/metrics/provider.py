"""The incident metrics for a report: figures, their tables, their rows for export.

`IncidentReport` reads what one query needs, each part once: the daily rows (from the rollup
for whole past days it may read, from the incidents for the rest), the percentiles, the SLA
outcomes, the failures per service and the backlog. Figures and tables are folded from those;
the fold runs over per-day aggregates (a few per day), never over incidents.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from datetime import date, datetime, timedelta
from functools import cached_property
from typing import Any

from django.db.models import Case, DurationField, QuerySet, Value, When
from django.db.models.functions import Coalesce
from django.utils import timezone

from incidents.choices import Priority, SlaClockKind
from incidents.metrics import definitions as d
from incidents.metrics.facts import (
    ACKNOWLEDGED,
    CLOSED,
    COHORTS,
    CREATED,
    MEASURES,
    RESOLVED,
    Cohort,
    backlog_bands,
    backlog_totals,
    cohort_days,
    cohort_incidents,
    cohort_percentiles,
    cohort_trend,
    major_starts,
    mean_gap,
    mtbf_by_service,
    open_incidents,
    scoped_incidents,
    sla_clocks,
    sla_totals,
)
from incidents.metrics.rollups import rollup_rows, sla_rollup_rows, usable_rollup
from incidents.models import Incident, SlaPolicy
from itsm.metrics.export import export_filename, numbered_rows
from itsm.metrics.query import MetricQuery, Period, as_date
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

SEVERITIES = [(f"sev{level.value}", str(level.label)) for level in Priority]
# The cohort whose duration each duration metric measures.
DURATION_COHORTS: dict[str, Cohort] = {
    d.MTTD.key: CREATED,
    d.MTTA.key: ACKNOWLEDGED,
    d.MTTR.key: RESOLVED,
    d.TIME_TO_CLOSE.key: CLOSED,
}
# The ratio metrics over resolved incidents: key -> the measure counted.
RESOLVED_SHARES = {
    d.ESCALATION_RATE.key: "escalated_count",
    d.FIRST_CONTACT_RATE.key: "first_contact_count",
    d.FIRST_ASSIGNMENT_RATE.key: "first_assignment_count",
    d.REOPEN_RATE.key: "reopened_count",
}


DEFINITIONS_BY_KEY = {definition.key: definition for definition in d.DEFINITIONS}


def mean(total: float, count: float) -> float | None:
    return total / count if count else None


class IncidentReport:
    """The incident figures of one query for one tenant; each part is read once, when first
    needed. `use_rollups=False` computes everything from the incidents (the benchmark's
    "without rollups", and the check that both ways agree)."""

    def __init__(
        self, tenant: Tenant, query: MetricQuery, *, use_rollups: bool = True, now: Any = None
    ) -> None:
        self.tenant = tenant
        self.query = query
        self.period: Period = query.period
        self.now: datetime = now or timezone.now()
        self.incidents = scoped_incidents(tenant, query)
        self.state = usable_rollup(tenant, query) if use_rollups else None

    # --- what is read -----------------------------------------------------------------------

    @cached_property
    def rollup_last(self) -> date | None:
        """The last day read from the rollup; None when the rollup is not read."""
        if self.state is None or self.state.complete_through is None:
            return None
        return min(self.period.last, self.state.complete_through)

    @cached_property
    def live_start(self) -> datetime:
        """Where computing from the incidents begins: after the rollup's days."""
        if self.rollup_last is None:
            return self.period.start
        return Period(
            self.rollup_last + timedelta(days=1), self.period.last, self.period.zone
        ).start

    @cached_property
    def days(self) -> list[dict[str, Any]]:
        """Rows of (day, priority, every measure): the rollup's, then the live days'."""
        rows: list[dict[str, Any]] = []
        if self.rollup_last is not None:
            rows.extend(rollup_rows(self.tenant, self.query, self.period.first, self.rollup_last))
        if self.live_start < self.period.end:
            merged: dict[tuple[date, int], dict[str, Any]] = {}
            for cohort in COHORTS:
                found = cohort_days(
                    self.incidents, cohort, self.live_start, self.period.end, self.period.zone
                )
                for row in found:
                    key = (row["day"], row["priority"])
                    merged.setdefault(key, dict.fromkeys(MEASURES, 0)).update(row)
            rows.extend(merged.values())
        return rows

    @cached_property
    def totals(self) -> dict[str, float]:
        totals = dict.fromkeys(MEASURES, 0.0)
        for row in self.days:
            for name in MEASURES:
                totals[name] += row[name] or 0
        return totals

    @cached_property
    def percentiles(self) -> dict[str, dict[str, float | None]]:
        """Median and 90th percentile per duration cohort: always from the incidents."""
        return {
            cohort.name: cohort_percentiles(
                self.incidents, cohort, self.period.start, self.period.end
            )
            for cohort in COHORTS
        }

    @cached_property
    def sla(self) -> list[dict[str, Any]]:
        """Met and breached clocks per (policy, priority, kind) over the period."""
        merged: dict[tuple[int, int, str], dict[str, Any]] = {}
        parts: list[Any] = []
        if self.rollup_last is not None:
            parts.append(
                sla_rollup_rows(self.tenant, self.query, self.period.first, self.rollup_last)
            )
        if self.live_start < self.period.end:
            parts.append(sla_totals(self.tenant, self.query, self.live_start, self.period.end))
        for rows in parts:
            for row in rows:
                key = (row["policy_id"], row["priority"], row["kind"])
                entry = merged.setdefault(
                    key, {"policy_id": key[0], "priority": key[1], "kind": key[2]}
                )
                entry["met_count"] = entry.get("met_count", 0) + row["met_count"]
                entry["breached_count"] = entry.get("breached_count", 0) + row["breached_count"]
        return list(merged.values())

    @cached_property
    def majors(self) -> list[dict[str, Any]]:
        return mtbf_by_service(self.incidents, self.period.start, self.period.end)

    @cached_property
    def backlog(self) -> dict[str, Any]:
        return backlog_totals(self.incidents, self.now)

    @cached_property
    def backlog_bands(self) -> list[dict[str, Any]]:
        return backlog_bands(self.incidents, self.now)

    def freshness(self) -> Freshness:
        if self.state is None:
            return Freshness(from_rollups=False, note="Computed from the incidents now.")
        assert self.state.refreshed_at is not None
        live_from = self.rollup_last + timedelta(days=1) if self.rollup_last else None
        return Freshness(
            from_rollups=True,
            as_of=self.state.refreshed_at.isoformat(),
            live_from=live_from.isoformat()
            if live_from and live_from <= self.period.last
            else None,
            note=(
                "Counts, means and rates of whole past days from the daily rollups; later days, "
                "medians and percentiles from the incidents now."
            ),
        )

    # --- figures ----------------------------------------------------------------------------

    def figure(self, definition: MetricDefinition) -> Figure:
        key, t = definition.key, self.totals
        if key == d.VOLUME.key:
            by_priority = self._by_priority("created_count")
            return Figure(
                definition,
                t["created_count"],
                int(t["created_count"]),
                parts={name: by_priority.get(level, 0) for level, (name, _) in self._levels()},
            )
        if key in DURATION_COHORTS:
            cohort = DURATION_COHORTS[key]
            count, seconds = _duration_measures(cohort)
            found = self.percentiles[cohort.name]
            return Figure(
                definition,
                mean(t[seconds], t[count]),
                int(t[count]),
                median=found["median"],
                p90=found["p90"],
            )
        if key == d.MTBF.key:
            starts = sum(row["starts"] for row in self.majors)
            first = min((row["first"] for row in self.majors), default=None)
            last = max((row["last"] for row in self.majors), default=None)
            return Figure(definition, mean_gap(starts, first, last), starts)
        if key in RESOLVED_SHARES:
            resolved = t["resolved_count"]
            parts: dict[str, float | int | None] = {"resolved": int(resolved)}
            if key == d.ESCALATION_RATE.key:
                parts |= {
                    "functional": share(t["functional_escalated_count"], resolved),
                    "hierarchical": share(t["hierarchical_escalated_count"], resolved),
                }
            return Figure(
                definition, share(t[RESOLVED_SHARES[key]], resolved), int(resolved), parts=parts
            )
        if key == d.DETECTION_SOURCE.key:
            monitoring, customer = t["monitoring_count"], t["customer_count"]
            return Figure(
                definition,
                share(monitoring, monitoring + customer),
                int(monitoring + customer),
                parts={
                    "monitoring": int(monitoring),
                    "customer": int(customer),
                    "proactive": int(t["proactive_count"]),
                    "customer_per_monitoring": share(customer, monitoring),
                },
            )
        if key == d.BACKLOG.key:
            return Figure(definition, self.backlog["count"], self.backlog["count"])
        if key == d.BACKLOG_AGE.key:
            b = self.backlog
            return Figure(definition, b["mean"], b["count"], median=b["median"], p90=b["p90"])
        if key == d.SLA_COMPLIANCE.key:
            met = sum(row["met_count"] for row in self.sla)
            breached = sum(row["breached_count"] for row in self.sla)
            return Figure(
                definition,
                share(met, met + breached),
                met + breached,
                parts={
                    "met": met,
                    "breached": breached,
                    **{kind: self._sla_share(kind=kind) for kind in SlaClockKind.values},
                },
            )
        raise KeyError(key)

    def summary(self) -> list[Figure]:
        return [self.figure(definition) for definition in d.DEFINITIONS]

    def details(self, keys: Sequence[str]) -> list[MetricDetail]:
        return [self.detail(DEFINITIONS_BY_KEY[key]) for key in keys]

    # --- tables -----------------------------------------------------------------------------

    def detail(self, definition: MetricDefinition) -> MetricDetail:
        key = definition.key
        figure = self.figure(definition)
        bucket = bucket_column(self.period)
        if key == d.VOLUME.key:
            columns = [bucket, *(Column(name, label) for name, label in SEVERITIES)]
            rows = self._series(
                lambda row: {f"sev{row['priority']}": row["created_count"]},
                [name for name, _ in SEVERITIES],
            )
            return MetricDetail(figure, "stacked_bars", columns, rows)
        if key in DURATION_COHORTS:
            return MetricDetail(figure, "lines", *self._trend(DURATION_COHORTS[key], bucket))
        if key in RESOLVED_SHARES:
            return MetricDetail(figure, "lines", *self._share_series(key, bucket))
        if key == d.DETECTION_SOURCE.key:
            names = ["monitoring_count", "customer_count", "proactive_count"]
            columns = [
                bucket,
                Column("monitoring_count", "Monitoring"),
                Column("customer_count", "Customer reported"),
                Column("proactive_count", "Proactive"),
            ]
            rows = self._series(lambda row: {name: row[name] for name in names}, names)
            return MetricDetail(figure, "stacked_bars", columns, rows)
        if key == d.MTBF.key:
            columns = [
                Column("service", "Service", "label"),
                Column("mtbf", "MTBF", "seconds"),
                Column("starts", "SEV1/SEV2 starts"),
            ]
            rows = [
                {
                    "service": row["service__name"] or "No service",
                    "mtbf": mean_gap(row["starts"], row["first"], row["last"]),
                    "starts": row["starts"],
                }
                for row in self.majors
            ]
            return MetricDetail(figure, "bars", columns, rows)
        if key in (d.BACKLOG.key, d.BACKLOG_AGE.key):
            columns = [
                Column("band", "Age", "label"),
                *(Column(name, label) for name, label in SEVERITIES),
            ]
            return MetricDetail(figure, "stacked_bars", columns, self.backlog_bands)
        if key == d.SLA_COMPLIANCE.key:
            return MetricDetail(figure, "grouped_bars", *self._sla_table())
        raise KeyError(key)

    def _levels(self) -> list[tuple[int, tuple[str, str]]]:
        return [(level.value, SEVERITIES[level.value - 1]) for level in Priority]

    def _by_priority(self, measure: str) -> dict[int, int]:
        counts: dict[int, int] = defaultdict(int)
        for row in self.days:
            counts[row["priority"]] += int(row[measure] or 0)
        return counts

    def _series(self, values: Any, names: Sequence[str]) -> list[dict[str, Any]]:
        """A row per bucket of the period (empty buckets as zeros), summing `values(row)` of
        the day rows that fall in it."""
        buckets: dict[date, dict[str, Any]] = {
            start: {"bucket": start, **dict.fromkeys(names, 0)} for start in self.period.buckets()
        }
        for row in self.days:
            target = buckets.get(self.period.bucket(row["day"]))
            if target is not None:
                for name, value in values(row).items():
                    target[name] += value or 0
        return list(buckets.values())

    def _share_series(self, key: str, bucket: Column) -> tuple[list[Column], list[dict[str, Any]]]:
        measure = RESOLVED_SHARES[key]
        names = ["resolved_count", measure]
        if key == d.ESCALATION_RATE.key:
            names += ["functional_escalated_count", "hierarchical_escalated_count"]
        sums = self._series(lambda row: {name: row[name] for name in names}, names)
        columns = [bucket, Column("rate", "Share", "ratio")]
        if key == d.ESCALATION_RATE.key:
            columns += [
                Column("functional", "Functional", "ratio"),
                Column("hierarchical", "Hierarchical", "ratio"),
            ]
        columns.append(Column("resolved", "Resolved"))
        rows = []
        for row in sums:
            resolved = row["resolved_count"]
            entry = {"bucket": row["bucket"], "rate": share(row[measure], resolved)}
            if key == d.ESCALATION_RATE.key:
                entry["functional"] = share(row["functional_escalated_count"], resolved)
                entry["hierarchical"] = share(row["hierarchical_escalated_count"], resolved)
            entry["resolved"] = resolved
            rows.append(entry)
        return columns, rows

    def _trend(self, cohort: Cohort, bucket: Column) -> tuple[list[Column], list[dict[str, Any]]]:
        """Median, 90th percentile and mean per bucket, from the incidents (one query)."""
        expression = self.period.bucket_of(cohort.event)
        found = {
            as_date(row["bucket"]): row
            for row in cohort_trend(
                self.incidents, cohort, self.period.start, self.period.end, expression
            )
        }
        columns = [
            bucket,
            Column("median", "Median", "seconds"),
            Column("p90", "90th percentile", "seconds"),
            Column("mean", "Mean", "seconds"),
            Column("count", "Incidents"),
        ]
        empty = {"median": None, "p90": None, "mean": None, "count": 0}
        rows = []
        for start in self.period.buckets():
            row = found.get(start, empty)
            rows.append({"bucket": start, **{name: row[name] for name in empty}})
        return columns, rows

    def _sla_share(self, *, kind: str) -> float | None:
        rows = [row for row in self.sla if row["kind"] == kind]
        met = sum(row["met_count"] for row in rows)
        return share(met, met + sum(row["breached_count"] for row in rows))

    def _sla_table(self) -> tuple[list[Column], list[dict[str, Any]]]:
        """A row per policy and priority: each clock kind's share met, and the counts."""
        names = dict(
            SlaPolicy.objects.for_tenant(self.tenant)
            .filter(pk__in={row["policy_id"] for row in self.sla})
            .values_list("pk", "name")
        )
        grouped: dict[tuple[str, int], dict[str, Any]] = {}
        for row in self.sla:
            key = (names.get(row["policy_id"], "?"), row["priority"])
            entry = grouped.setdefault(
                key,
                {
                    "policy": key[0],
                    "priority": Priority(key[1]).label,
                    **{f"{kind}_met": 0 for kind in SlaClockKind.values},
                    **{f"{kind}_breached": 0 for kind in SlaClockKind.values},
                },
            )
            entry[f"{row['kind']}_met"] += row["met_count"]
            entry[f"{row['kind']}_breached"] += row["breached_count"]
        rows = []
        for (_policy, _priority), entry in sorted(grouped.items()):
            for kind in SlaClockKind.values:
                met, breached = entry[f"{kind}_met"], entry[f"{kind}_breached"]
                entry[kind] = share(met, met + breached)
            entry["met"] = sum(entry[f"{kind}_met"] for kind in SlaClockKind.values)
            entry["breached"] = sum(entry[f"{kind}_breached"] for kind in SlaClockKind.values)
            rows.append(entry)
        columns = [
            Column("policy", "Policy", "label"),
            Column("priority", "Priority", "label"),
            *(Column(kind, f"{kind.label} met", "ratio") for kind in SlaClockKind),
            Column("met", "Clocks met"),
            Column("breached", "Clocks breached"),
        ]
        return columns, rows

    # --- rows behind a figure ---------------------------------------------------------------

    def export(self, key: str) -> Export:
        start, end = self.period.start, self.period.end
        filename = export_filename(self.tenant, key, self.period)
        if key == d.SLA_COMPLIANCE.key:
            clocks = sla_clocks(self.tenant, self.query, start, end)
            return Export(filename, SLA_HEADER, _clock_rows(clocks))
        value: Any = None
        if key in DURATION_COHORTS:
            cohort = DURATION_COHORTS[key]
            rows = cohort_incidents(self.incidents, cohort, start, end)
            if cohort.duration_filter is not None:
                rows = rows.filter(cohort.duration_filter)
            value = cohort.duration
            order = cohort.event
        elif key in RESOLVED_SHARES:
            rows, order = cohort_incidents(self.incidents, RESOLVED, start, end), "resolved_at"
        elif key in (d.VOLUME.key, d.DETECTION_SOURCE.key):
            rows, order = cohort_incidents(self.incidents, CREATED, start, end), "created_at"
        elif key == d.MTBF.key:
            rows, order = major_starts(self.incidents, start, end), "started_at"
        elif key in (d.BACKLOG.key, d.BACKLOG_AGE.key):
            rows, order = open_incidents(self.incidents), "created_at"
        else:
            raise KeyError(key)
        return Export(filename, INCIDENT_HEADER, _incident_rows(rows, order, value))


def _duration_measures(cohort: Cohort) -> tuple[str, str]:
    """The cohort's count and seconds measures: (acknowledged_count, acknowledge_seconds)."""
    count = next(name for name in cohort.measures if name.endswith("_count"))
    if cohort is CREATED:
        count = "detected_count"
    return count, cohort.seconds[0]


INCIDENT_COLUMNS = (
    "number",
    "title",
    "status",
    "priority",
    "source",
    "service__name",
    "category__name",
    "assignment_team__name",
    "created_at",
    "occurred_at",
    "detected_at",
    "acknowledged_at",
    "resolved_at",
    "closed_at",
    "functional_escalation_count",
    "hierarchical_escalation_count",
    "reassignment_count",
    "reopen_count",
    "first_contact_resolution",
)
INCIDENT_HEADER = (
    "reference",
    "title",
    "status",
    "priority",
    "source",
    "service",
    "category",
    "team",
    "created_at",
    "occurred_at",
    "detected_at",
    "acknowledged_at",
    "resolved_at",
    "closed_at",
    "functional_escalations",
    "hierarchical_escalations",
    "reassignments",
    "reopens",
    "first_contact_resolution",
    "seconds",
)
SLA_HEADER = (
    "reference",
    "title",
    "priority",
    "policy",
    "clock",
    "outcome",
    "outcome_at",
    "target_seconds",
)


def _incident_rows(rows: QuerySet[Incident], order: str, value: Any) -> Iterator[list[Any]]:
    """The incidents in event order; `value`, the figure's duration, fills the last column."""
    measured = value if value is not None else Value(None, output_field=DurationField())
    ordered = rows.annotate(measured=measured).order_by(order, "id")
    return numbered_rows(ordered, Incident.NUMBER_PREFIX, (*INCIDENT_COLUMNS, "measured"))


def _clock_rows(clocks: QuerySet[Any]) -> Iterator[list[Any]]:
    """The clocks behind the SLA figure, each with its outcome and when it fell."""
    outcomes = clocks.annotate(
        outcome=Case(When(breached_at__isnull=False, then=Value("breached")), default=Value("met")),
        outcome_at=Coalesce("breached_at", "stopped_at"),
    ).order_by("id")
    columns = (
        "incident__number",
        "incident__title",
        "incident__priority",
        "policy__name",
        "kind",
        "outcome",
        "outcome_at",
        "target",
    )
    return numbered_rows(outcomes, Incident.NUMBER_PREFIX, columns)


class IncidentMetrics:
    """The incident app's metrics provider, registered with the metrics engine."""

    name = "incidents"
    definitions: Sequence[MetricDefinition] = d.DEFINITIONS

    def report(self, tenant: Tenant, query: MetricQuery) -> IncidentReport:
        return IncidentReport(tenant, query)
