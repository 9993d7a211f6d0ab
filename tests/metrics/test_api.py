"""The metrics API: the summary, one metric's table and its CSV export, through HTTP.

Incidents are made with their stored times set by hand (a queryset update, as if they had lived
through them), so every expected figure below is worked out from those times in the comments.
The period is two whole weeks in the past, Monday 2 March to Sunday 15 March 2026, in the
tenant's own time zone.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from typing import Any

import pytest
from django.db import connection
from django.http import StreamingHttpResponse
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from incidents.choices import IncidentSource, IncidentStatus, SlaClockKind
from incidents.metrics.provider import IncidentMetrics
from incidents.models import Incident, SlaClock, SlaPolicy
from itsm.calendars.selectors import tenant_time_zone
from itsm.catalog.models import Service
from itsm.metrics.registry import MetricDefinition, definitions, provider_of
from itsm.tenancy import rls
from itsm.tenancy.choices import MembershipRole
from itsm.tenancy.models import Tenant
from itsm.timers.models import Timer
from tests.factories import IncidentFactory, ServiceFactory, SlaPolicyFactory
from tests.incidents.conftest import Desk, desk

__all__ = ["desk"]  # the fixture, imported to be used here

pytestmark = pytest.mark.django_db

FIRST, LAST = date(2026, 3, 2), date(2026, 3, 15)
PERIOD = {"from": FIRST.isoformat(), "to": LAST.isoformat()}
INCIDENT_KEYS = {definition.key for definition in IncidentMetrics.definitions}


def _key_id(definition: MetricDefinition) -> str:
    return definition.key


# --- Helpers --------------------------------------------------------------------------------------


def at(tenant: Tenant, day: date, hour: int = 12, minutes: int = 0) -> datetime:
    """A time on a local day of the tenant."""
    zone = tenant_time_zone(tenant=tenant)
    return datetime.combine(day, time(hour), tzinfo=zone) + timedelta(minutes=minutes)


def incident(tenant: Tenant, reporter: Any, priority: int = 3, **stored: Any) -> Incident:
    """An incident with its stored times and counts set as given (not through the services:
    the figures read what is stored, however it came to be)."""
    made = IncidentFactory(tenant=tenant, reported_by=reporter, priority=priority)
    with rls.tenant_scope(tenant.pk):
        Incident.objects.filter(pk=made.pk).update(**stored)
        found: Incident = Incident.objects.get(pk=made.pk)
    return found


def clock(
    tenant: Tenant,
    found: Incident,
    policy: SlaPolicy,
    kind: str,
    *,
    stopped_at: datetime | None = None,
    breached_at: datetime | None = None,
) -> SlaClock:
    with rls.tenant_scope(tenant.pk):
        made: SlaClock = SlaClock.objects.create(
            tenant=tenant,
            incident=found,
            kind=kind,
            policy=policy,
            target=timedelta(hours=1),
            started_at=found.created_at,
            timer=Timer.objects.create(tenant=tenant, kind="sla"),
            stopped_at=stopped_at,
            breached_at=breached_at,
        )
    return made


def url(tenant: Tenant, path: str = "") -> str:
    return f"/api/v1/t/{tenant.slug}/metrics/{path}"


def csv_rows(response: Any) -> list[list[str]]:
    """The streamed CSV, header line first."""
    assert isinstance(response, StreamingHttpResponse)
    text = b"".join(response.streaming_content).decode()  # type: ignore[arg-type]
    return list(csv.reader(text.splitlines()))


def same(left: Any, right: Any) -> bool:
    """Equal, numbers within a thousandth: an open incident's age grows between two requests."""
    if isinstance(left, dict) and isinstance(right, dict):
        return left.keys() == right.keys() and all(same(left[k], right[k]) for k in left)
    if isinstance(left, list) and isinstance(right, list):
        return len(left) == len(right) and all(map(same, left, right))
    if isinstance(left, float | int) and isinstance(right, float | int):
        return bool(left == pytest.approx(right, rel=1e-3))
    return bool(left == right)


@pytest.fixture
def client_of(api_client: Callable[..., APIClient]) -> Callable[[Any], APIClient]:
    return api_client


@pytest.fixture
def three(desk: Desk) -> list[Incident]:
    """Three incidents created in the period and one created before it, resolved in it:

    - A: SEV1, created Tue 3 Mar 12:00, acknowledged after 10 min, resolved after 1 h
    - B: SEV2, created Tue 3 Mar 13:00, acknowledged after 20 min, resolved after 2 h
    - C: SEV2, created Wed 4 Mar 12:00, acknowledged after 60 min, resolved after 6 h
    - D: SEV3, created Fri 20 Feb 12:00, acknowledged 5 min later (before the period),
      resolved Wed 4 Mar 12:00: 13 days later
    """
    tenant, reporter = desk.tenant, desk.requester
    tuesday, wednesday = date(2026, 3, 3), date(2026, 3, 4)

    def lived(priority: int, created: datetime, acknowledged: int, resolved: int) -> Incident:
        return incident(
            tenant,
            reporter,
            priority,
            title=f"Lived {created:%d %H}",
            status=IncidentStatus.RESOLVED,
            created_at=created,
            acknowledged_at=created + timedelta(minutes=acknowledged),
            resolved_at=created + timedelta(minutes=resolved),
        )

    return [
        lived(1, at(tenant, tuesday, 12), 10, 60),
        lived(2, at(tenant, tuesday, 13), 20, 120),
        lived(2, at(tenant, wednesday, 12), 60, 360),
        lived(3, at(tenant, date(2026, 2, 20), 12), 5, 13 * 24 * 60),
    ]


def populate(
    tenant: Tenant, reporter: Any, service: Service, policy: SlaPolicy, label: str
) -> None:
    """Incidents in `tenant` that every incident metric counts in the period: a monitored SEV1
    that was escalated, reopened, resolved and closed; a SEV2 a customer reported, resolved at
    first contact; two SEV1/SEV2 starts on the service (MTBF); one still open (the backlog); SLA
    clocks met and breached. Titles start with `label`, to tell the tenants' rows apart."""
    monday, tuesday, wednesday = FIRST, FIRST + timedelta(days=1), FIRST + timedelta(days=2)
    escalated = incident(
        tenant,
        reporter,
        1,
        title=f"{label}: escalated",
        service=service,
        source=IncidentSource.MONITORING,
        status=IncidentStatus.CLOSED,
        occurred_at=at(tenant, monday, 11, 30),
        created_at=at(tenant, monday, 12),
        acknowledged_at=at(tenant, monday, 12, 15),
        resolved_at=at(tenant, monday, 15),
        closed_at=at(tenant, tuesday, 15),
        escalation_count=1,
        functional_escalation_count=1,
        reopen_count=1,
    )
    first_contact = incident(
        tenant,
        reporter,
        2,
        title=f"{label}: first contact",
        service=service,
        source=IncidentSource.PHONE,
        status=IncidentStatus.RESOLVED,
        created_at=at(tenant, tuesday, 9),
        acknowledged_at=at(tenant, tuesday, 9, 5),
        resolved_at=at(tenant, tuesday, 9, 30),
        first_contact_resolution=True,
    )
    incident(
        tenant,
        reporter,
        4,
        title=f"{label}: open",
        status=IncidentStatus.IN_PROGRESS,
        created_at=at(tenant, wednesday, 10),
    )
    clock(tenant, escalated, policy, SlaClockKind.RESPONSE, stopped_at=at(tenant, monday, 12, 15))
    clock(tenant, escalated, policy, SlaClockKind.RESOLUTION, breached_at=at(tenant, monday, 13))
    clock(tenant, first_contact, policy, SlaClockKind.RESPONSE, stopped_at=at(tenant, tuesday, 9))


# --- The summary ----------------------------------------------------------------------------------


def test_the_summary_states_its_query_and_every_metric(desk, three, client_of):
    response = client_of(desk.manager).get(url(desk.tenant), PERIOD)

    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == {"period", "filters", "freshness", "metrics"}
    assert body["period"] == {
        "from": "2026-03-02",
        "to": "2026-03-15",
        "time_zone": tenant_time_zone(tenant=desk.tenant).key,
        "interval": "week",
    }
    assert body["filters"] == {"service": [], "team": [], "priority": [], "category": []}
    assert body["freshness"]["incidents"]["from_rollups"] is False  # never rolled up here
    assert {figure["key"] for figure in body["metrics"]} == {d.key for d in definitions()}
    assert all(
        set(figure)
        == {"key", "label", "unit", "definition", "value", "count", "median", "p90", "parts"}
        for figure in body["metrics"]
    )


def test_the_summary_figures_are_those_worked_out_by_hand(desk, three, client_of):
    response = client_of(desk.l1_agent).get(url(desk.tenant), PERIOD)

    figures = {figure["key"]: figure for figure in response.json()["metrics"]}
    # Volume: A, B and C were created in the period (D before it): one SEV1, two SEV2.
    assert figures["volume"]["value"] == 3
    assert figures["volume"]["parts"] == {"sev1": 1, "sev2": 2, "sev3": 0, "sev4": 0}
    # MTTA: A, B, C acknowledged in the period after 600, 1200, 3600 s: mean 1800, median 1200.
    assert (figures["mtta"]["count"], figures["mtta"]["value"]) == (3, 1800)
    assert figures["mtta"]["median"] == 1200
    # MTTR: resolved in the period: A 3600, B 7200, C 21600 and D 13 days = 1123200 s;
    # mean 1155600 / 4 = 288900; median (7200 + 21600) / 2 = 14400.
    assert (figures["mttr"]["count"], figures["mttr"]["value"]) == (4, 288900)
    assert figures["mttr"]["median"] == 14400
    # Nothing is open.
    assert figures["backlog"]["value"] == 0


def test_the_filters_narrow_the_figures_and_are_stated(desk, three, client_of):
    with rls.tenant_scope(desk.tenant.pk):
        Incident.objects.filter(pk=three[0].pk).update(service=desk.service)

    by_priority = client_of(desk.admin).get(url(desk.tenant), {**PERIOD, "priority": "2"}).json()
    by_service = client_of(desk.admin).get(url(desk.tenant), {**PERIOD, "service": "email"}).json()

    # SEV2 only: B and C, acknowledged after 1200 and 3600 s.
    mtta = next(figure for figure in by_priority["metrics"] if figure["key"] == "mtta")
    assert (mtta["count"], mtta["value"]) == (2, 2400)
    assert by_priority["filters"]["priority"] == [2]
    # The e-mail service: A alone.
    volume = next(figure for figure in by_service["metrics"] if figure["key"] == "volume")
    assert volume["value"] == 1
    assert by_service["filters"]["service"] == ["email"]


def test_the_summary_reads_as_many_times_for_30_incidents_as_for_3(desk, client_of):
    client = client_of(desk.admin)

    def queries_for(incidents: int) -> int:
        for number in range(incidents):
            created = at(desk.tenant, FIRST + timedelta(days=number % 14), 9)
            incident(
                desk.tenant,
                desk.requester,
                1 + number % 4,
                status=IncidentStatus.RESOLVED if number % 2 else IncidentStatus.NEW,
                created_at=created,
                acknowledged_at=created + timedelta(minutes=5),
                resolved_at=created + timedelta(hours=1) if number % 2 else None,
            )
        with CaptureQueriesContext(connection) as captured:
            assert client.get(url(desk.tenant), PERIOD).status_code == 200
        return len(captured.captured_queries)

    client.get(url(desk.tenant), PERIOD)  # first requests fill caches (content types, …)
    with_3 = queries_for(3)
    with_30 = queries_for(27)  # 3 + 27

    assert with_3 == with_30


# --- One metric -----------------------------------------------------------------------------------


@pytest.mark.parametrize("definition", definitions(), ids=_key_id)
def test_every_metric_answers_its_table(desk, client_of, definition):
    policy = SlaPolicyFactory(tenant=desk.tenant)
    populate(desk.tenant, desk.requester, desk.service, policy, "A")

    response = client_of(desk.l2_agent).get(
        url(desk.tenant, f"{definition.key}/"), {**PERIOD, "interval": "day"}
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["key"], body["unit"], body["label"]) == (
        definition.key,
        definition.unit,
        definition.label,
    )
    assert body["period"]["interval"] == "day"
    assert set(body["freshness"]) == {provider_of(definition.key).name}  # type: ignore[union-attr]
    assert body["columns"], definition.key
    keys = [column["key"] for column in body["columns"]]
    if definition.key in INCIDENT_KEYS:
        assert body["rows"], "every incident table has rows for this world"
    for row in body["rows"]:
        assert set(keys) <= set(row), (definition.key, row)
        for column in body["columns"]:
            if column["unit"] == "date":
                assert date.fromisoformat(row[column["key"]])  # an ISO date string


def test_a_metric_table_holds_the_figures_worked_out_by_hand(desk, three, client_of):
    response = client_of(desk.admin).get(url(desk.tenant, "mtta/"), {**PERIOD, "interval": "day"})

    body = response.json()
    rows = {row["bucket"]: row for row in body["rows"]}
    assert len(rows) == 14  # a row per day, empty days too
    # Tuesday: A and B, after 600 and 1200 s; Wednesday: C after 3600 s.
    assert (rows["2026-03-03"]["count"], rows["2026-03-03"]["mean"]) == (2, 900)
    assert (rows["2026-03-04"]["count"], rows["2026-03-04"]["mean"]) == (1, 3600)
    assert (rows["2026-03-05"]["count"], rows["2026-03-05"]["mean"]) == (0, None)
    assert (body["value"], body["count"]) == (1800, 3)


def test_an_unknown_metric_is_absent(desk, client_of):
    # Absent for staff and requesters alike: a requester's refusal names only real metrics.
    for user in (desk.admin, desk.requester):
        for path in ("no_such_metric/", "no_such_metric/export/"):
            response = client_of(user).get(url(desk.tenant, path))

            assert response.status_code == 404, path
            assert response.json()["code"] == "not_found"


# --- Bad queries ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"from": "last tuesday"}, "from"),
        ({"to": "2026-13-01"}, "to"),
        ({"from": "2026-03-10", "to": "2026-03-01"}, "from"),
        ({"from": "2020-01-01", "to": "2026-03-01"}, "from"),  # more than three years
        ({"interval": "month"}, "interval"),
        ({"priority": "9"}, "priority"),
        ({"service": "no-such-service"}, "service"),
        ({"team": "no-such-team"}, "team"),
        ({"category": "no-such-category"}, "category"),
    ],
)
@pytest.mark.parametrize("path", ["", "mtta/", "mtta/export/"])
def test_a_bad_query_is_a_400_naming_the_field(desk, client_of, query, field, path):
    response = client_of(desk.admin).get(url(desk.tenant, path), query)

    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] == "invalid"
    assert list(body["fields"]) == [field]
    assert body["fields"][field][0]


# --- Who may read ---------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["", "mtta/", "mtta/export/"])
def test_requesters_and_anonymous_callers_are_refused(desk, client_of, path):
    as_requester = client_of(desk.requester).get(url(desk.tenant, path))
    anonymous = client_of(None).get(url(desk.tenant, path))

    assert (as_requester.status_code, as_requester.json()["code"]) == (403, "permission_denied")
    assert anonymous.status_code == 401


@pytest.mark.parametrize(
    "role",
    [
        MembershipRole.AGENT,
        MembershipRole.PROBLEM_MANAGER,
        MembershipRole.CHANGE_MANAGER,
        MembershipRole.TENANT_ADMIN,
    ],
)
def test_every_staff_role_reads_the_metrics(desk, client_of, make_member, role):
    client = client_of(make_member(desk.tenant, role))

    for path in ("", "mtta/", "mtta/export/"):
        assert client.get(url(desk.tenant, path), PERIOD).status_code == 200, (role, path)


# --- The export -----------------------------------------------------------------------------------


def test_the_export_streams_the_records_behind_the_figure(desk, three, client_of):
    response = client_of(desk.admin).get(url(desk.tenant, "mtta/export/"), PERIOD)

    assert response.status_code == 200
    assert response.streaming is True
    assert response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"] == (
        'attachment; filename="acme-mtta-2026-03-02_2026-03-15.csv"'
    )
    header, *rows = csv_rows(response)
    assert header[0] == "reference"
    # A header line, then one line per incident acknowledged in the period (A, B, C; not D), in
    # the order they were acknowledged, with the seconds each took.
    by = dict(zip(header, zip(*rows, strict=True), strict=True))
    assert by["reference"] == tuple(found.reference for found in three[:3])
    assert [float(seconds) for seconds in by["seconds"]] == [600, 1200, 3600]


def test_the_export_answers_a_client_that_accepts_csv_alone(desk, three, client_of):
    response = client_of(desk.admin).get(
        url(desk.tenant, "mttr/export/"), PERIOD, HTTP_ACCEPT="text/csv"
    )

    assert response.status_code == 200
    assert len(csv_rows(response)) == 1 + 4  # the header, then A, B, C and D


# --- Tenant isolation -----------------------------------------------------------------------------


@pytest.fixture
def two_tenants(desk, tenant_b, make_member) -> dict[str, Any]:
    """Tenant A (the desk) and tenant B, each with a service slugged `email`, a policy named
    alike and an administrator; A's incidents are made, B's are left to the test."""
    admin_b = make_member(tenant_b, MembershipRole.TENANT_ADMIN)
    service_b = ServiceFactory(tenant=tenant_b, slug="email", name=desk.service.name)
    policy_a = SlaPolicyFactory(tenant=desk.tenant, name="Standard")
    policy_b = SlaPolicyFactory(tenant=tenant_b, name="Standard")
    populate(desk.tenant, desk.requester, desk.service, policy_a, "A")

    def populate_b() -> None:
        requester_b = make_member(tenant_b, MembershipRole.REQUESTER)
        populate(tenant_b, requester_b, service_b, policy_b, "B")

    return {"b": tenant_b, "admin_b": admin_b, "populate_b": populate_b}


@pytest.mark.parametrize("definition", definitions(), ids=_key_id)
def test_tenant_b_is_never_counted_in_tenant_a(desk, two_tenants, client_of, definition):
    tenant_b = two_tenants["b"]
    client_a, client_b = client_of(desk.admin), client_of(two_tenants["admin_b"])
    detail, export = f"{definition.key}/", f"{definition.key}/export/"
    query = {**PERIOD, "interval": "day"}
    a_before = client_a.get(url(desk.tenant, detail), query).json()
    a_rows_before = csv_rows(client_a.get(url(desk.tenant, export), query))

    # When tenant B gets the same incidents as A
    two_tenants["populate_b"]()

    # Then A's figure, table and export are what they were, with nothing of B in them
    a_after = client_a.get(url(desk.tenant, detail), query).json()
    a_rows_after = csv_rows(client_a.get(url(desk.tenant, export), query))
    assert same(a_after, a_before), (a_before, a_after)
    assert a_rows_after == a_rows_before
    assert not any(cell.startswith("B: ") for row in a_rows_after for cell in row)
    # Filtered by the slug both tenants use for a service, A still counts only its own
    a_email = client_a.get(url(desk.tenant, detail), {**query, "service": "email"}).json()
    b_email = client_b.get(url(tenant_b, detail), {**query, "service": "email"}).json()
    assert same(a_email, b_email)
    # And B's own figures count B's incidents, as A's count A's (the same incidents)
    b_answer = client_b.get(url(tenant_b, detail), query).json()
    assert same(b_answer, a_after)
    if definition.key in INCIDENT_KEYS:
        assert b_answer["count"] > 0, "the incidents made in B must count for this metric"
        assert len(csv_rows(client_b.get(url(tenant_b, export), query))) > 1
    # And A's member cannot read B's metrics at all
    for path in ("", detail, export):
        assert client_a.get(url(tenant_b, path), query).status_code == 404, path


def test_tenant_b_is_never_counted_in_tenant_a_s_summary(desk, two_tenants, client_of):
    client_a = client_of(desk.admin)
    before = client_a.get(url(desk.tenant), PERIOD).json()

    two_tenants["populate_b"]()

    assert same(client_a.get(url(desk.tenant), PERIOD).json(), before)


def test_another_tenant_s_service_is_an_unknown_filter(desk, tenant_b, client_of):
    ServiceFactory(tenant=tenant_b, slug="b-only")

    response = client_of(desk.admin).get(url(desk.tenant), {"service": "b-only"})

    assert response.status_code == 400
    assert list(response.json()["fields"]) == ["service"]
