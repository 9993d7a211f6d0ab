"""The cross-tenant sweep, extended to what a client can put in a request: tenant B's values.

Every filter and query parameter of every list route (from its filterset and its search and
ordering settings) is given each of B's ids, slugs, usernames and references: the list answers
nothing of B and never a 500. Every related field of every input serializer is given B's
object: the answer is a 400 naming that field, and nothing is written in either tenant. Both run
with row-level security on and off, so the application's own scoping is proven on its own.
"""

from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse
from rest_framework import relations

from itsm.api.views import TENANT_URL_KWARG
from itsm.tenancy import rls
from itsm.tenancy.models import Membership
from tests.factories import FACTORIES
from tests.security.sweep import input_serializer
from tests.test_tenant_isolation import MODEL_ROUTES, ROUTES, Route, _route_id, _snapshot

LIST_ROUTES = [r for r in ROUTES if r.actions.get("get") == "list"]
INPUT_ROUTES = [
    r
    for r in ROUTES
    if r.viewset and set(r.actions.values()) & set(r.viewset.input_serializer_classes)
]
TEXT_FIELDS = ("name", "title", "slug", "username", "email")


def _b_users(tenant_b) -> list[Any]:
    with rls.tenant_scope(tenant_b.pk):
        return [m.user for m in Membership.objects.filter(tenant=tenant_b).select_related("user")]


def _foreign_values(world: dict[Any, Any], users: list[Any]) -> list[str]:
    """Everything of B a client could name: ids, lookup values, slugs, usernames."""
    values: set[str] = set()
    for route in MODEL_ROUTES:
        assert route.viewset is not None
        instance = world[route.model]
        values |= {str(instance.pk), route.viewset.lookup_value_of(instance)}
        values |= {str(getattr(instance, name)) for name in ("slug",) if hasattr(instance, name)}
    for user in users:
        values |= {str(user.pk), user.get_username(), user.email}
    return sorted(values)


def _fingerprints(world: dict[Any, Any], users: list[Any]) -> set[str]:
    """B's values that exist nowhere in A: any of them in A's answer is a leak."""
    found = {
        str(getattr(instance, name))
        for instance in world.values()
        for name in TEXT_FIELDS
        if getattr(instance, name, "")
    }
    found |= {value for user in users for value in (user.get_username(), user.email)}
    return found


def _scalars(data: Any) -> set[str]:
    if isinstance(data, dict):
        return set().union(*(_scalars(value) for value in data.values()))
    if isinstance(data, list):
        return set().union(*(_scalars(value) for value in data)) if data else set()
    return {str(data)}


def _query_parameters(route: Route) -> list[str]:
    viewset = route.viewset
    filterset = getattr(viewset, "filterset_class", None)
    names = list(filterset.base_filters) if filterset else []
    if getattr(viewset, "search_fields", None):
        names.append("search")
    if getattr(viewset, "ordering_fields", None):
        names.append("ordering")
    return names


@pytest.mark.django_db
@pytest.mark.parametrize("route", LIST_ROUTES, ids=_route_id)
def test_no_query_parameter_reaches_tenant_b(
    route, walls, tenant_a, tenant_b, admin_a, requester_a, world_b, api_client
):
    # Given one object of every routed model in A and in B
    for model in {r.model for r in MODEL_ROUTES}:
        FACTORIES[model](tenant=tenant_a)
    users = _b_users(tenant_b)
    values = _foreign_values(world_b, users)
    fingerprints = _fingerprints(world_b, users)
    b_ids = {str(world_b[route.model].pk)}
    roles = [
        user
        for user in (admin_a, requester_a)
        if _role_of(user, tenant_a) in route.viewset.action_roles["list"]
    ]
    url = reverse(route.name, kwargs={TENANT_URL_KWARG: tenant_a.slug})
    parameters = _query_parameters(route)
    tried = 0

    for user in roles:
        client = api_client(user)
        for parameter in parameters:
            for value in values:
                # When A's list is asked with B's value in the parameter
                response = client.get(url, {parameter: value, "page_size": 200})
                tried += 1

                # Then the answer is a list of A's rows or a 4xx, and holds nothing of B
                where = (parameter, value, response.status_code, response.content[:300])
                assert response.status_code < 500, where
                if response.status_code != 200:
                    assert response.status_code == 400, where
                    continue
                rows = response.json()["results"]
                assert not {str(row.get("id")) for row in rows} & b_ids, where
                assert not _scalars(rows) & fingerprints, where

    figures = f"{len(parameters)} parameters × {len(roles)} roles × {len(values)} values of B"
    print(f"{route.name} ({walls}): {figures} = {tried} requests, leaks 0")  # noqa: T201


def _role_of(user, tenant) -> str:
    with rls.tenant_scope(tenant.pk):
        return str(Membership.objects.get(user=user, tenant=tenant).role)


def _foreign_value(
    field: relations.RelatedField[Any, Any, Any], world: dict[Any, Any], admin_b
) -> Any:
    """B's object as this field would name it, or None when B has none of its model."""
    assert field.queryset is not None
    model = field.queryset.model
    instance = admin_b if model is get_user_model() else world.get(model)
    if instance is None:
        return None
    slug_field = getattr(field, "slug_field", None)
    return getattr(instance, slug_field) if slug_field else instance.pk


def _related_fields(serializer) -> dict[str, tuple[relations.RelatedField[Any, Any, Any], bool]]:
    found = {}
    for name, field in serializer.fields.items():
        if field.read_only:
            continue
        if isinstance(field, relations.ManyRelatedField):
            found[name] = (field.child_relation, True)
        elif isinstance(field, relations.RelatedField):
            found[name] = (field, False)
    return found


@pytest.mark.django_db
@pytest.mark.parametrize("route", INPUT_ROUTES, ids=_route_id)
def test_no_input_field_links_to_tenant_b(
    route, walls, tenant_a, tenant_b, admin_a, admin_b, world_b, api_client
):
    client = api_client(admin_a)
    with rls.tenant_scope(tenant_a.pk):
        membership = Membership.objects.select_related("tenant", "user").get(user=admin_a)
    factory = FACTORIES[route.model]
    tried = 0

    for method, action in route.actions.items():
        serializer = input_serializer(route, action, membership)
        if serializer is None:
            continue
        assert membership.role in route.viewset.action_roles[action], action
        for name, (field, many) in _related_fields(serializer).items():
            value = _foreign_value(field, world_b, admin_b)
            assert value is not None, f"{route.name} {name}: no object of B to name"
            kwargs = {TENANT_URL_KWARG: tenant_a.slug}
            if route.lookup_kwarg:
                target = factory(tenant=tenant_a)
                kwargs[route.lookup_kwarg] = route.viewset.lookup_value_of(target)
            before = (_snapshot(tenant_a), _snapshot(tenant_b))

            # When A's admin names B's object in the field
            body = {name: [value] if many else value}
            response = getattr(client, method)(reverse(route.name, kwargs=kwargs), body, "json")
            tried += 1

            # Then it is refused as an invalid value of that field, and nothing is written
            where = (action, name, value, response.status_code, response.content[:300])
            assert response.status_code == 400, where
            assert name in response.json()["fields"], where
            assert (_snapshot(tenant_a), _snapshot(tenant_b)) == before, where

    print(f"{route.name} ({walls}): {tried} related fields given B's object, 0 accepted")  # noqa: T201
