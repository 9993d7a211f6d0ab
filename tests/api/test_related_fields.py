"""Links to other objects only ever reach the request's tenant.

Another tenant's slug, in a body or in a filter, is answered exactly like a slug that does not
exist: a 400 on that field, and nothing written. Its existence never leaks.
"""

from typing import Any

import pytest

from itsm.catalog.models import Category, Service
from itsm.tenancy import rls
from itsm.tenancy.models import Team, TeamMember
from tests.conftest import api_url
from tests.factories import CategoryFactory, ServiceFactory, TeamFactory, TeamMemberFactory
from tests.reading import rows_across_tenants

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(tenant_a, tenant_b, admin_a, admin_b) -> dict[str, Any]:
    """In A: team "desk", category "hardware", service "email". In B: team "b-ops", category
    "b-hardware" with a child, service "b-email" owned by b-ops, and a user only in B."""
    desk = TeamFactory(tenant=tenant_a, slug="desk", name="Desk")
    ServiceFactory(tenant=tenant_a, slug="email", name="E-mail", owner_team=desk)
    CategoryFactory(tenant=tenant_a, slug="hardware", name="Hardware")
    b_ops = TeamFactory(tenant=tenant_b, slug="b-ops", name="B ops")
    b_hardware = CategoryFactory(tenant=tenant_b, slug="b-hardware", name="B hardware")
    CategoryFactory(tenant=tenant_b, slug="b-laptops", parent=b_hardware)
    ServiceFactory(tenant=tenant_b, slug="b-email", owner_team=b_ops)
    TeamMemberFactory(tenant=tenant_b, team=b_ops, user=admin_b)
    return {"desk": desk, "b_ops": b_ops, "b_hardware": b_hardware}


def _everything() -> dict[str, list[dict[str, Any]]]:
    return {
        model.__name__: rows_across_tenants(model)
        for model in (Service, Category, Team, TeamMember)
    }


def _missing(field: str, slug_field: str, value: str) -> dict[str, Any]:
    return {
        "code": "invalid",
        "message": "Invalid input.",
        "fields": {field: [f"Object with {slug_field}={value} does not exist."]},
    }


# (endpoint in A, method, body, field, the slug field and B's value named in the error)
CROSS_TENANT_BODIES = [
    (
        "services/",
        "post",
        {"name": "X", "slug": "x", "owner_team": "b-ops"},
        "owner_team",
        "slug",
        "b-ops",
    ),
    ("services/email/", "patch", {"owner_team": "b-ops"}, "owner_team", "slug", "b-ops"),
    (
        "categories/",
        "post",
        {"name": "X", "slug": "x", "parent": "b-hardware"},
        "parent",
        "slug",
        "b-hardware",
    ),
    ("categories/hardware/", "patch", {"parent": "b-hardware"}, "parent", "slug", "b-hardware"),
    (
        "teams/",
        "post",
        {"name": "X", "slug": "x", "kind": "l1", "escalation_team": "b-ops"},
        "escalation_team",
        "slug",
        "b-ops",
    ),
    ("teams/desk/", "patch", {"escalation_team": "b-ops"}, "escalation_team", "slug", "b-ops"),
    (
        "teams/",
        "post",
        {"name": "X", "slug": "x", "kind": "l1", "members": ["admin-a", "admin-b"]},
        "members",
        "username",
        "admin-b",
    ),
    ("teams/desk/", "patch", {"members": ["admin-b"]}, "members", "username", "admin-b"),
]


@pytest.mark.parametrize(
    ("path", "method", "body", "field", "slug_field", "value"),
    CROSS_TENANT_BODIES,
    ids=[f"{case[1]} {case[0]} {case[3]}" for case in CROSS_TENANT_BODIES],
)
def test_another_tenants_object_in_a_body_is_a_400_on_that_field(
    api_client, tenant_a, admin_a, world, path, method, body, field, slug_field, value
):
    # Given objects in both tenants, and A's administrator
    before = _everything()

    # When the administrator links to B's object from A
    response = getattr(api_client(admin_a), method)(api_url(tenant_a, path), body)

    # Then it is refused on that field like a slug that does not exist, and nothing is written
    assert (response.status_code, response.json()) == (400, _missing(field, slug_field, value))
    assert _everything() == before


def test_the_same_slug_in_both_tenants_links_to_the_requests_tenant(
    api_client, tenant_a, tenant_b, admin_a
):
    # Given a team "ops" in each tenant
    ops_a = TeamFactory(tenant=tenant_a, slug="ops")
    TeamFactory(tenant=tenant_b, slug="ops")

    # When A's administrator creates a service owned by "ops"
    response = api_client(admin_a).post(
        api_url(tenant_a, "services/"), {"name": "Backup", "slug": "backup", "owner_team": "ops"}
    )

    # Then it is A's "ops"
    assert (response.status_code, response.json()["owner_team"]) == (201, "ops")
    with rls.tenant_scope(tenant_a.pk):
        assert Service.objects.get(slug="backup").owner_team_id == ops_a.pk


@pytest.mark.parametrize(
    ("path", "query", "field"),
    [
        ("services/", {"owner_team": "b-ops"}, "owner_team"),
        ("categories/", {"parent": "b-hardware"}, "parent"),
    ],
)
def test_another_tenants_slug_in_a_filter_is_a_400_like_an_unknown_one(
    api_client, tenant_a, agent_a, world, path, query, field
):
    # Given objects in both tenants
    client = api_client(agent_a)

    # When an agent of A filters by B's object, and by a slug that does not exist
    theirs = client.get(api_url(tenant_a, path), query)
    unknown = client.get(api_url(tenant_a, path), {field: "does-not-exist"})

    # Then both are the same 400 on the filter's field: B's object is not a valid choice in A
    expected = {
        "code": "invalid",
        "message": "Invalid input.",
        "fields": {
            field: ["Select a valid choice. That choice is not one of the available choices."]
        },
    }
    assert (theirs.status_code, theirs.json()) == (400, expected)
    assert (unknown.status_code, unknown.json()) == (400, expected)


def test_filters_by_the_requests_tenants_objects_still_work(api_client, tenant_a, agent_a, world):
    client = api_client(agent_a)

    services = client.get(api_url(tenant_a, "services/"), {"owner_team": "desk"})
    children = client.get(api_url(tenant_a, "categories/"), {"parent": "hardware"})

    assert [item["slug"] for item in services.json()["results"]] == ["email"]
    assert (children.status_code, children.json()["results"]) == (200, [])


def test_team_member_filter_by_a_user_of_another_tenant_matches_nothing(
    api_client, tenant_a, agent_a, world
):
    # The teams' `member` filter is a plain username match: B's user is in no team of A.
    response = api_client(agent_a).get(api_url(tenant_a, "teams/"), {"member": "admin-b"})

    assert (response.status_code, response.json()["results"]) == (200, [])
