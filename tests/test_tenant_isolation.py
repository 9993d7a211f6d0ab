"""The first wall, swept over every API route: a member of tenant A can never reach tenant B.

The routes come from the URL resolver, so an endpoint added later is covered without editing
this test; its model only needs a factory in tests/factories.py (the test says so if not).
"""

from dataclasses import dataclass, replace
from typing import Any

import pytest
from django.db.models import Model
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from itsm.api.views import TENANT_URL_KWARG, TenantScopedViewSet
from itsm.tenancy import rls
from itsm.tenancy.choices import MembershipRole
from itsm.tenancy.models import Tenant
from tests.factories import FACTORIES

UNSAFE_METHODS = {"post", "put", "patch", "delete"}
# Lists that answer only with these query parameters (by URL name, without the namespace).
REQUIRED_QUERY: dict[str, dict[str, str]] = {
    "change-calendar-list": {"start": "2000-01-01T00:00:00Z", "end": "2001-01-01T00:00:00Z"},
}
# Routes that answer a report computed over the tenant's records, not rows of one model (by
# namespaced URL name), with the URL kwargs that address one. The sweeps check that each answers
# in the caller's tenant and is absent in another; what their figures count is tested with them
# (tests/metrics/test_api.py, which sweeps every metric).
REPORT_ROUTES: dict[str, dict[str, str]] = {
    "metrics-api:metric-summary": {},
    "metrics-api:metric-detail": {"key": "volume"},
    "metrics-api:metric-export": {"key": "volume"},
}


@dataclass(frozen=True)
class Route:
    name: str  # namespaced URL name
    # None when the view is not a viewset: kept, so that the test below fails on such a route.
    viewset: type[TenantScopedViewSet] | None
    actions: dict[str, str]  # HTTP method -> viewset action
    lookup_kwarg: str | None  # None for list routes

    @property
    def is_report(self) -> bool:
        return self.name in REPORT_ROUTES

    def report_url(self, tenant: Tenant) -> str:
        """A report route's URL in `tenant`."""
        return reverse(
            self.name, kwargs={TENANT_URL_KWARG: tenant.slug, **REPORT_ROUTES[self.name]}
        )

    @property
    def model(self) -> type[Model]:
        assert self.viewset is not None, self.name
        return self.viewset.queryset.model  # type: ignore[union-attr]


def tenant_routes() -> list[Route]:
    routes: list[Route] = []

    def walk(patterns: list[Any], namespace: str, in_tenant: bool) -> None:
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                inside = in_tenant or TENANT_URL_KWARG in str(pattern.pattern)
                child_ns = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
                walk(pattern.url_patterns, child_ns, inside)
            elif isinstance(pattern, URLPattern) and in_tenant:
                view = pattern.callback
                viewset = getattr(view, "cls", None)
                kwargs = set(pattern.pattern.regex.groupindex)
                lookup = viewset.lookup_url_kwarg or viewset.lookup_field if viewset else None
                routes.append(
                    Route(
                        name=f"{namespace}{pattern.name}",
                        viewset=viewset,
                        actions=dict(getattr(view, "actions", {}) or {}),
                        lookup_kwarg=lookup if lookup in kwargs else None,
                    )
                )

    walk(get_resolver().url_patterns, "", in_tenant=False)
    return routes


ROUTES = tenant_routes()
# The routes that read or write rows of one model: the sweeps make one object of each of them.
MODEL_ROUTES = [route for route in ROUTES if not route.is_report]


def _route_id(route: Route) -> str:
    return route.name


def test_the_sweep_finds_the_routes():
    names = {route.name for route in ROUTES}
    assert {
        "catalog-api:service-list",
        "catalog-api:service-detail",
        "tenancy-api:team-detail",
        "incidents-api:incident-detail",
        "incidents-api:incident-resolve",
    } <= names
    assert set(REPORT_ROUTES) <= names


@pytest.mark.parametrize("route", ROUTES, ids=_route_id)
def test_every_tenant_route_is_built_on_the_tenant_viewset(route):
    assert route.viewset is not None
    assert issubclass(route.viewset, TenantScopedViewSet)
    # Fail closed: the class-level queryset is empty; rows only come from get_tenant_queryset.
    assert route.viewset.queryset is not None
    assert route.viewset.queryset.query.is_empty()


@pytest.mark.parametrize("route", ROUTES, ids=_route_id)
def test_every_action_grants_roles_explicitly(route):
    missing = set(route.actions.values()) - set(route.viewset.action_roles)
    assert not missing, f"{route.viewset.__name__}.action_roles lacks {sorted(missing)}"
    for action, roles in route.viewset.action_roles.items():
        assert roles, action
        assert set(roles) <= set(MembershipRole), (action, roles)


def _snapshot(tenant: Tenant) -> dict[str, list[dict[str, Any]]]:
    with rls.tenant_scope(tenant.pk):
        return {
            model._meta.label: list(
                model._default_manager.filter(tenant=tenant).order_by("pk").values()
            )
            for model in rls.tenant_models()
        }


@pytest.fixture
def world_b(tenant_b) -> dict[type[Model], Model]:
    """One object of every routed model in tenant B."""
    objects = {}
    for route in MODEL_ROUTES:
        factory = FACTORIES.get(route.model)
        assert factory is not None, (
            f"add a factory for {route.model.__name__} to tests/factories.py"
        )
        if route.model not in objects:
            objects[route.model] = factory(tenant=tenant_b)
    return objects


@pytest.fixture(params=["both walls", "first wall alone"])
def walls(request, monkeypatch) -> str:
    """Run the sweep also with row-level security opened up (as on SQLite), so that the
    application's own scoping is proven on its own and not hidden behind the database's."""
    if request.param == "first wall alone":
        apply = rls._apply
        monkeypatch.setattr(
            rls,
            "_apply",
            lambda connection, context: apply(connection, replace(context, platform=True)),
        )
    wall: str = request.param
    return wall


@pytest.mark.django_db
@pytest.mark.parametrize("route", ROUTES, ids=_route_id)
def test_tenant_a_cannot_reach_tenant_b(
    route, walls, tenant_a, tenant_b, admin_a, world_b, api_client
):
    client = api_client(admin_a)  # the most powerful role inside tenant A
    before = _snapshot(tenant_b)
    if route.is_report:
        for method in route.actions:
            # A's report answers (A's own records only: tests/metrics/test_api.py) …
            response = getattr(client, method)(route.report_url(tenant_a))
            assert response.status_code == 200, (method, route.name, response)
            # … and B's is absent: A's user is not a member there.
            response = getattr(client, method)(route.report_url(tenant_b))
            assert response.status_code == 404, (method, route.name, response)
        assert _snapshot(tenant_b) == before
        return
    target = world_b[route.model]
    lookup = (
        {route.lookup_kwarg: route.viewset.lookup_value_of(target)} if route.lookup_kwarg else {}
    )

    for method, action in route.actions.items():
        # B's object through A's URL: indistinguishable from an object that does not exist.
        if route.lookup_kwarg:
            url = reverse(route.name, kwargs={TENANT_URL_KWARG: tenant_a.slug, **lookup})
            response = getattr(client, method)(url, data={}, format="json")
            assert response.status_code == 404, (method, action, url, response.content)
            assert response.json()["code"] == "not_found"
        elif method == "get":
            url = reverse(route.name, kwargs={TENANT_URL_KWARG: tenant_a.slug})
            query = {"page_size": 200, **REQUIRED_QUERY.get(route.name.rpartition(":")[2], {})}
            response = client.get(url, query)
            assert response.status_code == 200, (url, response.content)
            assert str(target.pk) not in {str(row.get("id")) for row in response.json()["results"]}
            values = {str(value) for row in response.json()["results"] for value in row.values()}
            assert route.viewset.lookup_value_of(target) not in values
        # B's URL itself: A's user is not a member there, so everything is 404 too.
        url = reverse(route.name, kwargs={TENANT_URL_KWARG: tenant_b.slug, **lookup})
        response = getattr(client, method)(url, data={}, format="json")
        assert response.status_code == 404, (method, action, url, response.content)

    assert _snapshot(tenant_b) == before
