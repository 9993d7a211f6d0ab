"""The incident figures, computed by the database from each incident's stored times and counts
(aggregates with FILTER, percentiles, GROUP BY day); never a Python loop over incidents.

Four cohorts carry most figures: the incidents created, acknowledged, resolved and closed in a
time range, each with the measures of `IncidentDailyRollup` that belong to it. The same measure
expressions serve the rollups (grouped by local day and priority) and the live report (one
aggregate over the range), so both count the same things the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.db.models import (
    Aggregate,
    Count,
    DateTimeField,
    DurationField,
    ExpressionWrapper,
    F,
    Max,
    Min,
    Q,
    QuerySet,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce, TruncDate

from incidents.choices import (
    CUSTOMER_SOURCES,
    OPEN_STATUSES,
    IncidentSource,
    IncidentStatus,
    Priority,
)
from incidents.models import Incident, SlaClock
from itsm.metrics.aggregates import Percentile
from itsm.metrics.query import MetricQuery
from itsm.tenancy.models import Tenant


def _duration(later: Any, earlier: Any) -> ExpressionWrapper[Any]:
    return ExpressionWrapper(later - earlier, output_field=DurationField())


DETECTED_AT = Coalesce(F("detected_at"), F("created_at"))
TIME_TO_DETECT = _duration(DETECTED_AT, F("occurred_at"))
TIME_TO_ACKNOWLEDGE = _duration(F("acknowledged_at"), F("created_at"))
TIME_TO_RESOLVE = _duration(F("resolved_at"), F("created_at"))
TIME_TO_CLOSE = _duration(F("closed_at"), F("created_at"))
# An occurrence after the detection is a typing error, not a negative detection time.
OCCURRENCE_KNOWN = Q(occurred_at__isnull=False, occurred_at__lte=DETECTED_AT)
ESCALATED = Q(escalation_count__gt=0)
FIRST_ASSIGNMENT = Q(reassignment_count=0, functional_escalation_count=0)
MAJOR_PRIORITIES = (Priority.SEV1, Priority.SEV2)
# A failure starts when the fault began, if known; else when it was detected, else reported.
STARTED_AT = Coalesce(F("occurred_at"), F("detected_at"), F("created_at"))


@dataclass(frozen=True)
class Cohort:
    """The incidents whose `event` time falls in a range, and what is measured of them: counts
    and sums (rollup fields) and, where it has one, the duration whose percentiles are shown."""

    name: str
    event: str
    measures: Mapping[str, Aggregate]
    duration: ExpressionWrapper[Any] | None = None
    duration_filter: Q | None = None
    exclude: Q | None = None
    seconds: tuple[str, ...] = field(default=())  # the measures that sum durations


CREATED = Cohort(
    "created",
    "created_at",
    {
        "created_count": Count("id"),
        "monitoring_count": Count("id", filter=Q(source=IncidentSource.MONITORING)),
        "customer_count": Count("id", filter=Q(source__in=CUSTOMER_SOURCES)),
        "proactive_count": Count("id", filter=Q(source=IncidentSource.PROACTIVE)),
        "detected_count": Count("id", filter=OCCURRENCE_KNOWN),
        "detect_seconds": Sum(TIME_TO_DETECT, filter=OCCURRENCE_KNOWN),
    },
    duration=TIME_TO_DETECT,
    duration_filter=OCCURRENCE_KNOWN,
    seconds=("detect_seconds",),
)
ACKNOWLEDGED = Cohort(
    "acknowledged",
    "acknowledged_at",
    {
        "acknowledged_count": Count("id"),
        "acknowledge_seconds": Sum(TIME_TO_ACKNOWLEDGE),
    },
    duration=TIME_TO_ACKNOWLEDGE,
    seconds=("acknowledge_seconds",),
)
RESOLVED = Cohort(
    "resolved",
    "resolved_at",
    {
        "resolved_count": Count("id"),
        "resolve_seconds": Sum(TIME_TO_RESOLVE),
        "escalated_count": Count("id", filter=ESCALATED),
        "functional_escalated_count": Count("id", filter=Q(functional_escalation_count__gt=0)),
        "hierarchical_escalated_count": Count("id", filter=Q(hierarchical_escalation_count__gt=0)),
        "first_contact_count": Count("id", filter=Q(first_contact_resolution=True)),
        "first_assignment_count": Count("id", filter=FIRST_ASSIGNMENT),
        "reopened_count": Count("id", filter=Q(reopen_count__gt=0)),
    },
    duration=TIME_TO_RESOLVE,
    seconds=("resolve_seconds",),
)
CLOSED = Cohort(
    "closed",
    "closed_at",
    {"closed_count": Count("id"), "close_seconds": Sum(TIME_TO_CLOSE)},
    duration=TIME_TO_CLOSE,
    exclude=Q(status=IncidentStatus.CANCELLED),
    seconds=("close_seconds",),
)
COHORTS = (CREATED, ACKNOWLEDGED, RESOLVED, CLOSED)
# Every measure of the daily rollup, in cohort order.
MEASURES = tuple(name for cohort in COHORTS for name in cohort.measures)


def incident_filter(query: MetricQuery, prefix: str = "") -> Q:
    """The query's filters on incidents (or, with a prefix, on rows that point to one)."""
    conditions = {
        "service_id__in": query.service_ids,
        "assignment_team_id__in": query.team_ids,
        "priority__in": list(query.priorities),
        "category_id__in": query.category_ids,
    }
    return Q(**{prefix + name: values for name, values in conditions.items() if values})


def scoped_incidents(tenant: Tenant, query: MetricQuery) -> QuerySet[Incident]:
    return Incident.objects.for_tenant(tenant).filter(incident_filter(query))


def cohort_incidents(
    incidents: QuerySet[Incident], cohort: Cohort, start: datetime, end: datetime
) -> QuerySet[Incident]:
    """The incidents of `cohort` whose event lies in [start, end)."""
    rows = incidents.filter(**{f"{cohort.event}__gte": start, f"{cohort.event}__lt": end})
    return rows.exclude(cohort.exclude) if cohort.exclude is not None else rows


def _seconds(value: Any) -> float | None:
    if value is None:
        return None
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def _numbers(cohort: Cohort, row: Mapping[str, Any]) -> dict[str, Any]:
    """A row of aggregates with durations as seconds and empty sums as zero."""
    result = dict(row)
    for name in cohort.seconds:
        result[name] = _seconds(row[name]) or 0.0
    for name in ("median", "p90"):
        if name in row:
            result[name] = _seconds(row[name])
    return result


def cohort_totals(
    incidents: QuerySet[Incident],
    cohort: Cohort,
    start: datetime,
    end: datetime,
    *,
    percentiles: bool = True,
) -> dict[str, Any]:
    """One query: the cohort's measures over [start, end) and, if asked, the median and 90th
    percentile of its duration."""
    aggregates: dict[str, Aggregate] = dict(cohort.measures)
    if percentiles and cohort.duration is not None:
        aggregates["median"] = Percentile(cohort.duration, 0.5, filter=cohort.duration_filter)
        aggregates["p90"] = Percentile(cohort.duration, 0.9, filter=cohort.duration_filter)
    row = cohort_incidents(incidents, cohort, start, end).aggregate(**aggregates)
    return _numbers(cohort, row)


def cohort_percentiles(
    incidents: QuerySet[Incident], cohort: Cohort, start: datetime, end: datetime
) -> dict[str, float | None]:
    """One query: only the median and 90th percentile of the cohort's duration."""
    if cohort.duration is None:
        return {}
    row = cohort_incidents(incidents, cohort, start, end).aggregate(
        median=Percentile(cohort.duration, 0.5, filter=cohort.duration_filter),
        p90=Percentile(cohort.duration, 0.9, filter=cohort.duration_filter),
    )
    return {"median": _seconds(row["median"]), "p90": _seconds(row["p90"])}


def cohort_days(
    incidents: QuerySet[Incident], cohort: Cohort, start: datetime, end: datetime, zone: ZoneInfo
) -> list[dict[str, Any]]:
    """One query: the cohort's measures per local day and priority (the rollup's grain)."""
    rows = (
        cohort_incidents(incidents, cohort, start, end)
        .annotate(day=TruncDate(cohort.event, tzinfo=zone))
        .values("day", "priority")
        .annotate(**cohort.measures)
        .order_by()
    )
    return [_numbers(cohort, row) for row in rows]


def cohort_trend(
    incidents: QuerySet[Incident],
    cohort: Cohort,
    start: datetime,
    end: datetime,
    bucket: Any,
) -> list[dict[str, Any]]:
    """One query: per bucket (an expression on the event time), the count, mean, median and
    90th percentile of the cohort's duration."""
    assert cohort.duration is not None
    only = cohort.duration_filter
    rows = (
        cohort_incidents(incidents, cohort, start, end)
        .annotate(bucket=bucket)
        .values("bucket")
        .annotate(
            count=Count("id", filter=only),
            total=Sum(cohort.duration, filter=only),
            median=Percentile(cohort.duration, 0.5, filter=only),
            p90=Percentile(cohort.duration, 0.9, filter=only),
        )
        .order_by("bucket")
    )
    return [
        {
            "bucket": row["bucket"],
            "count": row["count"],
            "mean": (_seconds(row["total"]) or 0.0) / row["count"] if row["count"] else None,
            "median": _seconds(row["median"]),
            "p90": _seconds(row["p90"]),
        }
        for row in rows
    ]


def major_starts(
    incidents: QuerySet[Incident], start: datetime, end: datetime
) -> QuerySet[Incident]:
    """The SEV1/SEV2 failures that started in [start, end), cancelled ones left out."""
    return (
        incidents.filter(priority__in=MAJOR_PRIORITIES)
        .exclude(status=IncidentStatus.CANCELLED)
        .annotate(started_at=STARTED_AT)
        .filter(started_at__gte=start, started_at__lt=end)
    )


def mtbf_by_service(
    incidents: QuerySet[Incident], start: datetime, end: datetime
) -> list[dict[str, Any]]:
    """One query: per service, its failures' count and first and last start."""
    return [
        dict(row)
        for row in major_starts(incidents, start, end)
        .values("service_id", "service__name")
        .annotate(starts=Count("id"), first=Min("started_at"), last=Max("started_at"))
        .order_by("service__name")
    ]


def mean_gap(starts: int, first: datetime | None, last: datetime | None) -> float | None:
    """(last - first) / (starts - 1): the mean gap between consecutive starts, in seconds."""
    if starts < 2 or first is None or last is None:
        return None
    return (last - first).total_seconds() / (starts - 1)


def open_incidents(incidents: QuerySet[Incident]) -> QuerySet[Incident]:
    return incidents.filter(status__in=OPEN_STATUSES)


def age(now: datetime) -> ExpressionWrapper[Any]:
    return _duration(Value(now, output_field=DateTimeField()), F("created_at"))


def backlog_totals(incidents: QuerySet[Incident], now: datetime) -> dict[str, Any]:
    """One query: the open incidents' count and mean, median and 90th percentile age."""
    row = open_incidents(incidents).aggregate(
        count=Count("id"),
        total=Sum(age(now)),
        median=Percentile(age(now), 0.5),
        p90=Percentile(age(now), 0.9),
    )
    count = row["count"]
    return {
        "count": count,
        "mean": (_seconds(row["total"]) or 0.0) / count if count else None,
        "median": _seconds(row["median"]),
        "p90": _seconds(row["p90"]),
    }


# The backlog's age bands: (label, younger than); the last band has no upper bound.
AGE_BANDS: tuple[tuple[str, timedelta | None], ...] = (
    ("under 1 day", timedelta(days=1)),
    ("1–3 days", timedelta(days=3)),
    ("3–7 days", timedelta(days=7)),
    ("7–30 days", timedelta(days=30)),
    ("30 days and more", None),
)


def backlog_bands(incidents: QuerySet[Incident], now: datetime) -> list[dict[str, Any]]:
    """One query: the open incidents per age band and priority, as columns of counts."""
    aggregates: dict[str, Aggregate] = {}
    lower = None
    for index, (_label, upper) in enumerate(AGE_BANDS):
        band = Q()
        if upper is not None:
            band &= Q(created_at__gt=now - upper)
        if lower is not None:
            band &= Q(created_at__lte=now - lower)
        for level in Priority:
            aggregates[f"b{index}_p{level.value}"] = Count("id", filter=band & Q(priority=level))
        lower = upper
    counts = open_incidents(incidents).aggregate(**aggregates)
    return [
        {
            "band": label,
            **{f"sev{level.value}": counts[f"b{index}_p{level.value}"] for level in Priority},
        }
        for index, (label, _upper) in enumerate(AGE_BANDS)
    ]


# --- SLA ----------------------------------------------------------------------------------------


def sla_clocks(
    tenant: Tenant, query: MetricQuery, start: datetime, end: datetime
) -> QuerySet[SlaClock]:
    """The clocks whose outcome fell in [start, end): breached then, or stopped in time then.

    Cancelling an incident stops its clocks, which is no success: the clocks of a cancelled
    incident count only if they had breached (a breach stays one)."""
    return (
        SlaClock.objects.for_tenant(tenant)
        .filter(incident_filter(query, prefix="incident__"))
        .filter(
            Q(breached_at__gte=start, breached_at__lt=end)
            | Q(breached_at__isnull=True, stopped_at__gte=start, stopped_at__lt=end)
        )
        .exclude(breached_at__isnull=True, incident__status=IncidentStatus.CANCELLED)
    )


SLA_MEASURES: dict[str, Aggregate] = {
    "met_count": Count("id", filter=Q(breached_at__isnull=True)),
    "breached_count": Count("id", filter=Q(breached_at__isnull=False)),
}


def sla_days(
    tenant: Tenant, query: MetricQuery, start: datetime, end: datetime, zone: ZoneInfo
) -> list[dict[str, Any]]:
    """One query: met and breached clocks per local day, policy, priority and kind."""
    return [
        dict(row)
        for row in sla_clocks(tenant, query, start, end)
        .annotate(
            day=TruncDate(Coalesce("breached_at", "stopped_at"), tzinfo=zone),
            priority=F("incident__priority"),
        )
        .values("day", "policy_id", "priority", "kind")
        .annotate(**SLA_MEASURES)
        .order_by()
    ]


def sla_totals(
    tenant: Tenant, query: MetricQuery, start: datetime, end: datetime
) -> list[dict[str, Any]]:
    """One query: met and breached clocks per policy, priority and kind over [start, end)."""
    return [
        dict(row)
        for row in sla_clocks(tenant, query, start, end)
        .values("policy_id", "kind", priority=F("incident__priority"))
        .annotate(**SLA_MEASURES)
        .order_by()
    ]
