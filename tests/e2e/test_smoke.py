"""A member's first steps: log in through the form, open the tenant's home and its incidents."""

from tests.e2e.browser import login
from tests.incidents.conftest import make_incident
from tests.markers import e2e

pytestmark = e2e


def test_a_member_logs_in_and_sees_the_incidents_of_the_tenant(page, desk):
    # Given an incident in the tenant, acknowledged by (so assigned to) an L1 agent
    incident = make_incident(desk, "in_progress", title="Printer on fire")

    # When that agent logs in
    login(page, desk.l1_agent.username)

    # Then the tenant picker lists the tenant, and its home page opens from there
    page.get_by_role("link", name="Acme").first.click()
    page.wait_for_url(f"**/t/{desk.tenant.slug}/")
    assert page.get_by_role("heading", level=1).inner_text() == "Acme"

    # and the incident list (its default view: the agent's own work) shows the incident
    page.goto(f"/t/{desk.tenant.slug}/incidents/")
    row = page.get_by_role("row").filter(has_text=incident.reference)
    assert row.count() == 1
    assert "Printer on fire" in row.inner_text()
