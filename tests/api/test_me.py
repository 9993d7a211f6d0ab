"""`/api/v1/me/`, and the ways of authenticating to the API: token and session.

The tokens themselves (hashed, expiring, revocable) and login throttling: tests/accounts/.
"""

import pytest
from django.http import HttpRequest
from rest_framework.test import APIClient

from itsm.tenancy.choices import MembershipRole
from tests.conftest import api_url
from tests.factories import PASSWORD, MembershipFactory, TenantFactory, UserFactory

pytestmark = pytest.mark.django_db

ME_URL = "/api/v1/me/"
TOKEN_URL = "/api/v1/auth/token/"


def _summary(slug: str, name: str, role: str) -> dict[str, str]:
    return {"tenant": slug, "tenant_name": name, "role": role, "api_root": f"/api/v1/t/{slug}/"}


def test_lists_exactly_the_callers_active_memberships_in_active_tenants(
    api_client, tenant_a, tenant_b
):
    # Given a user who is an agent in A, an admin in B, a former member of C and a member of the
    # inactive tenant D; and another user in A and E
    user = UserFactory(username="pat", email="pat@example.com", first_name="Pat", last_name="Lee")
    MembershipFactory(tenant=tenant_b, user=user, role=MembershipRole.TENANT_ADMIN)
    MembershipFactory(tenant=tenant_a, user=user, role=MembershipRole.AGENT)
    MembershipFactory(
        tenant=TenantFactory(slug="tenant-c", name="Tenant C"), user=user, is_active=False
    )
    MembershipFactory(
        tenant=TenantFactory(slug="tenant-d", name="Tenant D", is_active=False), user=user
    )
    other = UserFactory(username="sam")
    MembershipFactory(tenant=tenant_a, user=other)
    MembershipFactory(tenant=TenantFactory(slug="tenant-e", name="Tenant E"), user=other)

    # When the user asks who they are
    response = api_client(user).get(ME_URL)

    # Then they get their own A and B memberships, by tenant name, and nothing else
    assert response.status_code == 200
    assert response.json() == {
        "username": "pat",
        "email": "pat@example.com",
        "full_name": "Pat Lee",
        "memberships": [
            _summary("tenant-a", "Tenant A", "agent"),
            _summary("tenant-b", "Tenant B", "tenant_admin"),
        ],
    }


def test_a_user_without_memberships_gets_an_empty_list(api_client):
    user = UserFactory(username="loner", email="")

    response = api_client(user).get(ME_URL)

    assert (response.status_code, response.json()) == (
        200,
        {"username": "loner", "email": "", "full_name": "", "memberships": []},
    )


def test_anonymous_is_401(api_client):
    response = api_client(None).get(ME_URL)

    assert response.status_code == 401
    assert response.json() == {
        "code": "not_authenticated",
        "message": "Authentication credentials were not provided.",
        "fields": {},
    }


def test_an_unknown_token_is_401(tenant_a):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token " + "0" * 40)

    response = client.get(ME_URL)

    assert (response.status_code, response.json()) == (
        401,
        {"code": "authentication_failed", "message": "Invalid token.", "fields": {}},
    )


def test_token_from_the_token_endpoint_works(tenant_a, agent_a):
    # Given a token obtained with the user's password
    client = APIClient()
    obtained = client.post(TOKEN_URL, {"username": "agent-a", "password": PASSWORD})
    assert obtained.status_code == 200
    token = obtained.json()["token"]
    assert len(token) == 64

    # When it is sent on API calls
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    me = client.get(ME_URL)
    services = client.get(api_url(tenant_a, "services/"))

    # Then they are the user's
    assert (me.status_code, me.json()["username"]) == (200, "agent-a")
    assert (services.status_code, services.json()["results"]) == (200, [])


def test_the_token_endpoint_refuses_a_wrong_password(agent_a):
    response = APIClient().post(TOKEN_URL, {"username": "agent-a", "password": "wrong"})

    assert response.status_code == 400
    assert response.json() == {
        "code": "invalid",
        "message": "Unable to log in with provided credentials.",
        "fields": {},
    }


def test_session_login_works_for_the_api(tenant_a, agent_a):
    # Given a client logged in with a session, as the web pages are
    client = APIClient()
    # (login throttling needs a request to count against)
    assert client.login(request=HttpRequest(), username="agent-a", password=PASSWORD)

    # When it calls the API without a token
    me = client.get(ME_URL)
    services = client.get(api_url(tenant_a, "services/"))

    # Then the session authenticates it
    assert (me.status_code, me.json()["memberships"]) == (
        200,
        [_summary("tenant-a", "Tenant A", "agent")],
    )
    assert services.status_code == 200


def test_session_after_logout_is_401(tenant_a, agent_a):
    client = APIClient()
    assert client.login(request=HttpRequest(), username="agent-a", password=PASSWORD)
    client.logout()

    response = client.get(ME_URL)

    assert response.status_code == 401
