"""Every API action and every page, asked by every kind of caller: the role × operation matrix.

The matrix is machine-readable: each viewset's `action_roles` says which membership roles may
run each action (tests/test_tenant_isolation.py fails on an action it does not list). Here every
routed action is requested once by each role, by an anonymous caller and by a member of another
tenant. Refused callers change nothing; granted roles are never refused as a role (they may
still get 400/409 for an empty body, or 404 for an object outside their own view).
"""

from typing import Any

import pytest
from django.urls import reverse

from incidents.forms.actions import ACTIONS
from incidents.models import Incident
from itsm.api.views import TENANT_URL_KWARG
from itsm.tenancy import rls
from itsm.tenancy.models import Membership
from tests.factories import FACTORIES
from tests.security.sweep import (
    ANONYMOUS,
    CALLERS,
    NON_MEMBER,
    ROLES,
    assert_record_action_roles,
    visible_to,
)
from tests.test_tenant_isolation import ROUTES, _route_id, _snapshot
from tests.test_tenant_pages import PAGES, page_url, request


def _membership(user, tenant) -> Membership:
    with rls.tenant_scope(tenant.pk):
        return Membership.objects.select_related("tenant", "user").get(user=user, tenant=tenant)


@pytest.mark.django_db
@pytest.mark.parametrize("route", ROUTES, ids=_route_id)
def test_each_caller_gets_what_action_roles_grants(
    route, tenant_a, tenant_b, make_member, api_client
):
    # Given a member of A of every role, a member of B only, and one object of the route in A
    members: dict[str, Any] = {role: make_member(tenant_a, role) for role in ROLES}
    clients: dict[str, Any] = {role: api_client(user) for role, user in members.items()}
    clients[ANONYMOUS] = api_client()
    clients[NON_MEMBER] = api_client(make_member(tenant_b, ROLES[-1]))
    # A report route reads no object of its own: its URL is fixed (REPORT_ROUTES).
    factory = None if route.is_report else FACTORIES[route.model]

    def url_for(instance) -> str:
        lookup = (
            {route.lookup_kwarg: route.viewset.lookup_value_of(instance)}
            if route.lookup_kwarg
            else {}
        )
        return reverse(route.name, kwargs={TENANT_URL_KWARG: tenant_a.slug, **lookup})

    for method, action in route.actions.items():
        granted = route.viewset.action_roles[action]
        for caller in CALLERS:
            # A fresh object for every request: a granted delete must not starve the next one.
            target = factory(tenant=tenant_a) if factory is not None else None
            url = url_for(target) if target is not None else route.report_url(tenant_a)
            before = _snapshot(tenant_a)

            # When the caller asks for the action with an empty body
            response = getattr(clients[caller], method)(url, data={}, format="json")

            # Then refused callers are refused the way the base viewset promises
            status = response.status_code
            # (an export streams: its body is not read here)
            body = b"" if response.streaming else response.content[:300]
            where = (method, action, caller, status, body)
            if caller == ANONYMOUS:
                assert status == 401, where
            elif caller == NON_MEMBER:
                assert status == 404, where
            elif caller not in granted:
                membership = _membership(members[caller], tenant_a)
                hidden = (
                    target is not None
                    and route.lookup_kwarg
                    and not visible_to(route, action, membership, target)
                )
                # 404 before 403: a role refusal never confirms that a hidden object exists.
                assert status == (404 if hidden else 403), where
            else:
                membership = _membership(members[caller], tenant_a)
                hidden = (
                    target is not None
                    and route.lookup_kwarg
                    and not visible_to(route, action, membership, target)
                )
                assert status not in {401, 403}, where
                assert status < 500, where
                if status == 404:
                    assert hidden, where
                continue
            # And a refusal changes nothing in the tenant
            assert _snapshot(tenant_a) == before, where


@pytest.mark.django_db
@pytest.mark.parametrize("page", PAGES, ids=str)
def test_each_caller_gets_what_a_page_grants(client, tenant_a, tenant_b, make_member, page):
    # Pages declare their roles in `page_roles` (TenantPageMixin: every member by default).
    for role in ROLES:
        user = make_member(tenant_a, role)
        client.force_login(user)
        status = request(client, page, page_url(page, tenant_a, user)).status_code
        if role not in page.roles:
            assert status == 403, role
        elif page.method == "get":
            assert status == 200, role
        else:  # an empty form is refused as bad input, never as a role
            assert status not in {401, 403}, (role, status)
            assert status < 500, (role, status)
    outsider = make_member(tenant_b, ROLES[-1])
    client.force_login(outsider)
    assert request(client, page, page_url(page, tenant_a, outsider)).status_code == 404
    client.logout()
    response = request(client, page, page_url(page, tenant_a, outsider))
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


@pytest.mark.django_db
@pytest.mark.parametrize("action", list(ACTIONS))
def test_each_caller_gets_what_a_record_action_grants(
    client, tenant_a, tenant_b, make_member, action
):
    # The record page's actions declare their roles in incidents.forms.actions.ACTIONS (held
    # equal to the API's action_roles by tests/incidents/test_record_page.py).
    assert_record_action_roles(
        client,
        tenant_a,
        tenant_b,
        make_member,
        url_name="incidents:action",
        action=action,
        granted=ACTIONS[action].roles,
        make_reference=lambda tenant, user: (
            FACTORIES[Incident](tenant=tenant, reported_by=user).reference
        ),
    )
