"""axe-core finds no serious or critical accessibility violation on the workspace's pages.

Every page that shows something is scanned as its users see it, with data on it, so that
tables, tags, forms and links are there to check: the login page, the tenant picker, and each
tenant page the URL sweep of tests/test_tenant_pages.py finds, so a new page is scanned
without editing this file.
"""

import pytest

from itsm.tenancy.choices import MembershipRole
from tests.e2e.browser import axe_violations, describe, login
from tests.incidents.conftest import make_incident
from tests.markers import e2e
from tests.test_tenant_pages import PAGES, page_url

pytestmark = e2e

SHOWN = [page for page in PAGES if page.method == "get"]


@pytest.fixture
def incidents(desk):
    """Incidents in several states, one of them assigned to the L1 agent."""
    return [
        make_incident(desk, state, title=f"Mail is down ({state})")
        for state in ("new", "in_progress", "on_hold")
    ]


def _member_who_may_see(desk, shown):
    members = [
        (MembershipRole.AGENT, desk.l1_agent),
        (MembershipRole.TENANT_ADMIN, desk.admin),
        (MembershipRole.REQUESTER, desk.requester),
    ]
    return next(user for role, user in members if role in shown.roles)


def _assert_accessible(page) -> None:
    violations = axe_violations(page)
    assert not violations, describe(violations)


def test_the_login_page(axe_page):
    axe_page.goto("/accounts/login/")
    _assert_accessible(axe_page)


def test_the_tenant_picker(axe_page, desk, incidents):
    login(axe_page, desk.l1_agent.username)
    assert axe_page.url.endswith("/")
    _assert_accessible(axe_page)


@pytest.mark.parametrize("shown", SHOWN, ids=str)
def test_the_tenant_page(axe_page, desk, incidents, shown):
    # Given a member whose role may see the page (an agent where agents may)
    user = _member_who_may_see(desk, shown)
    login(axe_page, user.username)

    # When they open it
    response = axe_page.goto(page_url(shown, desk.tenant, user))
    assert response is not None
    assert response.status == 200

    # Then axe-core finds nothing serious or critical
    _assert_accessible(axe_page)
