"""The daily rollups: a report that reads them gives exactly what one computed from the
incidents gives; a refresh can be repeated; a reopening inside the refresh window shows after
the next refresh; filters the rollup cannot answer, or a rollup never built whole, send the
report to the incidents; the Celery task refreshes a tenant; and the summary's query count does
not grow with the number of incidents.

The rollup's days end yesterday (the refresh stamps `complete_through` from the clock), so the
scripted incidents are placed relative to now, in whole minutes, with today's part live.
"""

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from incidents import services
from incidents.choices import IncidentSource, IncidentStatus
from incidents.metrics.definitions import DEFINITIONS
from incidents.metrics.provider import IncidentReport
from incidents.metrics.rollups import rollup_refresh, usable_rollup
from incidents.models import Incident, IncidentDailyRollup, SlaClock, SlaDailyRollup
from incidents.tasks import refresh_incident_rollups_task
from itsm.calendars.selectors import UTC_ZONE
from itsm.metrics.models import RollupState
from itsm.metrics.query import DAY, WEEK, MetricQuery, Period
from itsm.tenancy import rls
from tests.factories import BusinessCalendarFactory, IncidentFactory
from tests.incidents.conftest import Desk, desk, make_incident

__all__ = ["desk"]  # the fixture, imported to be used here

pytestmark = pytest.mark.django_db

KEYS = [definition.key for definition in DEFINITIONS]


def moment() -> datetime:
    """Now, to the whole minute, so that every duration below is whole seconds (sums exact)."""
    return timezone.now().replace(second=0, microsecond=0)


def incident(desk: Desk, created: datetime, **facts: Any) -> Incident:
    made: Incident = IncidentFactory(tenant=desk.tenant, reported_by=desk.requester)
    with rls.tenant_scope(desk.tenant.pk):
        Incident.objects.filter(pk=made.pk).update(created_at=created, **facts)
    return made


def last_days(
    days: int, zone: ZoneInfo = UTC_ZONE, interval: str = DAY, **filters: Any
) -> MetricQuery:
    """The `days` days up to today in `zone` (by default UTC, the desk's zone)."""
    today = timezone.now().astimezone(zone).date()
    return MetricQuery(
        period=Period(today - timedelta(days=days - 1), today, zone, interval), **filters
    )


def report(desk: Desk, asked: MetricQuery, *, use_rollups: bool, now: datetime) -> dict[str, Any]:
    """The summary and every table, as the API would render them, and whether rollups served."""
    with rls.tenant_scope(desk.tenant.pk):
        made = IncidentReport(desk.tenant, asked, use_rollups=use_rollups, now=now)
        return {
            "summary": [figure.as_dict() for figure in made.summary()],
            "details": [found.as_dict() for found in made.details(KEYS)],
            "state": made.state,
        }


def figures(found: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {figure["key"]: figure for figure in found["summary"]}


def refresh(desk: Desk, *, full: bool = False) -> RollupState:
    with rls.tenant_scope(desk.tenant.pk):
        return rollup_refresh(tenant=desk.tenant, full=full)


def scripted(desk: Desk, now: datetime, count: int = 12, clocks: int = 3) -> None:
    """`count` incidents spread over the last six days and today: created, detected,
    acknowledged, resolved, closed, cancelled, escalated, of every priority and source; and
    `clocks` more whose SLA clocks were met and breached on several days."""
    sources = list(IncidentSource)
    for n in range(count):
        created = now - timedelta(days=n % 6, hours=n % 5, minutes=7 * n)
        status = [
            IncidentStatus.NEW,
            IncidentStatus.IN_PROGRESS,
            IncidentStatus.RESOLVED,
            IncidentStatus.CLOSED,
            IncidentStatus.CANCELLED,
        ][n % 5]
        acknowledged = created + timedelta(minutes=3 + n) if n % 5 else None
        resolved = created + timedelta(hours=1 + n % 3) if n % 5 in (2, 3) else None
        incident(
            desk,
            created,
            priority=1 + n % 4,
            source=sources[n % len(sources)],
            status=status,
            occurred_at=created - timedelta(minutes=5 * n) if n % 3 else None,
            acknowledged_at=min(acknowledged, now) if acknowledged else None,
            resolved_at=min(resolved, now) if resolved else None,
            closed_at=min(resolved + timedelta(hours=2), now) if n % 5 == 3 and resolved else None,
            functional_escalation_count=n % 2,
            hierarchical_escalation_count=1 if n % 4 == 0 else 0,
            escalation_count=n % 2 + (1 if n % 4 == 0 else 0),
            reassignment_count=1 if n % 6 == 1 else 0,
            reopen_count=1 if n % 7 == 2 else 0,
            first_contact_resolution=n % 3 == 0,
        )
    # SLA clocks, started by the services, with outcomes over the days.
    for n in range(clocks):
        made = make_incident(desk)
        with rls.tenant_scope(desk.tenant.pk):
            Incident.objects.filter(pk=made.pk).update(
                created_at=now - timedelta(days=n, minutes=30), detected_at=None
            )
            its = SlaClock.objects.filter(incident_id=made.pk)
            its.filter(kind="response").update(stopped_at=now - timedelta(days=n, minutes=1))
            if n != 1:
                its.filter(kind="resolution").update(breached_at=now - timedelta(days=n + 1))


@pytest.mark.parametrize("zone_name", ["UTC", "Pacific/Auckland", "America/Los_Angeles"])
def test_a_report_from_the_rollups_equals_one_from_the_incidents(desk, zone_name):
    zone = ZoneInfo(zone_name)
    if zone_name != "UTC":  # the tenant's business calendar sets its local days
        BusinessCalendarFactory(tenant=desk.tenant, time_zone=zone_name)
    now = moment()
    scripted(desk, now)
    asked = last_days(7, zone)

    state = refresh(desk, full=True)

    today = timezone.now().astimezone(zone).date()
    assert state.complete_through == today - timedelta(days=1)
    rolled = report(desk, asked, use_rollups=True, now=now)
    live = report(desk, asked, use_rollups=False, now=now)
    assert rolled["state"] is not None
    assert live["state"] is None
    assert rolled["summary"] == live["summary"]
    assert rolled["details"] == live["details"]
    # The figures are not all empty: the comparison compares something.
    summary = figures(rolled)
    assert summary["volume"]["value"] == 12 + 3
    assert summary["mttr"]["count"] > 0
    assert summary["sla_compliance"]["count"] > 0
    # And only the past days came from the rollup: today is read live.
    with rls.tenant_scope(desk.tenant.pk):
        freshness = IncidentReport(desk.tenant, asked, now=now).freshness()
    assert freshness.from_rollups
    assert freshness.live_from == today.isoformat()
    # The same holds for a period wholly past, per week, for a priority filter, and for a
    # period longer than the data.
    past = Period(today - timedelta(days=10), today - timedelta(days=3), zone, DAY)
    for other in (
        MetricQuery(period=past),
        last_days(14, zone, WEEK),
        last_days(7, zone, priorities=(1, 3)),
        last_days(60, zone),
    ):
        rolled = report(desk, other, use_rollups=True, now=now)
        assert rolled["state"] is not None
        assert rolled == {**report(desk, other, use_rollups=False, now=now), "state": state}


def test_the_rollup_rows_hold_the_days_figures(desk):
    now = moment()
    yesterday = (now - timedelta(days=1)).replace(hour=12, minute=0)
    # Yesterday: two SEV2 incidents created, acknowledged after 10 and 20 minutes, one of them
    # resolved after 3 hours; one SEV1 created and cancelled.
    incident(desk, yesterday, priority=2, acknowledged_at=yesterday + timedelta(minutes=10))
    incident(
        desk,
        yesterday,
        priority=2,
        acknowledged_at=yesterday + timedelta(minutes=20),
        resolved_at=yesterday + timedelta(hours=3),
        status="resolved",
    )
    incident(desk, yesterday, priority=1, status=IncidentStatus.CANCELLED)

    refresh(desk, full=True)

    with rls.tenant_scope(desk.tenant.pk):
        rows = {
            row.priority: row for row in IncidentDailyRollup.objects.filter(day=yesterday.date())
        }
    assert set(rows) == {1, 2}
    sev2 = rows[2]
    assert (sev2.created_count, sev2.acknowledged_count, sev2.resolved_count) == (2, 2, 1)
    assert sev2.acknowledge_seconds == 600 + 1200
    assert sev2.resolve_seconds == 3 * 3600
    assert (rows[1].created_count, rows[1].acknowledged_count) == (1, 0)


def test_refreshing_again_changes_nothing(desk):
    now = moment()
    scripted(desk, now)
    asked = last_days(7)

    def stored() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        with rls.tenant_scope(desk.tenant.pk):
            days = IncidentDailyRollup.objects.order_by("day", "priority").values()
            clocks = SlaDailyRollup.objects.order_by("day", "policy", "priority", "kind").values()
            drop = {"id", "created_at", "updated_at"}
            return (
                [{k: v for k, v in row.items() if k not in drop} for row in days],
                [{k: v for k, v in row.items() if k not in drop} for row in clocks],
            )

    first = refresh(desk, full=True)
    before, before_report = stored(), report(desk, asked, use_rollups=True, now=now)
    again = refresh(desk, full=True)
    recent = refresh(desk)

    assert first.rows == again.rows == recent.rows > 0
    assert stored() == before
    assert report(desk, asked, use_rollups=True, now=now)["summary"] == before_report["summary"]


def test_a_reopening_inside_the_refresh_window_shows_after_the_next_refresh(desk):
    now = moment()
    resolved = make_incident(desk, "resolved")
    other = make_incident(desk, "resolved")
    two_days_ago = now - timedelta(days=2)
    with rls.tenant_scope(desk.tenant.pk):
        Incident.objects.filter(pk__in=[resolved.pk, other.pk]).update(
            created_at=two_days_ago - timedelta(hours=4), resolved_at=two_days_ago
        )
    asked = last_days(7)
    refresh(desk, full=True)
    assert figures(report(desk, asked, use_rollups=True, now=now))["mttr"]["count"] == 2

    # When one is reopened (within the tenant's 7-day window)
    with rls.tenant_scope(desk.tenant.pk):
        services.incident_reopen(
            tenant=desk.tenant, incident_id=resolved.pk, actor=desk.admin, reason="Still down."
        )

    # The rollup still holds its resolution until the next refresh of the recent days
    assert figures(report(desk, asked, use_rollups=True, now=now))["mttr"]["count"] == 2
    refresh(desk)
    rolled = report(desk, asked, use_rollups=True, now=now)
    live = report(desk, asked, use_rollups=False, now=now)
    assert figures(rolled)["mttr"]["count"] == 1
    assert figures(rolled)["backlog"]["value"] == 1
    assert rolled["summary"] == live["summary"]
    assert rolled["details"] == live["details"]


def test_the_rollup_is_used_only_when_it_can_answer_the_query(desk):
    asked = last_days(7)
    with rls.tenant_scope(desk.tenant.pk):
        # Before any refresh, there is nothing to read.
        assert usable_rollup(desk.tenant, asked) is None
    state = refresh(desk)  # the first refresh builds everything
    assert state.rebuilt_at is not None
    with rls.tenant_scope(desk.tenant.pk):
        assert usable_rollup(desk.tenant, asked) == state
        assert usable_rollup(desk.tenant, last_days(7, priorities=(1, 2))) == state
        # The rollup has no service, team or category: those filters read the incidents.
        assert usable_rollup(desk.tenant, last_days(7, services=(desk.service,))) is None
        assert usable_rollup(desk.tenant, last_days(7, teams=(desk.l1,))) is None
        assert usable_rollup(desk.tenant, last_days(7, categories=(desk.category,))) is None
        # A period that starts today has no whole day in the rollup.
        assert usable_rollup(desk.tenant, last_days(1)) is None
        # A rollup refreshed but never rebuilt whole is not read.
        RollupState.objects.filter(pk=state.pk).update(rebuilt_at=None)
        assert usable_rollup(desk.tenant, asked) is None


def test_the_celery_task_refreshes_the_tenants_rollups(desk):
    now = moment()
    scripted(desk, now, count=5)

    rows = refresh_incident_rollups_task(tenant_id=desk.tenant.pk, full=True)

    with rls.tenant_scope(desk.tenant.pk):
        state = RollupState.objects.get(name="incidents")
        written = IncidentDailyRollup.objects.count() + SlaDailyRollup.objects.count()
    assert rows == state.rows == written > 0
    assert state.rebuilt_at is not None
    asked = last_days(7)
    assert report(desk, asked, use_rollups=True, now=now)["state"] is not None


def _summary_queries(desk: Desk, *, use_rollups: bool, now: datetime) -> int:
    with rls.tenant_scope(desk.tenant.pk), CaptureQueriesContext(connection) as queries:
        IncidentReport(desk.tenant, last_days(7), use_rollups=use_rollups, now=now).summary()
    return len(queries)


@pytest.mark.parametrize("use_rollups", [True, False])
def test_the_summary_reads_a_fixed_number_of_queries_whatever_the_incidents(desk, use_rollups):
    now = moment()
    scripted(desk, now, count=2, clocks=1)  # 3 incidents
    refresh(desk, full=True)
    few = _summary_queries(desk, use_rollups=use_rollups, now=now)

    scripted(desk, now - timedelta(minutes=1), count=25, clocks=2)  # 30 incidents in all
    refresh(desk, full=True)
    with rls.tenant_scope(desk.tenant.pk):
        assert Incident.objects.count() == 30
    many = _summary_queries(desk, use_rollups=use_rollups, now=now)

    assert many == few
    assert few <= 15
