"""The problem and change figures, computed by hand: which rows each counts (local days in a
zone an hour from UTC, both ends of the period to the second), the buckets, the service
filter, another tenant's rows, an empty period, the rows of each export, and a query count
that does not grow with the rows."""

from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from changes.choices import ChangeOutcome, ChangeStatus
from changes.metrics import ChangeMetrics, ChangeReport
from changes.models import Change, ChangeIncident, ChangeService
from itsm.catalog.models import Service
from itsm.metrics import registry
from itsm.metrics.query import DAY, WEEK, MetricQuery, Period
from itsm.tenancy import rls
from itsm.tenancy.models import Tenant
from problems.choices import ProblemStatus
from problems.metrics import ProblemMetrics, ProblemReport
from problems.models import Problem, ProblemService
from tests.factories import ChangeFactory, IncidentFactory, ProblemFactory, ServiceFactory

BERLIN = ZoneInfo("Europe/Berlin")  # UTC+1 in March 2026 (summer time starts on the 29th)
# Wednesday 4 to Sunday 15 March 2026, by ISO week: the weeks of Monday 2 and Monday 9.
FIRST, LAST = date(2026, 3, 4), date(2026, 3, 15)
WEEK_2, WEEK_9 = date(2026, 3, 2), date(2026, 3, 9)


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def week_query(*services: Service) -> MetricQuery:
    return MetricQuery(period=Period(FIRST, LAST, BERLIN, WEEK), services=services)


@pytest.fixture
def services(tenant_a: Tenant) -> tuple[Service, Service]:
    return ServiceFactory(tenant=tenant_a), ServiceFactory(tenant=tenant_a)


def make_problem(
    tenant: Tenant,
    *,
    created: datetime,
    resolved: datetime | None = None,
    services: Sequence[Service] = (),
) -> Problem:
    """A problem created (and resolved) at the given times, affecting `services`."""
    problem = ProblemFactory(tenant=tenant)
    status = ProblemStatus.RESOLVED if resolved else ProblemStatus.UNDER_INVESTIGATION
    with rls.tenant_scope(tenant.pk):
        Problem.objects.filter(pk=problem.pk).update(
            created_at=created, resolved_at=resolved, status=status
        )
        for service in services:
            ProblemService.objects.create(tenant=tenant, problem=problem, service=service)
    return problem


def make_change(
    tenant: Tenant,
    *,
    closed: datetime | None,
    outcome: str = "",
    services: Sequence[Service] = (),
    incidents: int = 0,
) -> Change:
    """A change closed at `closed` with `outcome` ("" and a close time: cancelled), that
    caused `incidents` incidents."""
    change = ChangeFactory(tenant=tenant)
    if closed is None:
        status = ChangeStatus.IMPLEMENTING
    else:
        status = ChangeStatus.CLOSED if outcome else ChangeStatus.CANCELLED
    caused = [IncidentFactory(tenant=tenant) for _ in range(incidents)]
    with rls.tenant_scope(tenant.pk):
        Change.objects.filter(pk=change.pk).update(closed_at=closed, outcome=outcome, status=status)
        for service in services:
            ChangeService.objects.create(tenant=tenant, change=change, service=service)
        for incident in caused:
            ChangeIncident.objects.create(tenant=tenant, change=change, incident=incident)
    return change


def test_the_providers_are_registered() -> None:
    assert isinstance(registry.provider_of("problems_opened"), ProblemMetrics)
    assert isinstance(registry.provider_of("problems_resolved"), ProblemMetrics)
    assert isinstance(registry.provider_of("change_failure_rate"), ChangeMetrics)
    sections = {d.key: (d.section, d.filters) for d in registry.definitions()}
    assert sections["problems_opened"] == ("problems", frozenset({"service"}))
    assert sections["change_failure_rate"] == ("changes", frozenset({"service"}))


# --- Problems ----------------------------------------------------------------------------------


@pytest.fixture
def problems(
    tenant_a: Tenant, tenant_b: Tenant, services: tuple[Service, Service]
) -> dict[str, Problem]:
    s1, s2 = services
    made = {
        # 23:59:59 on Tuesday 3 in Berlin: opened before the period; resolved in week 2.
        "p1": make_problem(
            tenant_a, created=utc(2026, 3, 3, 22, 59, 59), resolved=utc(2026, 3, 5, 10)
        ),
        # Midnight starting Wednesday 4 in Berlin: the period's first instant.
        "p2": make_problem(tenant_a, created=utc(2026, 3, 3, 23), services=[s1]),
        # Sunday 8 in UTC but Monday 9 in Berlin: week 9. Resolved at the period's last second.
        "p3": make_problem(
            tenant_a,
            created=utc(2026, 3, 8, 23, 30),
            resolved=utc(2026, 3, 15, 22, 59, 59),
            services=[s1, s2],
        ),
        # Resolved at midnight starting Monday 16 in Berlin: after the period.
        "p4": make_problem(
            tenant_a, created=utc(2026, 3, 10, 12), resolved=utc(2026, 3, 15, 23), services=[s2]
        ),
        "p5": make_problem(tenant_a, created=utc(2026, 3, 15, 23)),  # after the period
    }
    # Another tenant's problem inside the period: never counted.
    make_problem(tenant_b, created=utc(2026, 3, 10), resolved=utc(2026, 3, 11))
    return made


def problem_figures(tenant: Tenant, query: MetricQuery) -> dict[str, Any]:
    with rls.tenant_scope(tenant.pk):
        report = ProblemReport(tenant, query)
        return {
            "summary": {f.definition.key: (f.value, f.count) for f in report.summary()},
            "rows": report.details(["problems_opened"])[0].rows,
        }


@pytest.mark.django_db
def test_problems_opened_and_resolved_by_local_week(
    tenant_a: Tenant, problems: dict[str, Problem]
) -> None:
    found = problem_figures(tenant_a, week_query())

    assert found["summary"] == {"problems_opened": (3, 3), "problems_resolved": (2, 2)}
    assert found["rows"] == [
        {"bucket": WEEK_2, "opened": 1, "resolved": 1},  # p2; p1
        {"bucket": WEEK_9, "opened": 2, "resolved": 1},  # p3, p4; p3
    ]


@pytest.mark.django_db
def test_problems_by_local_day(tenant_a: Tenant, problems: dict[str, Problem]) -> None:
    query = MetricQuery(period=Period(date(2026, 3, 4), date(2026, 3, 5), BERLIN, DAY))

    found = problem_figures(tenant_a, query)

    assert found["summary"] == {"problems_opened": (1, 1), "problems_resolved": (1, 1)}
    assert found["rows"] == [
        {"bucket": date(2026, 3, 4), "opened": 1, "resolved": 0},  # p2
        {"bucket": date(2026, 3, 5), "opened": 0, "resolved": 1},  # p1
    ]


@pytest.mark.django_db
def test_problems_of_the_filtered_services(
    tenant_a: Tenant, problems: dict[str, Problem], services: tuple[Service, Service]
) -> None:
    s1, s2 = services

    only_s1 = problem_figures(tenant_a, week_query(s1))
    both = problem_figures(tenant_a, week_query(s1, s2))

    assert only_s1["summary"] == {"problems_opened": (2, 2), "problems_resolved": (1, 1)}
    assert only_s1["rows"] == [
        {"bucket": WEEK_2, "opened": 1, "resolved": 0},  # p2
        {"bucket": WEEK_9, "opened": 1, "resolved": 1},  # p3; p3
    ]
    # p3 affects both services and still counts once.
    assert both["summary"] == {"problems_opened": (3, 3), "problems_resolved": (1, 1)}


@pytest.mark.django_db
def test_problems_in_an_empty_period(tenant_a: Tenant, problems: dict[str, Problem]) -> None:
    query = MetricQuery(period=Period(date(2025, 6, 2), date(2025, 6, 15), BERLIN, WEEK))

    found = problem_figures(tenant_a, query)

    assert found["summary"] == {"problems_opened": (0, 0), "problems_resolved": (0, 0)}
    assert found["rows"] == [
        {"bucket": date(2025, 6, 2), "opened": 0, "resolved": 0},
        {"bucket": date(2025, 6, 9), "opened": 0, "resolved": 0},
    ]


@pytest.mark.django_db
def test_another_tenants_problems_are_not_counted(
    tenant_b: Tenant, problems: dict[str, Problem]
) -> None:
    found = problem_figures(tenant_b, week_query())

    assert found["summary"] == {"problems_opened": (1, 1), "problems_resolved": (1, 1)}


@pytest.mark.django_db
def test_problem_exports_list_the_problems_counted(
    tenant_a: Tenant, problems: dict[str, Problem]
) -> None:
    with rls.tenant_scope(tenant_a.pk):
        report = ProblemReport(tenant_a, week_query())
        opened = report.export("problems_opened")
        resolved = report.export("problems_resolved")
        opened_rows, resolved_rows = list(opened.rows), list(resolved.rows)

    assert opened.filename == "tenant-a-problems_opened-2026-03-04_2026-03-15.csv"
    assert opened.header[0] == "reference"
    assert [row[0] for row in opened_rows] == [problems[k].reference for k in ("p2", "p3", "p4")]
    assert [row[0] for row in resolved_rows] == [problems[k].reference for k in ("p1", "p3")]
    p3 = dict(zip(opened.header, opened_rows[1], strict=True))
    assert p3["created_at"] == "2026-03-08T23:30:00+00:00"
    assert p3["resolved_at"] == "2026-03-15T22:59:59+00:00"
    assert p3["status"] == ProblemStatus.RESOLVED
    assert p3["closed_at"] == ""


# --- Changes -----------------------------------------------------------------------------------


@pytest.fixture
def changes(
    tenant_a: Tenant, tenant_b: Tenant, services: tuple[Service, Service]
) -> dict[str, Change]:
    s1, s2 = services
    failed, backed_out = ChangeOutcome.FAILED, ChangeOutcome.BACKED_OUT
    successful = ChangeOutcome.SUCCESSFUL
    made = {
        # 23:59:59 on Tuesday 3 in Berlin: before the period.
        "c1": make_change(tenant_a, closed=utc(2026, 3, 3, 22, 59, 59), outcome=failed),
        # The period's first instant; successful, no incident.
        "c2": make_change(tenant_a, closed=utc(2026, 3, 3, 23), outcome=successful),
        # Successful but caused two incidents: a failure, counted once.
        "c3": make_change(
            tenant_a,
            closed=utc(2026, 3, 5, 12),
            outcome=successful,
            services=[s1],
            incidents=2,
        ),
        # Monday 9 in Berlin (Sunday in UTC); failed and caused an incident: one failure.
        "c4": make_change(
            tenant_a, closed=utc(2026, 3, 8, 23, 30), outcome=failed, services=[s1], incidents=1
        ),
        "c5": make_change(tenant_a, closed=utc(2026, 3, 10, 9), outcome=backed_out, services=[s2]),
        "c6": make_change(tenant_a, closed=utc(2026, 3, 11, 9)),  # cancelled: no outcome
        "c7": make_change(tenant_a, closed=utc(2026, 3, 12, 9), outcome=successful, services=[s2]),
        # Midnight starting Monday 16 in Berlin: after the period.
        "c8": make_change(tenant_a, closed=utc(2026, 3, 15, 23), outcome=failed),
        "c9": make_change(tenant_a, closed=None, incidents=1),  # still open
    }
    make_change(tenant_b, closed=utc(2026, 3, 10), outcome=failed, incidents=1)
    return made


def change_figures(tenant: Tenant, query: MetricQuery) -> dict[str, Any]:
    with rls.tenant_scope(tenant.pk):
        report = ChangeReport(tenant, query)
        figure = report.summary()[0]
        detail = report.details(["change_failure_rate"])[0]
    return {
        "figure": (figure.value, figure.count, figure.parts),
        "chart": detail.chart,
        "columns": [column.key for column in detail.columns],
        "rows": detail.rows,
    }


@pytest.mark.django_db
def test_change_failure_rate_by_local_week(tenant_a: Tenant, changes: dict[str, Change]) -> None:
    found = change_figures(tenant_a, week_query())

    # Counted: c2, c3, c4, c5, c7; failures: c3 (incident), c4 (failed), c5 (backed out).
    assert found["figure"] == (
        3 / 5,
        5,
        {"successful": 3, "failed": 1, "backed_out": 1, "caused_incident": 2, "failures": 3},
    )
    assert found["chart"] == "stacked_bars"
    assert found["columns"] == [
        "bucket",
        "successful",
        "successful_caused_incident",
        "failed",
        "backed_out",
    ]
    assert found["rows"] == [
        {
            "bucket": WEEK_2,
            "successful": 1,
            "successful_caused_incident": 1,
            "failed": 0,
            "backed_out": 0,
        },  # c2; c3
        {
            "bucket": WEEK_9,
            "successful": 1,
            "successful_caused_incident": 0,
            "failed": 1,
            "backed_out": 1,
        },  # c7; c4; c5
    ]


@pytest.mark.django_db
def test_change_failure_rate_of_the_filtered_services(
    tenant_a: Tenant, changes: dict[str, Change], services: tuple[Service, Service]
) -> None:
    s1, s2 = services

    value_s1, count_s1, _ = change_figures(tenant_a, week_query(s1))["figure"]
    value_s2, count_s2, parts_s2 = change_figures(tenant_a, week_query(s2))["figure"]

    assert (value_s1, count_s1) == (1.0, 2)  # c3, c4
    assert (value_s2, count_s2) == (0.5, 2)  # c5 backed out, c7 successful
    assert parts_s2 == {
        "successful": 1,
        "failed": 0,
        "backed_out": 1,
        "caused_incident": 0,
        "failures": 1,
    }


@pytest.mark.django_db
def test_change_failure_rate_in_an_empty_period(
    tenant_a: Tenant, changes: dict[str, Change]
) -> None:
    query = MetricQuery(period=Period(date(2025, 6, 2), date(2025, 6, 3), BERLIN, DAY))

    found = change_figures(tenant_a, query)

    assert found["figure"][:2] == (None, 0)
    assert [row["failed"] + row["successful"] for row in found["rows"]] == [0, 0]


@pytest.mark.django_db
def test_another_tenants_changes_are_not_counted(
    tenant_b: Tenant, changes: dict[str, Change]
) -> None:
    value, count, parts = change_figures(tenant_b, week_query())["figure"]

    assert (value, count, parts["caused_incident"]) == (1.0, 1, 1)


@pytest.mark.django_db
def test_change_export_lists_the_changes_counted(
    tenant_a: Tenant, changes: dict[str, Change]
) -> None:
    with rls.tenant_scope(tenant_a.pk):
        export = ChangeReport(tenant_a, week_query()).export("change_failure_rate")
        rows = [dict(zip(export.header, row, strict=True)) for row in export.rows]

    assert [row["reference"] for row in rows] == [
        changes[key].reference for key in ("c2", "c3", "c4", "c5", "c7")
    ]
    assert [(row["outcome"], row["incidents_caused"]) for row in rows] == [
        ("successful", 0),
        ("successful", 2),
        ("failed", 1),
        ("backed_out", 0),
        ("successful", 0),
    ]
    assert rows[2]["closed_at"] == "2026-03-08T23:30:00+00:00"


# --- Cost --------------------------------------------------------------------------------------


def queries_of(tenant: Tenant, query: MetricQuery) -> Iterator[int]:
    """The queries a whole problem report, then a whole change report, runs: every figure,
    every table twice, the freshness."""
    with rls.tenant_scope(tenant.pk):
        for report in (ProblemReport(tenant, query), ChangeReport(tenant, query)):
            with CaptureQueriesContext(connection) as captured:
                keys = [figure.definition.key for figure in report.summary()]
                report.details(keys)
                report.details(keys)
                report.freshness()
            yield len(captured.captured_queries)


@pytest.mark.django_db
def test_a_report_reads_each_thing_once_however_many_rows(tenant_a: Tenant) -> None:
    query = week_query()
    empty = list(queries_of(tenant_a, query))
    for day in range(4, 16):
        make_problem(tenant_a, created=utc(2026, 3, day, 9), resolved=utc(2026, 3, day, 12))
        make_change(
            tenant_a, closed=utc(2026, 3, day, 9), outcome=ChangeOutcome.FAILED, incidents=1
        )

    busy = list(queries_of(tenant_a, query))

    # Problems: the opened and the resolved per bucket; changes: the outcomes per bucket.
    assert empty == busy == [2, 1]
