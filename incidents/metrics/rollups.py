"""Writing and reading the daily rollups of the incident figures.

`rollup_refresh` recomputes a tenant's recent days (every few minutes, from beat) or all of them
(nightly, and when a platform admin asks) from the incidents themselves, in one transaction:
the day rows are deleted and written again, so a run repeated or interrupted leaves them right.
Only whole days go in: a report reads the rollup through `complete_through`, the day before the
last refresh, and computes the days after it from the incidents.

The recent days are the ones that still change: an event is stamped with the time it happens,
so it lands on today, except that a reopening takes a resolution off the day it was resolved
(within the reopen window) and a changed priority moves an incident's counts between rows of
its old days; the refresh covers `METRICS_ROLLUP_DAYS` days back, longer than the default reopen
window, and the nightly rebuild everything else.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from datetime import date, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Min, QuerySet, Sum
from django.utils import timezone

from incidents.metrics.facts import COHORTS, MEASURES, cohort_days, sla_days
from incidents.models import Incident, IncidentDailyRollup, SlaDailyRollup
from itsm.calendars.selectors import tenant_time_zone
from itsm.metrics.models import RollupState
from itsm.metrics.query import MetricQuery, Period
from itsm.tenancy.models import Tenant

ROLLUP = "incidents"


@transaction.atomic
def rollup_refresh(*, tenant: Tenant, full: bool = False) -> RollupState:
    """Recompute the tenant's daily rollups of the recent days, or of every day (`full`)."""
    started = time.monotonic()
    now = timezone.now()
    zone = tenant_time_zone(tenant=tenant)
    today = now.astimezone(zone).date()
    state, _ = RollupState.objects.select_for_update().get_or_create(tenant=tenant, name=ROLLUP)
    full = full or state.rebuilt_at is None  # never built whole: reports cannot use it yet
    first = today - timedelta(days=settings.METRICS_ROLLUP_DAYS)
    if full:
        earliest = Incident.objects.for_tenant(tenant).aggregate(first=Min("created_at"))["first"]
        first = min(first, earliest.astimezone(zone).date()) if earliest else first
    everything = Period(first, today - timedelta(days=1), zone)
    query = MetricQuery(period=everything)
    start, end = everything.start, everything.end

    incidents = IncidentDailyRollup.objects.for_tenant(tenant)
    clocks = SlaDailyRollup.objects.for_tenant(tenant)
    (incidents if full else incidents.filter(day__gte=first)).delete()
    (clocks if full else clocks.filter(day__gte=first)).delete()

    merged: dict[tuple[date, int], dict[str, Any]] = {}
    for cohort in COHORTS:
        rows = cohort_days(Incident.objects.for_tenant(tenant), cohort, start, end, zone)
        for row in rows:
            key = (row.pop("day"), row.pop("priority"))
            merged.setdefault(key, {}).update(row)
    written = IncidentDailyRollup.objects.bulk_create(
        IncidentDailyRollup(tenant=tenant, day=day, priority=priority, **measures)
        for (day, priority), measures in merged.items()
    )
    outcomes = SlaDailyRollup.objects.bulk_create(
        SlaDailyRollup(tenant=tenant, **row) for row in sla_days(tenant, query, start, end, zone)
    )

    state.refreshed_at = now
    state.complete_through = today - timedelta(days=1)
    if full:
        state.rebuilt_at = now
    state.rows = len(written) + len(outcomes)
    state.last_duration = timedelta(seconds=time.monotonic() - started)
    state.save()
    return state


def usable_rollup(tenant: Tenant, query: MetricQuery) -> RollupState | None:
    """The tenant's rollup state if the query may read the rollup: it has been built whole,
    covers the period's first day, and the query filters on no more than priority (the rollup's
    only dimension besides the day)."""
    if query.services or query.teams or query.categories:
        return None
    state = RollupState.objects.for_tenant(tenant).filter(name=ROLLUP).first()
    if state is None or state.rebuilt_at is None or state.complete_through is None:
        return None
    return state if state.complete_through >= query.period.first else None


def rollup_days(
    tenant: Tenant, query: MetricQuery, first: date, last: date
) -> QuerySet[IncidentDailyRollup]:
    rows = IncidentDailyRollup.objects.for_tenant(tenant).filter(day__gte=first, day__lte=last)
    return rows.filter(priority__in=query.priorities) if query.priorities else rows


def rollup_rows(
    tenant: Tenant, query: MetricQuery, first: date, last: date
) -> Iterable[dict[str, Any]]:
    """The rollup's rows of days first…last, in the shape of `facts.cohort_days`."""
    return [
        dict(row)
        for row in rollup_days(tenant, query, first, last).values("day", "priority", *MEASURES)
    ]


def sla_rollup_rows(
    tenant: Tenant, query: MetricQuery, first: date, last: date
) -> Iterable[dict[str, Any]]:
    """The SLA rollup's rows of days first…last, summed per policy, priority and kind."""
    rows = SlaDailyRollup.objects.for_tenant(tenant).filter(day__gte=first, day__lte=last)
    if query.priorities:
        rows = rows.filter(priority__in=query.priorities)
    return [
        dict(row)
        for row in rows.values("policy_id", "priority", "kind")
        .annotate(met_count=Sum("met_count"), breached_count=Sum("breached_count"))
        .order_by()
    ]
