"""Every web page under /t/<tenant>/ keeps to its tenant: another tenant's page is a 404, and a
tenant's page shows nothing of another's. Pages added later are swept without editing this."""

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from itsm.api.views import TENANT_URL_KWARG
from itsm.tenancy.choices import MembershipRole
from tests.factories import IncidentFactory, ServiceFactory, TeamFactory


def tenant_pages() -> list[str]:
    names: list[str] = []

    def walk(patterns, namespace: str) -> None:
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                if str(pattern.pattern).startswith("api/"):
                    continue  # the API has its own sweep
                child = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
                walk(pattern.url_patterns, child)
            elif isinstance(pattern, URLPattern) and pattern.name:
                kwargs = set(pattern.pattern.regex.groupindex)
                if TENANT_URL_KWARG in kwargs:
                    assert kwargs == {TENANT_URL_KWARG}, (
                        f"{pattern.name} takes {kwargs}: teach this sweep to build its objects"
                    )
                    names.append(f"{namespace}{pattern.name}")

    walk(get_resolver().url_patterns, "")
    return names


PAGES = tenant_pages()


def test_the_sweep_finds_the_pages():
    assert {"web:tenant-home", "incidents:list"} <= set(PAGES)


@pytest.mark.django_db
@pytest.mark.parametrize("page", PAGES)
@pytest.mark.parametrize("role", [MembershipRole.TENANT_ADMIN, MembershipRole.REQUESTER])
def test_a_page_shows_one_tenant_only(client, tenant_a, tenant_b, make_member, page, role):
    # Given a member of A, and B's team, service and incident with recognisable names
    client.force_login(make_member(tenant_a, role))
    secrets = [
        TeamFactory(tenant=tenant_b, name="Secret team of B").name,
        ServiceFactory(tenant=tenant_b, name="Secret service of B").name,
        IncidentFactory(tenant=tenant_b, title="Secret incident of B").title,
    ]

    # When they open B's page and their own
    other = client.get(reverse(page, kwargs={TENANT_URL_KWARG: tenant_b.slug}))
    own = client.get(reverse(page, kwargs={TENANT_URL_KWARG: tenant_a.slug}))

    # Then B's page does not exist for them, and their own shows nothing of B
    assert other.status_code == 404
    assert own.status_code == 200
    html = own.content.decode()
    assert not [secret for secret in secrets if secret in html]


@pytest.mark.django_db
@pytest.mark.parametrize("page", PAGES)
def test_an_anonymous_visitor_is_sent_to_log_in(client, tenant_a, page):
    response = client.get(reverse(page, kwargs={TENANT_URL_KWARG: tenant_a.slug}))
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
