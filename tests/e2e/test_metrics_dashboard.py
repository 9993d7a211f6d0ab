"""The metrics dashboard in a real browser, under the product's CSP: a tenant with incidents
over several weeks sees its charts; the period control (a preset, then the form) redraws them;
a figure's CSV export downloads; and the page, charts and tables included, passes axe-core on a
computer and fits a phone."""

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.utils import timezone
from playwright.sync_api import Page, expect

from incidents.choices import IncidentStatus
from incidents.metrics.provider import INCIDENT_HEADER
from incidents.models import Incident
from itsm.calendars.selectors import tenant_time_zone
from itsm.metrics.query import WEEK, Period
from itsm.tenancy import rls
from tests.e2e.browser import axe_violations, describe, login
from tests.factories import IncidentFactory
from tests.incidents.conftest import Desk
from tests.markers import e2e

pytestmark = e2e

# When the incidents were created: days before today (at noon, the tenant's time).
DAYS_AGO = (1, 2, 3, 5, 10, 20, 40, 60, 80, 100)


def _seed(desk: Desk) -> date:
    """An incident on each of DAYS_AGO, of priorities 1-4 in turn; today's local date."""
    with rls.tenant_scope(desk.tenant.pk):
        zone = tenant_time_zone(tenant=desk.tenant)
        today = timezone.now().astimezone(zone).date()
        for index, days_ago in enumerate(DAYS_AGO):
            incident = IncidentFactory(
                tenant=desk.tenant,
                reported_by=desk.requester,
                priority=1 + index % 4,
                assignment_team=desk.l1,
            )
            created = datetime.combine(today - timedelta(days=days_ago), time(12), tzinfo=zone)
            Incident.objects.filter(pk=incident.pk).update(
                created_at=created,
                detected_at=created,
                acknowledged_at=created + timedelta(minutes=15),
                status=IncidentStatus.IN_PROGRESS,
            )
    return today


def _weeks(today: date, days: int) -> int:
    """The number of weekly buckets of the last `days` days (dates only: any zone will do)."""
    period = Period(today - timedelta(days=days - 1), today, ZoneInfo("UTC"), WEEK)
    return len(list(period.buckets()))


def _volume_rows(page: Page):
    return page.locator("#table-volume tbody tr")


def test_the_dashboard_draws_redraws_and_exports(page, desk, tmp_path):
    # Given a tenant with ten incidents over fourteen weeks, and its administrator
    today = _seed(desk)
    login(page, desk.admin.username)

    # When they open the metrics from the header
    page.goto(f"/t/{desk.tenant.slug}/")
    with page.expect_navigation():
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Metrics").click()

    # Then the charts are drawn: volume by severity among them, as bars
    expect(page.locator("svg.chart").first).to_be_visible()
    assert page.locator("svg.chart").count() >= 5
    volume = page.locator("#metric-volume")
    expect(volume.locator("svg.chart[role=img]")).to_have_count(1)
    # The default: the last 30 days per week; the incidents of 1, 2, 3, 5, 10 and 20 days ago
    expect(volume.locator("[data-figure=volume]")).to_have_text("6")

    # When they choose the last 90 days: per week, 9 incidents
    with page.expect_navigation():
        page.get_by_role("link", name="Last 90 days").click()
    expect(volume.locator("[data-figure=volume]")).to_have_text("9")
    expect(_volume_rows(page)).to_have_count(_weeks(today, 90))
    bars_90 = volume.locator("rect.bar").count()

    # And then the last 7 days: per day, 4 incidents, 7 rows; fewer bars
    with page.expect_navigation():
        page.get_by_role("link", name="Last 7 days").click()
    expect(volume.locator("[data-figure=volume]")).to_have_text("4")
    expect(_volume_rows(page)).to_have_count(7)
    assert volume.locator("rect.bar").count() == 4 < bars_90

    # And with the form: from 100 days ago, per week
    page.get_by_label("From", exact=True).fill((today - timedelta(days=100)).isoformat())
    page.get_by_label("Interval", exact=True).select_option(WEEK)
    with page.expect_navigation():
        page.get_by_role("button", name="Show").click()
    expect(volume.locator("[data-figure=volume]")).to_have_text("10")
    expect(_volume_rows(page)).to_have_count(_weeks(today, 101))

    # And the definition is one click away
    definition = volume.locator("details.definition")
    definition.locator("summary").click()
    expect(definition.get_by_text("Incidents created in the period")).to_be_visible()

    # And the volume's CSV downloads with its header and a row per incident
    with page.expect_download() as download:
        volume.get_by_role("link", name="Export CSV of Incident volume").click()
    saved = tmp_path / download.value.suggested_filename
    download.value.save_as(saved)
    lines = saved.read_text().splitlines()
    assert lines[0] == ",".join(INCIDENT_HEADER)
    assert len(lines) == 1 + 10
    assert download.value.suggested_filename.endswith(".csv")


def test_the_dashboard_with_figures_is_accessible_and_fits_a_phone(axe_page, desk):
    # Given a tenant with incidents over several weeks, on a phone
    _seed(desk)
    axe_page.set_viewport_size({"width": 390, "height": 844})
    login(axe_page, desk.l1_agent.username)

    # When an agent opens the last 90 days
    axe_page.goto(f"/t/{desk.tenant.slug}/metrics/")
    with axe_page.expect_navigation():
        axe_page.get_by_role("link", name="Last 90 days").click()

    # Then nothing scrolls sideways, the charts are as wide as their cards, and axe-core
    # finds nothing serious
    assert axe_page.evaluate("document.documentElement.scrollWidth") <= 390
    chart = axe_page.locator("#metric-volume svg.chart")
    box = chart.bounding_box()
    assert box is not None
    assert 250 < box["width"] <= 390
    violations = axe_violations(axe_page)
    assert not violations, describe(violations)
