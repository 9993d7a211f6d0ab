"""What the security sweeps share: the callers of every kind, and a view as one member sees it.

Everything is derived from the routes the URL resolver finds and from each viewset's
`action_roles` and input serializers, so an endpoint added later is swept without editing these
tests (its model only needs a factory in tests/factories.py).
"""

from collections.abc import Callable, Collection
from types import SimpleNamespace
from typing import Any

from django.db.models import Model
from django.urls import reverse
from rest_framework import serializers

from itsm.api.views import TENANT_URL_KWARG
from itsm.tenancy import rls
from itsm.tenancy.choices import MembershipRole
from itsm.tenancy.models import Membership, Tenant
from tests.test_tenant_isolation import Route, _snapshot

ROLES = list(MembershipRole)
ANONYMOUS = "anonymous"
NON_MEMBER = "non-member"  # a member of tenant B only
CALLERS: list[str] = [*ROLES, ANONYMOUS, NON_MEMBER]


def assert_record_action_roles(
    client: Any,
    tenant_a: Tenant,
    tenant_b: Tenant,
    make_member: Callable[[Tenant, str], Any],
    *,
    url_name: str,
    action: str,
    granted: Collection[str],
    make_reference: Callable[[Tenant, Any], str],
    granted_status: int = 400,
) -> None:
    """POST a record page's action with an empty form as every kind of caller: refused callers
    are refused as pages refuse them (log in, 404, 403), granted roles only for the empty form
    (`granted_status`), and nothing in tenant A changes."""
    outsider = make_member(tenant_b, ROLES[-1])
    for caller in CALLERS:
        # Given a record of A (made for the caller, so that a requester may see their own)
        member = make_member(tenant_a, caller) if caller in ROLES else outsider
        url = reverse(
            url_name,
            kwargs={
                TENANT_URL_KWARG: tenant_a.slug,
                "reference": make_reference(tenant_a, member),
                "action": action,
            },
        )
        client.logout()
        if caller != ANONYMOUS:
            client.force_login(member)
        before = _snapshot(tenant_a)

        # When the caller posts the action with an empty form
        response = client.post(url, data={})

        # Then refused callers are refused as pages refuse them, and nothing changes
        status = response.status_code
        where = (url_name, action, caller, status)
        if caller == ANONYMOUS:
            assert status == 302, where
            assert response["Location"].startswith("/accounts/login/"), where
        elif caller == NON_MEMBER:
            assert status == 404, where
        elif caller not in granted:
            assert status == 403, where
        else:
            assert status == granted_status, where
        assert _snapshot(tenant_a) == before, where


def member_view(route: Route, action: str, membership: Membership) -> Any:
    """The route's viewset set up for `action` as `membership`'s request would set it up."""
    assert route.viewset is not None
    view = route.viewset()
    view.action = action
    view.format_kwarg = None
    view.kwargs = {}
    view.request = SimpleNamespace(  # type: ignore[assignment]  # what initial() puts on it
        user=membership.user,
        membership=membership,
        tenant=membership.tenant,
        query_params={},
        data={},
    )
    return view


def input_serializer(
    route: Route, action: str, membership: Membership
) -> serializers.Serializer[Any] | None:
    """The serializer that validates `action`'s body for this member; None if it takes none."""
    view = member_view(route, action, membership)
    try:
        serializer: serializers.Serializer[Any] = view.get_input_serializer()
    except KeyError:
        return None
    return serializer


def visible_to(route: Route, action: str, membership: Membership, instance: Model) -> bool:
    """Whether the member's own view of the route holds `instance` (else 404 is the answer)."""
    view = member_view(route, action, membership)
    with rls.tenant_scope(membership.tenant.pk):
        return bool(view.get_tenant_queryset(membership.tenant).filter(pk=instance.pk).exists())
