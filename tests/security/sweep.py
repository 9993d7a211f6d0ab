"""What the security sweeps share: the callers of every kind, and a view as one member sees it.

Everything is derived from the routes the URL resolver finds and from each viewset's
`action_roles` and input serializers, so an endpoint added later is swept without editing these
tests (its model only needs a factory in tests/factories.py).
"""

from types import SimpleNamespace
from typing import Any

from django.db.models import Model
from rest_framework import serializers

from itsm.tenancy import rls
from itsm.tenancy.choices import MembershipRole
from itsm.tenancy.models import Membership
from tests.test_tenant_isolation import Route

ROLES = list(MembershipRole)
ANONYMOUS = "anonymous"
NON_MEMBER = "non-member"  # a member of tenant B only


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
