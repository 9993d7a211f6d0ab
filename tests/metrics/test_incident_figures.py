"""Each incident metric against a scripted set of incidents whose figure is worked out by hand
here, as the rules in incidents/metrics/definitions.py state it.

Times are set directly on the stored facts (as the services would have stamped them), in March
2025, far from today, so that nothing the services stamp now falls in the period. Where a fact
is a counter the services keep (escalations, reassignments, reopens, first contact), the
incident is driven through the services and only its times are moved afterwards.

The tenant is in UTC unless a test gives it a business calendar; the period is Monday 3 March to
Sunday 16 March 2025 (two ISO weeks) unless a test says otherwise.
"""

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from incidents import services
from incidents.choices import IncidentSource, IncidentStatus
from incidents.metrics.provider import IncidentReport
from incidents.models import Incident, SlaClock
from itsm.calendars.selectors import UTC_ZONE, tenant_time_zone
from itsm.metrics.query import DAY, WEEK, MetricQuery, Period
from itsm.metrics.registry import Figure, MetricDetail
from itsm.tenancy import rls
from tests.factories import (
    BusinessCalendarFactory,
    CategoryFactory,
    IncidentFactory,
    ServiceFactory,
    SlaPolicyFactory,
)
from tests.incidents.conftest import Desk, desk, make_incident

__all__ = ["desk"]  # the fixture, imported to be used here

pytestmark = pytest.mark.django_db

FIRST, LAST = date(2025, 3, 3), date(2025, 3, 16)
NOW = datetime(2025, 3, 20, 12, 0, tzinfo=UTC)  # "now" for the backlog's ages
HOUR = 3600


def at(day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    """A moment of March 2025, in UTC."""
    return datetime(2025, 3, day, hour, minute, second, tzinfo=UTC)


def incident(desk: Desk, created: datetime, **facts: Any) -> Incident:
    """An incident of the desk's tenant created at `created`, its stored facts set as given."""
    made: Incident = IncidentFactory(tenant=desk.tenant, reported_by=desk.requester)
    with rls.tenant_scope(desk.tenant.pk):
        Incident.objects.filter(pk=made.pk).update(created_at=created, **facts)
    return made


def set_facts(desk: Desk, made: Incident, **facts: Any) -> None:
    """Move an incident's stored times (the services stamped them now)."""
    with rls.tenant_scope(desk.tenant.pk):
        assert Incident.objects.filter(pk=made.pk).update(**facts) == 1


def query(
    first: date = FIRST,
    last: date = LAST,
    interval: str = DAY,
    zone: ZoneInfo = UTC_ZONE,
    **filters: Any,
) -> MetricQuery:
    return MetricQuery(period=Period(first, last, zone, interval), **filters)


def summary(desk: Desk, asked: MetricQuery | None = None) -> dict[str, Figure]:
    """Every figure, computed from the incidents."""
    with rls.tenant_scope(desk.tenant.pk):
        report = IncidentReport(desk.tenant, asked or query(), use_rollups=False, now=NOW)
        return {figure.definition.key: figure for figure in report.summary()}


def detail(desk: Desk, key: str, asked: MetricQuery | None = None) -> MetricDetail:
    with rls.tenant_scope(desk.tenant.pk):
        report = IncidentReport(desk.tenant, asked or query(), use_rollups=False, now=NOW)
        [found] = report.details([key])
        return found


def rows_by_bucket(found: MetricDetail) -> dict[date, dict[str, Any]]:
    return {row["bucket"]: row for row in found.rows}


def export_references(desk: Desk, key: str, asked: MetricQuery | None = None) -> list[str]:
    with rls.tenant_scope(desk.tenant.pk):
        report = IncidentReport(desk.tenant, asked or query(), use_rollups=False, now=NOW)
        return [row[0] for row in report.export(key).rows]


# --- Volume ------------------------------------------------------------------------------------


def test_volume_counts_the_incidents_created_in_the_period_by_severity_day_and_week(desk):
    incident(desk, at(3, 10), priority=1)
    incident(desk, at(3, 23, 59), priority=2)
    incident(desk, at(5, 8), priority=4, status=IncidentStatus.CANCELLED)  # cancelled counts
    incident(desk, at(12, 9), priority=3)
    incident(desk, at(16, 23, 59, 59), priority=4)  # the last second of the period
    incident(desk, at(17, 0), priority=1)  # the first second after it
    incident(desk, at(2, 23, 59), priority=1)  # the day before it

    volume = summary(desk)["volume"]

    # 5 created from 3 March 00:00 to 17 March 00:00: SEV1 1, SEV2 1, SEV3 1, SEV4 2 (one cancelled)
    assert (volume.value, volume.count) == (5, 5)
    assert volume.parts == {"sev1": 1, "sev2": 1, "sev3": 1, "sev4": 2}

    per_day = detail(desk, "volume")
    assert [row["bucket"] for row in per_day.rows] == [FIRST + timedelta(days=n) for n in range(14)]
    days = rows_by_bucket(per_day)
    zero = {"sev1": 0, "sev2": 0, "sev3": 0, "sev4": 0}
    assert days[date(2025, 3, 3)] == {"bucket": date(2025, 3, 3), **zero, "sev1": 1, "sev2": 1}
    assert days[date(2025, 3, 5)] == {"bucket": date(2025, 3, 5), **zero, "sev4": 1}
    assert days[date(2025, 3, 12)] == {"bucket": date(2025, 3, 12), **zero, "sev3": 1}
    assert days[date(2025, 3, 16)] == {"bucket": date(2025, 3, 16), **zero, "sev4": 1}
    assert days[date(2025, 3, 4)] == {"bucket": date(2025, 3, 4), **zero}  # empty day: zeros
    assert sum(row["sev1"] + row["sev2"] + row["sev3"] + row["sev4"] for row in per_day.rows) == 5

    per_week = detail(desk, "volume", query(interval=WEEK))
    # Week of 3 March: SEV1 1 + SEV2 1 + SEV4 1; week of 10 March: SEV3 1 + SEV4 1.
    assert per_week.rows == [
        {"bucket": date(2025, 3, 3), "sev1": 1, "sev2": 1, "sev3": 0, "sev4": 1},
        {"bucket": date(2025, 3, 10), "sev1": 0, "sev2": 0, "sev3": 1, "sev4": 1},
    ]


def test_weekly_buckets_start_on_the_monday_before_the_period_and_show_empty_weeks(desk):
    # Wednesday 5 March to Wednesday 26 March: the weeks of 3, 10, 17 and 24 March.
    incident(desk, at(19, 12), priority=2)

    rows = detail(desk, "volume", query(date(2025, 3, 5), date(2025, 3, 26), WEEK)).rows

    assert [(row["bucket"], row["sev2"]) for row in rows] == [
        (date(2025, 3, 3), 0),
        (date(2025, 3, 10), 0),
        (date(2025, 3, 17), 1),
        (date(2025, 3, 24), 0),
    ]


# --- Durations ---------------------------------------------------------------------------------


def test_mttd_runs_from_occurrence_to_detection_and_leaves_out_unknown_or_later_occurrences(
    desk,
):
    incident(desk, at(4, 10), detected_at=at(4, 9, 50), occurred_at=at(4, 9, 30))  # 20 min
    incident(desk, at(5, 12), occurred_at=at(5, 11))  # not detected: creation, 60 min
    incident(desk, at(6, 9))  # no occurrence time: left out
    incident(desk, at(7, 10), detected_at=at(7, 10), occurred_at=at(7, 10, 30))  # after: out
    incident(desk, at(8, 10), detected_at=at(8, 8), occurred_at=at(8, 6, 20))  # 100 min
    incident(desk, at(9, 10), occurred_at=at(9, 10))  # occurred as it was reported: 0
    incident(desk, at(2, 10), occurred_at=at(1, 10))  # created before the period: out

    mttd = summary(desk)["mttd"]

    # Seconds, sorted: 0, 1200, 3600, 6000.
    # mean = 10800 / 4 = 2700; median = (1200 + 3600) / 2 = 2400;
    # p90: rank 0.9 × 3 = 2.7 → 3600 + 0.7 × (6000 - 3600) = 5280.
    assert (mttd.count, mttd.value, mttd.median, mttd.p90) == (4, 2700, 2400, 5280)
    assert summary(desk)["volume"].count == 6  # the left-out ones still count as created

    days = rows_by_bucket(detail(desk, "mttd"))
    assert days[date(2025, 3, 4)] == {
        "bucket": date(2025, 3, 4),
        "median": 1200,
        "p90": 1200,
        "mean": 1200,
        "count": 1,
    }
    assert days[date(2025, 3, 6)]["count"] == 0  # created, but without an occurrence time
    assert days[date(2025, 3, 6)]["mean"] is None
    assert days[date(2025, 3, 7)]["count"] == 0
    # The export lists exactly the four incidents measured, with their seconds.
    with rls.tenant_scope(desk.tenant.pk):
        exported = list(
            IncidentReport(desk.tenant, query(), use_rollups=False, now=NOW).export("mttd").rows
        )
    assert [row[-1] for row in exported] == [1200, 3600, 6000, 0]


def test_mtta_measures_the_incidents_acknowledged_in_the_period(desk):
    incident(desk, at(4, 10), acknowledged_at=at(4, 10, 5))  # 300 s
    incident(desk, at(4, 11), acknowledged_at=at(4, 11, 15))  # 900 s
    incident(desk, at(5, 9), acknowledged_at=at(5, 10))  # 3600 s
    incident(desk, at(6, 9), acknowledged_at=at(6, 9, 1))  # 60 s
    incident(desk, at(2, 23), acknowledged_at=at(3, 1))  # created before, acknowledged in: 7200 s
    incident(desk, at(5, 9))  # unacknowledged: left out
    incident(desk, at(16, 23), acknowledged_at=at(17, 0, 30))  # acknowledged after: left out

    mtta = summary(desk)["mtta"]

    # Seconds, sorted: 60, 300, 900, 3600, 7200.
    # mean = 12060 / 5 = 2412; median = the 3rd = 900;
    # p90: rank 0.9 × 4 = 3.6 → 3600 + 0.6 × (7200 - 3600) = 5760.
    assert (mtta.count, mtta.value, mtta.median, mtta.p90) == (5, 2412, 900, 5760)

    days = rows_by_bucket(detail(desk, "mtta"))
    # 4 March: 300 and 900 → mean and median 600; p90: 300 + 0.9 × 600 = 840.
    assert days[date(2025, 3, 4)] == {
        "bucket": date(2025, 3, 4),
        "median": 600,
        "p90": 840,
        "mean": 600,
        "count": 2,
    }
    assert days[date(2025, 3, 3)]["mean"] == 7200
    assert days[date(2025, 3, 16)]["count"] == 0


def test_mttr_counts_a_reopened_incident_once_at_its_last_resolution_and_not_while_open(desk):
    tenant, admin = desk.tenant, desk.admin
    # Resolved, reopened and resolved again through the services.
    reopened = make_incident(desk, "resolved")
    # Resolved, then reopened: open again.
    open_again = make_incident(desk, "resolved")
    # Put on hold and resumed before being resolved.
    held = make_incident(desk, "in_progress")
    with rls.tenant_scope(tenant.pk):
        ids = {"tenant": tenant, "actor": admin}
        fix: dict[str, Any] = {"resolution_code": "fixed", "resolution_notes": "Restarted."}
        services.incident_reopen(**ids, incident_id=reopened.pk, reason="Still down.")
        services.incident_resolve(**ids, incident_id=reopened.pk, **fix)
        services.incident_reopen(**ids, incident_id=open_again.pk, reason="Still down.")
        services.incident_hold(**ids, incident_id=held.pk, hold_reason="awaiting_caller")
        services.incident_resume(**ids, incident_id=held.pk)
        services.incident_resolve(**ids, incident_id=held.pk, **fix)
        assert Incident.objects.get(pk=reopened.pk).reopen_count == 1
        assert Incident.objects.get(pk=open_again.pk).resolved_at is None
    set_facts(desk, reopened, created_at=at(4, 8), resolved_at=at(6, 8))  # 2 days
    set_facts(desk, open_again, created_at=at(5, 8))
    set_facts(desk, held, created_at=at(7, 9), resolved_at=at(7, 13))  # 4 h, on hold or not
    incident(desk, at(16, 20), resolved_at=at(17, 2), status="resolved")  # resolved after: out

    figures = summary(desk)
    mttr = figures["mttr"]

    # Seconds, sorted: 14400 (held), 172800 (reopened, last resolution).
    # mean = 187200 / 2 = 93600; median = 93600; p90 = 14400 + 0.9 × 158400 = 156960.
    assert (mttr.count, mttr.value, mttr.median, mttr.p90) == (2, 93600, 93600, 156960)
    # Reopen rate: 1 of the 2 resolved was reopened before that resolution.
    assert figures["reopen_rate"].value == 1 / 2
    assert figures["reopen_rate"].parts == {"resolved": 2}
    # The one open again is in the backlog, not in the resolution figures.
    assert figures["backlog"].value == 1


def test_reopen_rate_counts_an_incident_open_again_only_once_it_is_resolved_again(desk):
    tenant, admin = desk.tenant, desk.admin
    once = make_incident(desk, "resolved")
    never = make_incident(desk, "resolved")
    with rls.tenant_scope(tenant.pk):
        services.incident_reopen(tenant=tenant, actor=admin, incident_id=once.pk, reason="No.")
    set_facts(desk, once, created_at=at(4, 8))
    set_facts(desk, never, created_at=at(4, 8), resolved_at=at(5, 8))

    # Open again: 0 reopened of 1 resolved.
    assert summary(desk)["reopen_rate"].value == 0

    with rls.tenant_scope(tenant.pk):
        services.incident_resolve(
            tenant=tenant,
            actor=admin,
            incident_id=once.pk,
            resolution_code="fixed",
            resolution_notes="Really fixed.",
        )
    set_facts(desk, once, resolved_at=at(6, 8))

    # Resolved again: 1 reopened of 2 resolved.
    assert summary(desk)["reopen_rate"].value == 1 / 2
    rows = rows_by_bucket(detail(desk, "reopen_rate"))
    assert rows[date(2025, 3, 5)] == {"bucket": date(2025, 3, 5), "rate": 0.0, "resolved": 1}
    assert rows[date(2025, 3, 6)] == {"bucket": date(2025, 3, 6), "rate": 1.0, "resolved": 1}
    assert rows[date(2025, 3, 7)] == {"bucket": date(2025, 3, 7), "rate": None, "resolved": 0}


def test_time_to_close_measures_closed_incidents_and_leaves_cancelled_ones_out(desk):
    closed = IncidentStatus.CLOSED
    incident(desk, at(4, 10), resolved_at=at(5, 10), closed_at=at(8, 10), status=closed)  # 4 days
    incident(desk, at(10, 0), resolved_at=at(10, 5), closed_at=at(10, 6), status=closed)  # 6 h
    incident(desk, at(10, 0), closed_at=at(11, 0), status=IncidentStatus.CANCELLED)  # out
    incident(desk, at(16, 0), resolved_at=at(16, 1), closed_at=at(17, 1), status=closed)  # after

    close = summary(desk)["time_to_close"]

    # Seconds: 21600 and 345600. mean = median = 367200 / 2 = 183600;
    # p90 = 21600 + 0.9 × (345600 - 21600) = 313200.
    assert (close.count, close.value, close.median, close.p90) == (2, 183600, 183600, 313200)


# --- MTBF --------------------------------------------------------------------------------------


def test_mtbf_takes_the_sev1_and_sev2_starts_per_service_and_together(desk):
    mail = desk.service
    web = ServiceFactory(tenant=desk.tenant, name="Web shop", slug="web", owner_team=desk.l2)
    # Started when it occurred (6:00), not when it was reported (8:00).
    incident(desk, at(4, 8), priority=1, service=mail, occurred_at=at(4, 6))
    # No occurrence time: started when detected.
    incident(desk, at(6, 7), priority=2, service=mail, detected_at=at(6, 6))
    # Neither: started when reported.
    incident(desk, at(10, 6), priority=1, service=mail)
    incident(desk, at(8, 6), priority=1, service=mail, status=IncidentStatus.CANCELLED)  # out
    incident(desk, at(5, 6), priority=3, service=mail)  # SEV3: out
    incident(desk, at(3, 1), priority=1, service=mail, occurred_at=at(2, 23))  # started before
    incident(desk, at(12, 12), priority=2, service=web)

    mtbf = summary(desk)["mtbf"]

    # Four starts: 4 Mar 06:00, 6 Mar 06:00, 10 Mar 06:00 (mail), 12 Mar 12:00 (web).
    # (last - first) / (4 - 1) = (8 days 6 h = 712800 s) / 3 = 237600.
    assert (mtbf.count, mtbf.value) == (4, 237600)

    table = detail(desk, "mtbf").rows
    # Mail: (10 Mar 06:00 - 4 Mar 06:00 = 518400 s) / 2 = 259200; Web: one start, no figure.
    by_service = {row["service"]: row for row in table}
    assert by_service == {
        mail.name: {"service": mail.name, "mtbf": 259200, "starts": 3},
        "Web shop": {"service": "Web shop", "mtbf": None, "starts": 1},
    }

    # 11–16 March: one start (web) is not enough for a figure.
    lone = summary(desk, query(date(2025, 3, 11), LAST))["mtbf"]
    assert (lone.count, lone.value) == (1, None)


# --- Rates over resolved incidents -------------------------------------------------------------


def test_escalation_first_contact_and_first_assignment_rates_follow_the_services_counters(desk):
    tenant, admin = desk.tenant, desk.admin
    ids = {"tenant": tenant, "actor": admin}
    fix: dict[str, Any] = {"resolution_code": "fixed", "resolution_notes": "Done."}

    functional = make_incident(desk, "in_progress")  # L1 → L2
    hierarchical = make_incident(desk, "in_progress")  # management engaged
    both = make_incident(desk, "in_progress")  # L1 → L2, then management
    first_contact = make_incident(desk, "in_progress")  # L1 resolves it alone
    reassigned = make_incident(desk, "in_progress")  # moved from L1 to L2 by assignment
    second_line = make_incident(desk, "new", assignment_team=desk.l2)  # L2 from the start
    reopened = make_incident(desk, "in_progress")  # L1, resolved, reopened, resolved
    still_open = make_incident(desk, "in_progress")  # escalated but not resolved: not counted
    with rls.tenant_scope(tenant.pk):
        for made in (functional, both, still_open):
            services.incident_escalate(
                **ids, incident_id=made.pk, kind="functional", reason="Needs L2."
            )
        for made in (hierarchical, both):
            services.incident_escalate(
                **ids, incident_id=made.pk, kind="hierarchical", reason="Customer impact."
            )
        services.incident_assign(**ids, incident_id=reassigned.pk, team=desk.l2)
        services.incident_acknowledge(**ids, incident_id=second_line.pk)
        resolved = (functional, hierarchical, both, first_contact, reassigned, second_line)
        for made in (*resolved, reopened):
            services.incident_resolve(**ids, incident_id=made.pk, **fix)
        services.incident_reopen(**ids, incident_id=reopened.pk, reason="Back again.")
        services.incident_resolve(**ids, incident_id=reopened.pk, **fix)
        stored = {
            made.pk: Incident.objects.values(
                "functional_escalation_count",
                "hierarchical_escalation_count",
                "reassignment_count",
                "first_contact_resolution",
            ).get(pk=made.pk)
            for made in (both, first_contact, reassigned, reopened)
        }
    # What the services stored, which the rates count:
    assert stored[both.pk]["functional_escalation_count"] == 1
    assert stored[both.pk]["hierarchical_escalation_count"] == 1
    assert stored[first_contact.pk]["first_contact_resolution"] is True
    assert stored[reassigned.pk]["reassignment_count"] == 1
    assert stored[reopened.pk]["first_contact_resolution"] is False
    for made in (*resolved, reopened, still_open):
        set_facts(desk, made, created_at=at(4, 9), resolved_at=at(5, 9))
    set_facts(desk, still_open, resolved_at=None)

    figures = summary(desk)

    # 7 resolved in the period. Escalated: functional, hierarchical, both → 3/7 (both once);
    # functionally: functional, both → 2/7; hierarchically: hierarchical, both → 2/7.
    escalation = figures["escalation_rate"]
    assert (escalation.value, escalation.count) == (3 / 7, 7)
    assert escalation.parts == {"resolved": 7, "functional": 2 / 7, "hierarchical": 2 / 7}
    # First contact: only the L1 incident resolved alone → 1/7 (the L2 one, the reassigned,
    # the escalated and the reopened ones do not qualify).
    assert figures["first_contact_rate"].value == 1 / 7
    # First assignment (never reassigned, never escalated functionally, any tier):
    # hierarchical, first_contact, second_line, reopened → 4/7.
    assert figures["first_assignment_rate"].value == 4 / 7

    rows = rows_by_bucket(detail(desk, "escalation_rate"))
    assert rows[date(2025, 3, 5)] == {
        "bucket": date(2025, 3, 5),
        "rate": 3 / 7,
        "functional": 2 / 7,
        "hierarchical": 2 / 7,
        "resolved": 7,
    }
    assert rows[date(2025, 3, 6)]["rate"] is None


# --- Detection source --------------------------------------------------------------------------


def test_detection_source_compares_monitoring_with_customer_reports_and_counts_proactive_apart(
    desk,
):
    sources = [
        (at(3, 9), IncidentSource.MONITORING),
        (at(3, 10), IncidentSource.MONITORING),
        (at(10, 9), IncidentSource.MONITORING),
        (at(3, 11), IncidentSource.USER),
        (at(4, 9), IncidentSource.PHONE),
        (at(11, 9), IncidentSource.PORTAL),
        (at(11, 10), IncidentSource.CHAT),
        (at(11, 11), IncidentSource.EMAIL),
        (at(5, 9), IncidentSource.PROACTIVE),
        (at(12, 9), IncidentSource.PROACTIVE),
        (at(2, 9), IncidentSource.MONITORING),  # before the period
    ]
    for created, source in sources:
        incident(desk, created, source=source)

    found = summary(desk)["detection_source"]

    # Monitoring 3, customer 5 (user, phone, portal, chat, e-mail), proactive 2 apart.
    # Share = 3 / (3 + 5); customers per monitored incident = 5 / 3.
    assert (found.value, found.count) == (3 / 8, 8)
    assert found.parts == {
        "monitoring": 3,
        "customer": 5,
        "proactive": 2,
        "customer_per_monitoring": 5 / 3,
    }
    weeks = detail(desk, "detection_source", query(interval=WEEK)).rows
    assert weeks == [
        {
            "bucket": date(2025, 3, 3),
            "monitoring_count": 2,
            "customer_count": 2,
            "proactive_count": 1,
        },
        {
            "bucket": date(2025, 3, 10),
            "monitoring_count": 1,
            "customer_count": 3,
            "proactive_count": 1,
        },
    ]


# --- Backlog -----------------------------------------------------------------------------------


def test_backlog_counts_the_open_incidents_now_by_age_band_whatever_the_period(desk):
    open_ones = [
        (NOW - timedelta(hours=1), IncidentStatus.NEW, 1),  # 3600 s: under 1 day
        (NOW - timedelta(days=1), IncidentStatus.IN_PROGRESS, 2),  # exactly 1 day: 1–3 days
        (NOW - timedelta(days=2), IncidentStatus.ON_HOLD, 2),  # 172800 s: 1–3 days
        (NOW - timedelta(days=5), IncidentStatus.NEW, 4),  # 432000 s: 3–7 days
        (NOW - timedelta(days=10), IncidentStatus.IN_PROGRESS, 3),  # 864000 s: 7–30 days
        (NOW - timedelta(days=40), IncidentStatus.ON_HOLD, 4),  # 3456000 s: 30 days and more
    ]
    for created, status, priority in open_ones:
        incident(desk, created, status=status, priority=priority)
    for status in (IncidentStatus.RESOLVED, IncidentStatus.CLOSED, IncidentStatus.CANCELLED):
        incident(desk, NOW - timedelta(days=2), status=status)

    # A period with nothing in it: the backlog is a snapshot of now.
    empty = query(date(2024, 1, 1), date(2024, 1, 7))
    figures = summary(desk, empty)

    assert (figures["backlog"].value, figures["backlog"].count) == (6, 6)
    age = figures["backlog_age"]
    # Ages: 3600, 86400, 172800, 432000, 864000, 3456000 (sum 5014800).
    # mean = 5014800 / 6 = 835800; median: rank 2.5 → 172800 + 0.5 × 259200 = 302400;
    # p90: rank 4.5 → 864000 + 0.5 × 2592000 = 2160000.
    assert (age.count, age.value, age.median, age.p90) == (6, 835800, 302400, 2160000)

    bands = detail(desk, "backlog", empty).rows
    assert bands == [
        {"band": "under 1 day", "sev1": 1, "sev2": 0, "sev3": 0, "sev4": 0},
        {"band": "1–3 days", "sev1": 0, "sev2": 2, "sev3": 0, "sev4": 0},
        {"band": "3–7 days", "sev1": 0, "sev2": 0, "sev3": 0, "sev4": 1},
        {"band": "7–30 days", "sev1": 0, "sev2": 0, "sev3": 1, "sev4": 0},
        {"band": "30 days and more", "sev1": 0, "sev2": 0, "sev3": 0, "sev4": 1},
    ]
    assert detail(desk, "backlog_age", empty).rows == bands
    assert len(export_references(desk, "backlog", empty)) == 6


# --- SLA ---------------------------------------------------------------------------------------


def _clock(desk: Desk, made: Incident, kind: str, **outcome: datetime) -> None:
    with rls.tenant_scope(desk.tenant.pk):
        assert SlaClock.objects.filter(incident_id=made.pk, kind=kind).update(**outcome) == 1


def test_sla_compliance_counts_each_clock_on_the_day_of_its_outcome_per_policy_and_priority(desk):
    # Incidents of the desk's service fall under the default SEV4 policy; those of the
    # partner service under "Gold". The clocks are the ones the services started.
    partner = ServiceFactory(tenant=desk.tenant, slug="partner", owner_team=desk.l2)
    SlaPolicyFactory(tenant=desk.tenant, name="Gold", slug="gold", order=1, service=partner)
    one, two, five = (make_incident(desk) for _ in range(3))
    three, four = (make_incident(desk, service=partner) for _ in range(2))
    with rls.tenant_scope(desk.tenant.pk):
        policies = dict(
            SlaClock.objects.filter(kind="response").values_list("incident_id", "policy__name")
        )
    assert policies == {
        one.pk: "Default SEV4",
        two.pk: "Default SEV4",
        five.pk: "Default SEV4",
        three.pk: "Gold",
        four.pk: "Gold",
    }
    set_facts(desk, four, priority=2)  # SLA figures group by the priority as it is now

    _clock(desk, one, "response", stopped_at=at(4, 9))  # met on 4 Mar
    _clock(desk, one, "resolution", breached_at=at(5, 9))  # breached on 5 Mar (still running)
    # Breached on 6 Mar, stopped later the same day: a breach, counted once.
    _clock(desk, two, "response", breached_at=at(6, 9), stopped_at=at(6, 10))
    _clock(desk, two, "resolution", stopped_at=at(7, 9))  # met
    _clock(desk, three, "response", stopped_at=at(8, 9))  # met
    _clock(desk, three, "resolution", stopped_at=at(9, 9))  # met
    _clock(desk, four, "response", stopped_at=at(10, 9))  # met; its resolution clock runs on
    # Breached before the period and stopped inside it: its outcome fell before the period.
    _clock(desk, five, "response", breached_at=at(2, 9), stopped_at=at(3, 9))
    _clock(desk, five, "resolution", stopped_at=at(17, 9))  # met after the period
    # Cancelled incidents: a clock stopped by the cancellation is no success and is left out;
    # one that breached before stays a breach.
    six, seven = make_incident(desk), make_incident(desk)
    set_facts(desk, six, status="cancelled")
    set_facts(desk, seven, status="cancelled")
    _clock(desk, six, "response", stopped_at=at(11, 9))  # left out
    _clock(desk, seven, "response", breached_at=at(11, 9), stopped_at=at(11, 10))  # breached

    compliance = summary(desk)["sla_compliance"]

    # Response: met one, three, four; breached two, seven → 3/5.
    # Resolution: met two, three; breached one → 2/3. All: 5 met, 3 breached → 5/8.
    assert (compliance.value, compliance.count) == (5 / 8, 8)
    assert compliance.parts == {"met": 5, "breached": 3, "response": 3 / 5, "resolution": 2 / 3}

    table = detail(desk, "sla_compliance").rows
    assert [(row["policy"], str(row["priority"])) for row in table] == [
        ("Default SEV4", "SEV4"),
        ("Gold", "SEV2"),
        ("Gold", "SEV4"),
    ]
    default, gold_sev2, gold_sev4 = table
    # Default SEV4: response met 1 (one) / breached 2 (two, seven); resolution met 1 /
    # breached 1.
    assert (default["response"], default["resolution"]) == (1 / 3, 1 / 2)
    assert (default["met"], default["breached"]) == (2, 3)
    # Gold SEV2 (four): its response met, no resolution outcome yet.
    assert (gold_sev2["response"], gold_sev2["resolution"]) == (1.0, None)
    assert (gold_sev2["met"], gold_sev2["breached"]) == (1, 0)
    # Gold SEV4 (three): both met.
    assert (gold_sev4["response"], gold_sev4["resolution"]) == (1.0, 1.0)
    assert (gold_sev4["met"], gold_sev4["breached"]) == (2, 0)
    with rls.tenant_scope(desk.tenant.pk):
        exported = list(
            IncidentReport(desk.tenant, query(), use_rollups=False).export("sla_compliance").rows
        )
    assert sorted(row[5] for row in exported) == ["breached"] * 3 + ["met"] * 5

    # Only priority SEV2: Gold's one met response clock.
    only_sev2 = summary(desk, query(priorities=(2,)))["sla_compliance"]
    assert (only_sev2.value, only_sev2.count) == (1.0, 1)


# --- The period's edges ------------------------------------------------------------------------


def test_an_incident_created_before_the_period_and_resolved_in_it_counts_for_mttr_not_volume(
    desk,
):
    incident(desk, at(1, 12), resolved_at=at(3, 12), status="resolved")  # 2 days
    incident(desk, at(4, 12), resolved_at=at(4, 18), status="resolved")  # 6 h, created in it

    figures = summary(desk)

    assert figures["volume"].value == 1
    # (172800 + 21600) / 2 = 97200
    assert (figures["mttr"].count, figures["mttr"].value) == (2, 97200)
    # And the other way round: created on 16 March, resolved on the 17th, counts for volume only.
    incident(desk, at(16, 12), resolved_at=at(17, 6), status="resolved")
    figures = summary(desk)
    assert (figures["volume"].value, figures["mttr"].count) == (2, 2)


def test_events_land_on_the_local_day_of_the_tenants_business_calendar(desk):
    BusinessCalendarFactory(tenant=desk.tenant, time_zone="Europe/Berlin")
    with rls.tenant_scope(desk.tenant.pk):
        berlin = tenant_time_zone(tenant=desk.tenant)
    assert berlin.key == "Europe/Berlin"
    # Berlin is UTC+1 in early March.
    incident(desk, datetime(2025, 3, 5, 22, 30, tzinfo=UTC))  # 23:30 on 5 March in Berlin
    incident(desk, datetime(2025, 3, 4, 23, 30, tzinfo=UTC))  # 00:30 on 5 March in Berlin
    incident(desk, datetime(2025, 3, 5, 23, 30, tzinfo=UTC))  # 00:30 on 6 March in Berlin

    fifth = query(date(2025, 3, 5), date(2025, 3, 5), zone=berlin)
    assert summary(desk, fifth)["volume"].value == 2
    rows = detail(desk, "volume", query(date(2025, 3, 4), date(2025, 3, 6), zone=berlin)).rows
    assert [(row["bucket"], row["sev4"]) for row in rows] == [
        (date(2025, 3, 4), 0),
        (date(2025, 3, 5), 2),
        (date(2025, 3, 6), 1),
    ]
    # In UTC the same incidents fall on the 4th, 5th and 5th.
    utc_rows = detail(desk, "volume", query(date(2025, 3, 4), date(2025, 3, 6))).rows
    assert [row["sev4"] for row in utc_rows] == [1, 2, 0]

    # Acknowledged at 23:30 UTC on Sunday 9 March: 00:30 on Monday the 10th in Berlin, so in
    # Berlin's week of 10 March and in UTC's week of 3 March (1800 s either way).
    incident(
        desk,
        datetime(2025, 3, 9, 23, 0, tzinfo=UTC),
        acknowledged_at=datetime(2025, 3, 9, 23, 30, tzinfo=UTC),
    )
    weeks: dict[str, Any] = {"interval": WEEK, "first": FIRST, "last": LAST}
    berlin_weeks = detail(desk, "mtta", query(**weeks, zone=berlin)).rows
    utc_weeks = detail(desk, "mtta", query(**weeks)).rows
    assert [(row["bucket"], row["count"], row["mean"]) for row in berlin_weeks] == [
        (date(2025, 3, 3), 0, None),
        (date(2025, 3, 10), 1, 1800),
    ]
    assert [(row["bucket"], row["count"], row["mean"]) for row in utc_weeks] == [
        (date(2025, 3, 3), 1, 1800),
        (date(2025, 3, 10), 0, None),
    ]


def test_an_empty_period_has_no_figures_and_zero_counts(desk):
    incident(desk, at(10, 9), acknowledged_at=at(10, 10), resolved_at=at(10, 11), status="resolved")
    empty = query(date(2024, 1, 1), date(2024, 1, 14))

    figures = summary(desk, empty)

    counts = {"volume": 0, "backlog": 0}
    for key, figure in figures.items():
        assert figure.value == counts.get(key), key
        assert figure.count == 0, key
        assert figure.median is None, key
        assert figure.p90 is None, key
    assert figures["sla_compliance"].parts == {
        "met": 0,
        "breached": 0,
        "response": None,
        "resolution": None,
    }
    with rls.tenant_scope(desk.tenant.pk):
        report = IncidentReport(desk.tenant, empty, use_rollups=False, now=NOW)
        tables = {found.figure.definition.key: found for found in report.details(list(figures))}
        exports = {key: list(report.export(key).rows) for key in figures}
    assert tables["volume"].rows == [
        {"bucket": date(2024, 1, 1) + timedelta(days=n), "sev1": 0, "sev2": 0, "sev3": 0, "sev4": 0}
        for n in range(14)
    ]
    assert {row["count"] for row in tables["mttr"].rows} == {0}
    assert {row["rate"] for row in tables["escalation_rate"].rows} == {None}
    assert tables["mtbf"].rows == []
    assert tables["sla_compliance"].rows == []
    assert all(rows == [] for rows in exports.values())


# --- Filters -----------------------------------------------------------------------------------


def test_service_team_priority_and_category_filters_each_narrow_the_figures(desk):
    mail, software = desk.service, desk.category
    web = ServiceFactory(tenant=desk.tenant, slug="web", owner_team=desk.l2)
    hardware = CategoryFactory(tenant=desk.tenant, slug="hardware")
    # (service, team, priority, category, hours to resolve)
    scripted = {
        "p": (mail, desk.l1, 1, software, 1),
        "q": (web, desk.l2, 2, None, 2),
        "r": (mail, desk.l2, 3, hardware, 3),
        "s": (None, None, 4, None, 4),
    }
    for day, (service, team, priority, category, hours) in enumerate(scripted.values(), start=4):
        incident(
            desk,
            at(day, 8),
            service=service,
            assignment_team=team,
            priority=priority,
            category=category,
            resolved_at=at(day, 8 + hours),
            status="resolved",
        )

    def narrowed(**filters: Any) -> tuple[float | None, float | None]:
        figures = summary(desk, query(**filters))
        return figures["volume"].value, figures["mttr"].value

    # Volume, and MTTR as the mean of the resolution hours × 3600.
    assert narrowed() == (4, (1 + 2 + 3 + 4) / 4 * HOUR)
    assert narrowed(services=(mail,)) == (2, (1 + 3) / 2 * HOUR)  # p, r
    assert narrowed(teams=(desk.l2,)) == (2, (2 + 3) / 2 * HOUR)  # q, r
    assert narrowed(priorities=(1, 2)) == (2, (1 + 2) / 2 * HOUR)  # p, q
    assert narrowed(categories=(software,)) == (1, 1 * HOUR)  # p
    assert narrowed(services=(mail,), teams=(desk.l2,)) == (1, 3 * HOUR)  # r
    assert narrowed(categories=(hardware, software), priorities=(3,)) == (1, 3 * HOUR)  # r
    assert narrowed(services=(web,), teams=(desk.l1,)) == (0, None)
    # The exports narrow the same way.
    assert len(export_references(desk, "volume", query(teams=(desk.l2,)))) == 2
    assert summary(desk, query(priorities=(3, 4)))["mtbf"].count == 0  # no SEV1/SEV2 left
