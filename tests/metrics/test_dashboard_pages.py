"""The metrics dashboard pages: the tenant's view and a team lead's, their controls, the CSV
export of each figure, and the charts drawn on the server.

Incidents are written with chosen times (the figures' events), on whole local days before
today in the tenant's time zone, so every expected figure is counted by hand below.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import date, datetime, time, timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from incidents.choices import IncidentStatus
from incidents.metrics.provider import INCIDENT_HEADER
from incidents.metrics.rollups import rollup_refresh
from incidents.models import Incident
from itsm.calendars.selectors import tenant_time_zone
from itsm.metrics import charts
from itsm.metrics.registry import Column, Figure, MetricDefinition, MetricDetail, definitions
from itsm.tenancy import rls
from itsm.tenancy.choices import MembershipRole
from itsm.tenancy.models import Team, TeamMember
from tests.factories import IncidentFactory
from tests.incidents.conftest import Desk, desk  # noqa: F401 - the support organisation

pytestmark = pytest.mark.django_db


def _today(desk: Desk) -> date:  # noqa: F811
    with rls.tenant_scope(desk.tenant.pk):
        zone = tenant_time_zone(tenant=desk.tenant)
    return timezone.now().astimezone(zone).date()


def _at(desk: Desk, days_ago: int, hour: int = 12, minutes: int = 0) -> datetime:  # noqa: F811
    with rls.tenant_scope(desk.tenant.pk):
        zone = tenant_time_zone(tenant=desk.tenant)
    moment = datetime.combine(_today(desk) - timedelta(days=days_ago), time(hour), tzinfo=zone)
    return moment + timedelta(minutes=minutes)


def _incident(
    desk: Desk,  # noqa: F811
    *,
    days_ago: int,
    priority: int,
    team: Team,
    acknowledged_after: int | None = None,
) -> Incident:
    """An incident created at noon `days_ago` days before today, acknowledged
    `acknowledged_after` minutes later (then in progress), else new."""
    incident = IncidentFactory(
        tenant=desk.tenant, reported_by=desk.requester, priority=priority, assignment_team=team
    )
    created = _at(desk, days_ago)
    acknowledged = (
        created + timedelta(minutes=acknowledged_after) if acknowledged_after is not None else None
    )
    with rls.tenant_scope(desk.tenant.pk):
        Incident.objects.filter(pk=incident.pk).update(
            created_at=created,
            detected_at=created,
            acknowledged_at=acknowledged,
            status=IncidentStatus.IN_PROGRESS if acknowledged else IncidentStatus.NEW,
        )
    return incident


@pytest.fixture
def seeded(desk: Desk) -> list[Incident]:  # noqa: F811
    """Three incidents: SEV1 and SEV2 of L1 two and three days ago, a SEV2 of L2 four days
    ago; acknowledged after 10, 20 and 30 minutes."""
    return [
        _incident(desk, days_ago=2, priority=1, team=desk.l1, acknowledged_after=10),
        _incident(desk, days_ago=3, priority=2, team=desk.l1, acknowledged_after=20),
        _incident(desk, days_ago=4, priority=2, team=desk.l2, acknowledged_after=30),
    ]


def _last_ten_days(desk: Desk) -> str:  # noqa: F811
    today = _today(desk)
    return f"from={(today - timedelta(days=9)).isoformat()}&to={today.isoformat()}&interval=day"


def _dashboard(desk: Desk, path: str = "") -> str:  # noqa: F811
    return f"/t/{desk.tenant.slug}/metrics/{path}"


def _lead(desk: Desk, team: Team, user: Any) -> None:  # noqa: F811
    with rls.tenant_scope(desk.tenant.pk):
        TeamMember.objects.filter(team=team, user=user).update(is_lead=True)


def _figure(html: str, key: str) -> str:
    found = re.search(rf'data-figure="{key}">([^<]*)<', html)
    assert found, key
    return found.group(1)


def _table_rows(html: str, key: str) -> list[list[str]]:
    """The body rows of a metric's table, as the cells' texts."""
    table = re.search(rf'<table id="table-{key}">(.*?)</table>', html, re.S)
    assert table, key
    body = table.group(1).split("<tbody>")[1]
    return [
        re.findall(r"<t[hd][^>]*>([^<]*)</t[hd]>", row)
        for row in re.findall(r"<tr>(.*?)</tr>", body, re.S)
    ]


# --- The tenant's view ----------------------------------------------------------------------


def test_the_dashboard_shows_every_metric_with_chart_table_and_definition(client, desk, seeded):  # noqa: F811
    client.force_login(desk.admin)

    response = client.get(f"{_dashboard(desk)}?{_last_ten_days(desk)}")

    assert response.status_code == 200
    html = response.content.decode()
    for definition in definitions():
        card = re.search(
            rf'<section class="card metric" id="metric-{definition.key}".*?</section>', html, re.S
        )
        assert card, definition.key
        assert "<summary>Definition" in card.group(0)
        assert definition.definition in card.group(0)
        assert f'<table id="table-{definition.key}">' in card.group(0)
        assert f"/metrics/{definition.key}/export/?" in card.group(0)
    assert html.count('<svg class="chart"') >= 5
    # Three incidents created, two of them SEV2; one bar per day, ten days
    assert _figure(html, "volume") == "3"
    volume = _table_rows(html, "volume")
    assert len(volume) == 10
    three_days_ago = _today(desk) - timedelta(days=3)
    assert [three_days_ago.strftime("%-d %b %Y"), "0", "1", "0", "0"] in volume
    # Acknowledged after 10, 20 and 30 minutes: mean and median 20 min; the 90th percentile
    # lies 0.8 of the way from 20 to 30 (position 0.9 × 2 = 1.8): 28 min
    assert _figure(html, "mtta") == "20 min"
    assert 'data-median="mtta">20 min<' in html
    assert 'data-p90="mtta">28 min<' in html
    assert "Incidents: computed from the records now." in html


def test_the_dashboard_says_the_figures_come_from_the_rollups(client, desk, seeded):  # noqa: F811
    with rls.tenant_scope(desk.tenant.pk):
        state = rollup_refresh(tenant=desk.tenant, full=True)
        zone = tenant_time_zone(tenant=desk.tenant)
    assert state.refreshed_at is not None
    refreshed = state.refreshed_at.astimezone(zone)
    client.force_login(desk.admin)

    html = client.get(f"{_dashboard(desk)}?{_last_ten_days(desk)}").content.decode()

    assert (
        f"Incidents: from the daily rollups as of {refreshed:%-d %b %Y, %H:%M} ({zone.key})" in html
    )
    # The figures are the same either way
    assert _figure(html, "volume") == "3"
    assert _figure(html, "mtta") == "20 min"


def test_the_period_changes_the_charts(client, desk, seeded):  # noqa: F811
    client.force_login(desk.admin)
    today = _today(desk)

    week = client.get(
        f"{_dashboard(desk)}?from={today - timedelta(days=2)}&to={today}&interval=day"
    )
    longer = client.get(
        f"{_dashboard(desk)}?from={today - timedelta(days=9)}&to={today}&interval=day"
    )

    # Only the incident of two days ago falls in the last three days
    assert _figure(week.content.decode(), "volume") == "1"
    assert len(_table_rows(week.content.decode(), "volume")) == 3
    assert _figure(longer.content.decode(), "volume") == "3"
    assert len(_table_rows(longer.content.decode(), "volume")) == 10


def test_the_presets_link_to_the_last_days(client, desk):  # noqa: F811
    client.force_login(desk.l1_agent)
    today = _today(desk)

    html = client.get(_dashboard(desk)).content.decode()

    first = (today - timedelta(days=6)).isoformat()
    assert f"?from={first}&amp;to={today.isoformat()}&amp;interval=day" in html
    assert 'aria-current="true">Last 30 days<' in html  # the default period


def test_a_filter_narrows_the_figures(client, desk, seeded):  # noqa: F811
    client.force_login(desk.admin)

    html = client.get(
        f"{_dashboard(desk)}?{_last_ten_days(desk)}&priority=2&service="
    ).content.decode()

    assert _figure(html, "volume") == "2"
    assert 'value="2" selected' in html


@pytest.mark.parametrize(
    ("query", "field", "words"),
    [
        ("from=2026-13-01", "from", "Enter a valid date."),
        ("from=2026-03-02&to=2026-03-01", "from", "Must not be after"),
        ("interval=month", "interval", "Select a valid choice."),
        ("team=no-such-team", "team", "Select a valid choice."),
    ],
)
def test_bad_input_is_shown_by_its_field(client, desk, query, field, words):  # noqa: F811
    client.force_login(desk.admin)

    response = client.get(f"{_dashboard(desk)}?{query}")

    assert response.status_code == 400
    html = response.content.decode()
    error = re.search(rf'<p class="error" id="f-{field}-error">([^<]*)</p>', html)
    assert error
    assert words in error.group(1)
    assert f'aria-describedby="f-{field}-error"' in html
    assert '<svg class="chart"' not in html
    assert ">Last 7 days</a>" in html  # a way out of the mistake


def test_a_requester_is_refused(client, desk):  # noqa: F811
    client.force_login(desk.requester)

    for path in ("", "teams/", "volume/export/"):
        assert client.get(_dashboard(desk, path)).status_code == 403


def test_another_tenants_dashboard_does_not_exist(client, desk, tenant_b, make_member):  # noqa: F811
    client.force_login(make_member(tenant_b, MembershipRole.TENANT_ADMIN))

    for path in ("", "teams/", "volume/export/"):
        assert client.get(_dashboard(desk, path)).status_code == 404


def test_the_nav_links_the_dashboard_for_staff_only(client, desk):  # noqa: F811
    client.force_login(desk.l1_agent)
    assert f'href="/t/{desk.tenant.slug}/metrics/"' in client.get(_dashboard(desk)).content.decode()

    client.force_login(desk.requester)
    home = client.get(f"/t/{desk.tenant.slug}/").content.decode()
    assert "/metrics/" not in home


def test_the_number_of_queries_does_not_grow_with_the_incidents(client, desk):  # noqa: F811
    client.force_login(desk.admin)
    url = f"{_dashboard(desk)}?{_last_ten_days(desk)}"
    for days_ago in range(1, 4):
        _incident(desk, days_ago=days_ago, priority=2, team=desk.l1, acknowledged_after=5)
    client.get(url)  # the first request fills the caches every request shares

    with CaptureQueriesContext(connection) as few:
        assert client.get(url).status_code == 200
    for index in range(27):
        _incident(desk, days_ago=1 + index % 9, priority=1 + index % 4, team=desk.l2)
    with CaptureQueriesContext(connection) as many:
        response = client.get(url)

    assert _figure(response.content.decode(), "volume") == "30"
    assert len(many.captured_queries) == len(few.captured_queries)


# --- The team lead's view -------------------------------------------------------------------


def test_the_team_view_shows_the_teams_the_user_leads(client, desk, seeded):  # noqa: F811
    _lead(desk, desk.l1, desk.l1_agent)
    client.force_login(desk.l1_agent)

    response = client.get(f"{_dashboard(desk, 'teams/')}?{_last_ten_days(desk)}")

    assert response.status_code == 200
    html = response.content.decode()
    assert _figure(html, "volume") == "2"  # L1's two, not L2's
    team_select = re.search(r'<select id="f-team".*?</select>', html, re.S)
    assert team_select
    assert re.findall(r'<option value="([^"]*)"', team_select.group(0)) == ["", "l1"]
    # The export carries the led teams, so that it has the rows the page counts
    assert "/metrics/volume/export/?" in html
    assert "team=l1" in html


def test_a_lead_may_not_choose_a_team_they_do_not_lead(client, desk, seeded):  # noqa: F811
    _lead(desk, desk.l1, desk.l1_agent)
    client.force_login(desk.l1_agent)

    response = client.get(f"{_dashboard(desk, 'teams/')}?team=l2")

    assert response.status_code == 400
    assert 'id="f-team-error"' in response.content.decode()


def test_a_user_who_leads_no_team_is_told_so(client, desk, seeded):  # noqa: F811
    client.force_login(desk.l2_agent)

    response = client.get(_dashboard(desk, "teams/"))

    assert response.status_code == 200
    html = response.content.decode()
    assert "You lead no team" in html
    assert f'<a href="/t/{desk.tenant.slug}/metrics/">See the whole organisation' in html
    assert '<svg class="chart"' not in html


# --- The export -----------------------------------------------------------------------------


def _download(client: Any, url: str) -> list[list[str]]:
    response = client.get(url)
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv"
    assert response["Content-Disposition"].startswith("attachment;")
    text = b"".join(response.streaming_content).decode()
    return list(csv.reader(io.StringIO(text)))


def test_the_export_link_downloads_the_rows_behind_the_figure(client, desk, seeded):  # noqa: F811
    client.force_login(desk.admin)
    html = client.get(f"{_dashboard(desk)}?{_last_ten_days(desk)}&priority=2").content.decode()
    link = re.search(r'href="([^"]*/metrics/volume/export/[^"]*)"', html)
    assert link

    header, *rows = _download(client, link.group(1).replace("&amp;", "&"))

    assert header == list(INCIDENT_HEADER)
    assert sorted(row[0] for row in rows) == sorted(i.reference for i in seeded[1:])


def test_the_export_of_a_duration_has_its_seconds(client, desk, seeded):  # noqa: F811
    client.force_login(desk.l1_agent)

    _, *rows = _download(client, f"{_dashboard(desk, 'mtta/export/')}?{_last_ten_days(desk)}")

    assert sorted(float(row[-1]) for row in rows) == [600.0, 1200.0, 1800.0]


def test_an_unknown_metric_has_no_export(client, desk):  # noqa: F811
    client.force_login(desk.admin)

    assert client.get(_dashboard(desk, "no_such_metric/export/")).status_code == 404


def test_an_export_with_bad_input_is_refused(client, desk):  # noqa: F811
    client.force_login(desk.admin)

    response = client.get(f"{_dashboard(desk, 'volume/export/')}?from=yesterday")

    assert response.status_code == 400
    assert "Enter a valid date." in response.content.decode()


# --- The charts -----------------------------------------------------------------------------

SHARE = MetricDefinition("share", "A share", "ratio", "The part of the whole.", "incidents")
WAIT = MetricDefinition("wait", "A wait", "seconds", "From asking to answer.", "incidents")


def _detail(chart: str, columns: list[Column], rows: list[dict[str, Any]]) -> MetricDetail:
    definition = WAIT if columns[1].unit == "seconds" else SHARE
    return MetricDetail(Figure(definition, None, 0), chart, columns, rows)  # type: ignore[arg-type]


def test_a_line_breaks_where_a_value_is_missing():
    day = date(2026, 3, 2)
    detail = _detail(
        "lines",
        [
            Column("bucket", "Day", "date"),
            Column("median", "Median", "seconds"),
            Column("count", "N"),
        ],
        [
            {"bucket": day + timedelta(days=n), "median": value, "count": 1}
            for n, value in enumerate([60, 120, None, 300, 360])
        ],
    )

    svg = str(charts.render_chart(detail, chart_id="c", title="A wait"))

    # Two runs of two points, one polyline each; four points; the count is not drawn
    assert svg.count("<polyline") == 2
    assert svg.count("<circle") == 4
    assert 'role="img"' in svg
    assert 'viewBox="0 0 480 220"' in svg
    assert 'width="100%"' in svg
    assert '<title id="c-title">A wait</title>' in svg
    assert "N:" not in svg


def test_stacked_bars_stack_and_grouped_bars_stand_side_by_side():
    columns = [Column("band", "Age", "label"), Column("a", "A"), Column("b", "B")]
    rows = [{"band": "< 1 day", "a": 2, "b": 3}, {"band": "1–7 days", "a": 0, "b": 5}]

    stacked = str(
        charts.render_chart(_detail("stacked_bars", columns, rows), chart_id="s", title="S")
    )
    grouped = str(
        charts.render_chart(_detail("grouped_bars", columns, rows), chart_id="g", title="G")
    )

    # A zero draws nothing: three bars stacked; grouped, the zero is a bar of no height
    assert stacked.count("<rect") == 3
    assert grouped.count("<rect") == 4
    # The tallest stack (5) is under the axis' top: four whole steps of 2, up to 8
    assert [int(tick) for tick in re.findall(r'text-anchor="end">(\d+)<', stacked)] == [
        0,
        2,
        4,
        6,
        8,
    ]
    assert str(charts.legend(_detail("stacked_bars", columns, rows))).count("<li>") == 2


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(45, "45 s"), (4800, "1 h 20 min"), (3600, "1 h"), (273_660, "3 d 4 h"), (0, "0")],
)
def test_durations_read_as_people_say_them(seconds, text):
    assert charts.format_value(seconds, "seconds") == text


def test_shares_and_counts_read_as_people_say_them():
    assert charts.format_value(0.8533, "ratio") == "85.3 %"
    assert charts.format_value(0.5, "ratio") == "50 %"
    assert charts.format_value(12345, "count") == "12,345"
    assert charts.format_value(None, "count") == "—"
