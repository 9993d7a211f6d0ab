"""In the browser, another tenant's pages are as absent as a tenant that does not exist."""

import pytest

from itsm.tenancy.choices import MembershipRole
from tests.e2e.browser import login
from tests.factories import IncidentFactory
from tests.markers import e2e
from tests.test_tenant_pages import PAGES, page_url

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


SHOWN = [page for page in PAGES if page.method == "get"]


@pytest.mark.parametrize(
    "role", [MembershipRole.AGENT, MembershipRole.TENANT_ADMIN, MembershipRole.REQUESTER]
)
def test_every_page_of_another_tenant_is_404(
    page, browser_log, tenant_a, make_member, tenant_b, admin_b, role
):
    # Given a member of tenant A, and every page of tenant B (with B's objects in its URLs)
    browser_log.allow(r"status of 404")
    user = make_member(tenant_a, role)
    urls = [page_url(shown, tenant_b, admin_b) for shown in SHOWN]
    assert len(urls) >= 7, urls  # home, search, notifications, queue, create, record, action
    login(page, user.username)

    # When they open each of them, Then each is "Not found", showing nothing of tenant B
    answers = {}
    for url in urls:
        response = page.goto(url)
        assert response is not None
        heading = page.get_by_role("heading", level=1).inner_text()
        answers[url] = (response.status, heading, "Tenant B" in page.locator("body").inner_text())
    assert answers == dict.fromkeys(urls, (404, "Not found", False))
