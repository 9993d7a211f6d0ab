"""Every page carries a Content-Security-Policy, and no page has inline script or style without
the response's nonce: the pages of the workspace, the login, admin and the API docs."""

import re
from html.parser import HTMLParser

import pytest
from django.urls import reverse

from itsm.tenancy.choices import MembershipRole
from tests.factories import IncidentFactory, MembershipFactory, UserFactory
from tests.markers import platform_db
from tests.test_tenant_pages import PAGES, page_url


class _Inline(HTMLParser):
    """Collects inline <script> and <style> elements and the sources of the others."""

    def __init__(self) -> None:
        super().__init__()
        self.inline: list[tuple[str, str | None]] = []  # (tag, nonce)
        self.sources: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "script" and attributes.get("src"):
            self.sources.append(attributes["src"] or "")
        elif tag == "script" and attributes.get("type") == "application/json":
            pass  # a data block (json_script): never executed, so no policy applies
        elif tag in ("script", "style"):
            self.inline.append((tag, attributes.get("nonce")))
        if attributes.get("style") is not None:
            self.inline.append((f"{tag} style attribute", None))
        if any(name.startswith("on") for name in attributes):
            self.inline.append((f"{tag} event handler", None))


def _assert_strict(response) -> None:
    assert response.status_code == 200, response.status_code
    policy = response.headers["Content-Security-Policy"]
    assert re.search(r"script-src 'self'( 'nonce-[^']+')?;", policy), policy
    assert "unsafe-inline" not in policy
    assert "frame-ancestors 'none'" in policy
    # The nonce is in the header only when the page used it: then every inline element has it.
    nonce = re.search(r"'nonce-([^']+)'", policy)
    html = _Inline()
    html.feed(response.content.decode())
    for tag, given in html.inline:
        assert nonce is not None, f"inline {tag} on a page without a nonce"
        assert given == nonce.group(1), f"inline {tag} without the nonce"
    for source in html.sources:
        assert source.startswith("/"), f"script from elsewhere: {source}"


@pytest.mark.django_db
def test_the_login_page(client):
    _assert_strict(client.get(reverse("login")))


@pytest.mark.django_db
@pytest.mark.parametrize("page", [page for page in PAGES if page.method == "get"], ids=str)
def test_the_workspace_pages(client, tenant_a, make_member, page):
    user = make_member(tenant_a, MembershipRole.TENANT_ADMIN)
    client.force_login(user)
    IncidentFactory(tenant=tenant_a)
    _assert_strict(client.get(page_url(page, tenant_a, user)))


@pytest.mark.django_db
def test_the_api_docs_and_their_start_up_script(client):
    page = client.get("/api/v1/docs/")
    _assert_strict(page)
    assert "'nonce-" in page.headers["Content-Security-Policy"]  # its own stylesheet
    script = client.get("/api/v1/docs/?script=")
    assert script.status_code == 200
    assert script.headers["Content-Type"].startswith("application/javascript")


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path",
    [
        "/admin/",
        "/admin/incidents/incident/",
        "/admin/incidents/incident/{incident}/change/",
        "/admin/tenancy/tenant/add/",
        "/admin/incidents/slapolicy/add/",
    ],
)
@platform_db
def test_the_admin_pages(client, tenant_a, path):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    incident = IncidentFactory(tenant=tenant_a)
    _assert_strict(client.get(path.format(incident=incident.pk)))


@pytest.mark.parametrize(
    "path",
    [
        "/admin/",  # with the tenant switcher: they administer two tenants
        "/admin/incidents/incident/{incident}/change/",
        "/admin/tenancy/membership/add/",
        "/admin/incidents/slapolicy/add/",
    ],
)
@platform_db
def test_the_admin_pages_of_a_tenant_admin(client, tenant_a, tenant_b, make_member, path):
    user = make_member(tenant_a, MembershipRole.TENANT_ADMIN)
    MembershipFactory(tenant=tenant_b, user=user, role=MembershipRole.TENANT_ADMIN)
    client.force_login(user)
    incident = IncidentFactory(tenant=tenant_a)
    _assert_strict(client.get(path.format(incident=incident.pk)))
