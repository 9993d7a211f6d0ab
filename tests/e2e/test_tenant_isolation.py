"""In the browser, another tenant's pages are as absent as a tenant that does not exist."""

import pytest

from tests.e2e.browser import login
from tests.factories import IncidentFactory
from tests.markers import e2e

pytestmark = e2e


@pytest.mark.parametrize("path", ["", "incidents/"])
def test_a_member_of_one_tenant_gets_404_on_another_tenants_page(
    page, browser_log, agent_a, tenant_b, path
):
    # Given an incident in tenant B, and an agent of tenant A only
    IncidentFactory(tenant=tenant_b, title="Secret merger server")
    browser_log.allow(r"status of 404")  # the browser logs each 404 response
    login(page, agent_a.username)

    # When the agent opens tenant B's page
    response = page.goto(f"/t/{tenant_b.slug}/{path}")

    # Then it is not found, and shows nothing of tenant B
    assert response is not None
    assert response.status == 404
    assert page.get_by_role("heading", level=1).inner_text() == "Not found"
    shown = page.locator("main").inner_text()
    assert "Tenant B" not in page.locator("body").inner_text()
    assert "Secret merger server" not in page.content()

    # and it looks exactly like a tenant that does not exist
    missing = page.goto(f"/t/no-such-tenant/{path}")
    assert missing is not None
    assert missing.status == 404
    assert page.locator("main").inner_text() == shown
