"""The service catalogue API: services and categories of the URL's tenant."""

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from itsm.catalog.choices import ServiceCriticality
from itsm.catalog.models import Category, Service
from itsm.tenancy import rls
from tests.conftest import api_url
from tests.factories import CategoryFactory, ServiceFactory, TeamFactory
from tests.reading import across_tenants

pytestmark = pytest.mark.django_db

NOT_AUTHENTICATED = {
    "code": "not_authenticated",
    "message": "Authentication credentials were not provided.",
    "fields": {},
}
NO_SUCH_TENANT = {"code": "not_found", "message": "No such tenant.", "fields": {}}
ROLE_REFUSED = {
    "code": "permission_denied",
    "message": "Your role does not allow this action.",
    "fields": {},
}

# Who calls, as the fixture that gives the user (None: no credentials at all).
CALLERS = {
    "anonymous": None,
    "member_of_another_tenant": "admin_b",
    "requester": "requester_a",
    "agent": "agent_a",
    "tenant_admin": "admin_a",
}
READ_STATUS = {
    "anonymous": (401, NOT_AUTHENTICATED),
    "member_of_another_tenant": (404, NO_SUCH_TENANT),
    "requester": (200, None),
    "agent": (200, None),
    "tenant_admin": (200, None),
}
WRITE_REFUSED = {
    "anonymous": (401, NOT_AUTHENTICATED),
    "member_of_another_tenant": (404, NO_SUCH_TENANT),
    "requester": (403, ROLE_REFUSED),
    "agent": (403, ROLE_REFUSED),
}
MODELS = {"services": Service, "categories": Category}


def _caller(request: pytest.FixtureRequest, name: str) -> Any:
    fixture = CALLERS[name]
    return None if fixture is None else request.getfixturevalue(fixture)


def _rows(model: Any) -> list[dict[str, Any]]:
    """Every row of the model in every tenant, to show that a refused call changed nothing."""
    return across_tenants(lambda: list(model.objects.order_by("pk").values()))


def _make(resource: str, tenant: Any, **fields: Any) -> Any:
    if resource == "services":
        return ServiceFactory(tenant=tenant, **fields)
    return CategoryFactory(tenant=tenant, **fields)


def _slugs(response: Any) -> list[str]:
    return [item["slug"] for item in response.json()["results"]]


# --- Role matrix ---------------------------------------------------------------------------------


@pytest.mark.parametrize("resource", ["services", "categories"])
@pytest.mark.parametrize("caller", list(READ_STATUS))
def test_list_by_role(request, api_client, tenant_a, tenant_b, resource, caller):
    # Given one object in each tenant
    _make(resource, tenant_a, slug="mine", name="Mine")
    _make(resource, tenant_b, slug="theirs", name="Theirs")
    user = _caller(request, caller)

    # When the caller lists tenant A's objects
    response = api_client(user).get(api_url(tenant_a, f"{resource}/"))

    # Then members of A see only A's object, everyone else is refused
    status, body = READ_STATUS[caller]
    assert response.status_code == status
    if body is None:
        assert _slugs(response) == ["mine"]
    else:
        assert response.json() == body


@pytest.mark.parametrize("resource", ["services", "categories"])
@pytest.mark.parametrize("caller", list(READ_STATUS))
def test_retrieve_by_role(request, api_client, tenant_a, resource, caller):
    # Given an object of tenant A
    _make(resource, tenant_a, slug="mine", name="Mine", description="What it is")
    user = _caller(request, caller)

    # When the caller asks for it by slug
    response = api_client(user).get(api_url(tenant_a, f"{resource}/mine/"))

    # Then members of A get it, everyone else is refused
    status, body = READ_STATUS[caller]
    assert response.status_code == status
    if body is None:
        assert response.json()["slug"] == "mine"
        assert response.json()["description"] == "What it is"
    else:
        assert response.json() == body


@pytest.mark.parametrize("resource", ["services", "categories"])
@pytest.mark.parametrize("caller", list(WRITE_REFUSED))
def test_create_is_refused_to_all_but_tenant_admins(
    request, api_client, tenant_a, resource, caller
):
    # Given a caller who is not a tenant administrator of A
    user = _caller(request, caller)
    before = _rows(MODELS[resource])

    # When they try to create an object in A
    response = api_client(user).post(
        api_url(tenant_a, f"{resource}/"), {"name": "New", "slug": "new"}
    )

    # Then they are refused and nothing is written
    status, body = WRITE_REFUSED[caller]
    assert (response.status_code, response.json()) == (status, body)
    assert _rows(MODELS[resource]) == before


@pytest.mark.parametrize("resource", ["services", "categories"])
@pytest.mark.parametrize("caller", list(WRITE_REFUSED))
def test_update_is_refused_to_all_but_tenant_admins(
    request, api_client, tenant_a, resource, caller
):
    # Given an object of A and a caller who is not a tenant administrator of A
    _make(resource, tenant_a, slug="mine", name="Mine")
    user = _caller(request, caller)
    before = _rows(MODELS[resource])

    # When they try to rename it
    response = api_client(user).patch(api_url(tenant_a, f"{resource}/mine/"), {"name": "Renamed"})

    # Then they are refused and nothing is written
    status, body = WRITE_REFUSED[caller]
    assert (response.status_code, response.json()) == (status, body)
    assert _rows(MODELS[resource]) == before


@pytest.mark.parametrize("resource", ["services", "categories"])
@pytest.mark.parametrize("caller", list(WRITE_REFUSED))
def test_delete_is_refused_to_all_but_tenant_admins(
    request, api_client, tenant_a, resource, caller
):
    # Given an object of A and a caller who is not a tenant administrator of A
    _make(resource, tenant_a, slug="mine", name="Mine")
    user = _caller(request, caller)
    before = _rows(MODELS[resource])

    # When they try to delete it
    response = api_client(user).delete(api_url(tenant_a, f"{resource}/mine/"))

    # Then they are refused and nothing is deleted
    status, body = WRITE_REFUSED[caller]
    assert (response.status_code, response.json()) == (status, body)
    assert _rows(MODELS[resource]) == before


@pytest.mark.parametrize("resource", ["services", "categories"])
def test_another_tenants_object_is_not_found(api_client, tenant_a, tenant_b, admin_a, resource):
    # Given an object that only tenant B has
    _make(resource, tenant_b, slug="theirs", name="Theirs")
    before = _rows(MODELS[resource])
    client = api_client(admin_a)
    url = api_url(tenant_a, f"{resource}/theirs/")

    # When A's administrator reads, changes or deletes it through A's URL
    responses = [client.get(url), client.patch(url, {"name": "Hijacked"}), client.delete(url)]

    # Then each is a 404, exactly like a slug that does not exist, and B's object is untouched
    missing = {"code": "not_found", "message": "Not found.", "fields": {}}
    assert [(r.status_code, r.json()) for r in responses] == [(404, missing)] * 3
    assert _rows(MODELS[resource]) == before


# --- Writes by a tenant administrator ----------------------------------------------------------


def test_admin_creates_a_service(api_client, tenant_a, admin_a):
    # Given a team of A
    TeamFactory(tenant=tenant_a, slug="ops", name="Ops")

    # When A's administrator creates a service owned by it
    response = api_client(admin_a).post(
        api_url(tenant_a, "services/"),
        {
            "name": "E-mail",
            "slug": "email",
            "description": "Mail for everyone",
            "owner_team": "ops",
            "criticality": "critical",
        },
    )

    # Then it is created in A with exactly those values
    assert response.status_code == 201
    body = response.json()
    assert {key: body[key] for key in body if key not in ("created_at", "updated_at")} == {
        "slug": "email",
        "name": "E-mail",
        "description": "Mail for everyone",
        "owner_team": "ops",
        "criticality": "critical",
        "is_active": True,
    }
    with rls.tenant_scope(tenant_a.pk):
        service = Service.objects.select_related("owner_team").get(slug="email")
        assert service.owner_team is not None
        assert (service.tenant_id, service.owner_team.slug, service.criticality) == (
            tenant_a.pk,
            "ops",
            ServiceCriticality.CRITICAL,
        )


def test_admin_creates_a_category_under_a_parent(api_client, tenant_a, admin_a):
    # Given a root category of A
    root = CategoryFactory(tenant=tenant_a, slug="hardware", name="Hardware")

    # When A's administrator creates a category under it
    response = api_client(admin_a).post(
        api_url(tenant_a, "categories/"),
        {"name": "Laptops", "slug": "laptops", "parent": "hardware"},
    )

    # Then the category is created under that parent
    assert response.status_code == 201
    body = response.json()
    assert (body["slug"], body["name"], body["parent"], body["is_active"]) == (
        "laptops",
        "Laptops",
        "hardware",
        True,
    )
    with rls.tenant_scope(tenant_a.pk):
        assert Category.objects.get(slug="laptops").parent_id == root.pk


def test_admin_patches_only_the_given_fields(api_client, tenant_a, admin_a):
    # Given a service of A without an owner, and a team
    TeamFactory(tenant=tenant_a, slug="ops")
    ServiceFactory(
        tenant=tenant_a,
        slug="email",
        name="E-mail",
        description="Old",
        owner_team=None,
        criticality=ServiceCriticality.LOW,
    )

    # When the administrator changes its criticality and owner
    response = api_client(admin_a).patch(
        api_url(tenant_a, "services/email/"), {"criticality": "high", "owner_team": "ops"}
    )

    # Then those change and the rest stays
    assert response.status_code == 200
    body = response.json()
    assert (body["name"], body["description"], body["criticality"], body["owner_team"]) == (
        "E-mail",
        "Old",
        "high",
        "ops",
    )
    with rls.tenant_scope(tenant_a.pk):
        service = Service.objects.get(slug="email")
        assert service.owner_team is not None
        assert (service.description, service.criticality, service.owner_team.slug) == (
            "Old",
            "high",
            "ops",
        )


def test_admin_patches_a_category_to_the_root(api_client, tenant_a, admin_a):
    # Given a category under a parent
    root = CategoryFactory(tenant=tenant_a, slug="hardware")
    CategoryFactory(tenant=tenant_a, slug="laptops", parent=root)

    # When the administrator removes the parent
    response = api_client(admin_a).patch(api_url(tenant_a, "categories/laptops/"), {"parent": None})

    # Then it is a root category
    assert (response.status_code, response.json()["parent"]) == (200, None)
    with rls.tenant_scope(tenant_a.pk):
        assert Category.objects.get(slug="laptops").parent_id is None


@pytest.mark.parametrize("resource", ["services", "categories"])
def test_admin_deletes_an_unused_object(api_client, tenant_a, tenant_b, admin_a, resource):
    # Given an object in A and one with the same slug in B
    _make(resource, tenant_a, slug="old", name="Old")
    theirs = _make(resource, tenant_b, slug="old", name="Old")

    # When A's administrator deletes A's
    response = api_client(admin_a).delete(api_url(tenant_a, f"{resource}/old/"))

    # Then A's is gone and B's is still there
    assert (response.status_code, response.content) == (204, b"")
    remaining = across_tenants(lambda: list(MODELS[resource].objects.values_list("pk", flat=True)))
    assert remaining == [theirs.pk]


def test_deleting_a_category_with_children_is_a_conflict(api_client, tenant_a, admin_a):
    # Given a category that has a child
    root = CategoryFactory(tenant=tenant_a, slug="hardware", name="Hardware")
    CategoryFactory(tenant=tenant_a, slug="laptops", parent=root)
    before = _rows(Category)

    # When the administrator deletes the parent
    response = api_client(admin_a).delete(api_url(tenant_a, "categories/hardware/"))

    # Then it is refused as still in use and both categories remain
    assert response.status_code == 409
    assert response.json() == {
        "code": "in_use",
        "message": "Hardware is still in use; deactivate it instead.",
        "fields": {},
    }
    assert _rows(Category) == before


def test_a_category_cannot_be_its_own_parent(api_client, tenant_a, admin_a):
    # Given a category
    CategoryFactory(tenant=tenant_a, slug="hardware")
    before = _rows(Category)

    # When the administrator places it under itself
    response = api_client(admin_a).patch(
        api_url(tenant_a, "categories/hardware/"), {"parent": "hardware"}
    )

    # Then it is refused on the parent field and nothing changes
    assert response.status_code == 400
    assert response.json() == {
        "code": "invalid",
        "message": "Invalid input.",
        "fields": {"parent": ["A category cannot be placed under itself."]},
    }
    assert _rows(Category) == before


def test_a_category_cannot_be_placed_under_its_descendant(api_client, tenant_a, admin_a):
    # Given hardware > laptops > ultrabooks
    hardware = CategoryFactory(tenant=tenant_a, slug="hardware")
    laptops = CategoryFactory(tenant=tenant_a, slug="laptops", parent=hardware)
    CategoryFactory(tenant=tenant_a, slug="ultrabooks", parent=laptops)
    before = _rows(Category)

    # When the administrator places hardware under ultrabooks
    response = api_client(admin_a).patch(
        api_url(tenant_a, "categories/hardware/"), {"parent": "ultrabooks"}
    )

    # Then it is refused on the parent field and the tree is unchanged
    assert response.status_code == 400
    assert response.json()["fields"] == {"parent": ["A category cannot be placed under itself."]}
    assert _rows(Category) == before


def test_a_duplicate_slug_is_refused_on_the_slug_field(api_client, tenant_a, tenant_b, admin_a):
    # Given a service "email" in A (and one in B, which does not matter)
    ServiceFactory(tenant=tenant_a, slug="email", owner_team=None)
    ServiceFactory(tenant=tenant_b, slug="taken-in-b", owner_team=None)
    before = _rows(Service)

    # When the administrator creates another "email" in A, and a "taken-in-b" in A
    client = api_client(admin_a)
    duplicate = client.post(api_url(tenant_a, "services/"), {"name": "Mail", "slug": "email"})
    elsewhere = client.post(api_url(tenant_a, "services/"), {"name": "B", "slug": "taken-in-b"})

    # Then the duplicate is refused on its slug; a slug used only by B is free in A
    assert duplicate.status_code == 400
    assert duplicate.json() == {
        "code": "invalid",
        "message": "Invalid input.",
        "fields": {"slug": ["Service with this Tenant and Slug already exists."]},
    }
    assert elsewhere.status_code == 201
    assert len(across_tenants(lambda: list(Service.objects.all()))) == len(before) + 1


# --- Filters, search, ordering -----------------------------------------------------------------


def test_services_filter_by_criticality(api_client, tenant_a, agent_a):
    # Given services of each criticality
    for criticality in ServiceCriticality.values:
        ServiceFactory(tenant=tenant_a, slug=criticality, name=criticality, criticality=criticality)
    client = api_client(agent_a)

    # When filtering by one and by two criticalities
    one = client.get(api_url(tenant_a, "services/"), {"criticality": "high"})
    two = client.get(api_url(tenant_a, "services/?criticality=critical&criticality=low"))

    # Then exactly the matching services come back, in name order
    assert (one.status_code, _slugs(one)) == (200, ["high"])
    assert (two.status_code, _slugs(two)) == (200, ["critical", "low"])


def test_services_filter_by_an_unknown_criticality_is_a_400(api_client, tenant_a, agent_a):
    response = api_client(agent_a).get(api_url(tenant_a, "services/"), {"criticality": "urgent"})

    assert response.status_code == 400
    assert response.json() == {
        "code": "invalid",
        "message": "Invalid input.",
        "fields": {
            "criticality": ["Select a valid choice. urgent is not one of the available choices."]
        },
    }


def test_services_filter_by_owner_team_slug(api_client, tenant_a, agent_a):
    # Given services of two teams and one without a team
    ops = TeamFactory(tenant=tenant_a, slug="ops")
    desk = TeamFactory(tenant=tenant_a, slug="desk")
    ServiceFactory(tenant=tenant_a, slug="email", name="E-mail", owner_team=ops)
    ServiceFactory(tenant=tenant_a, slug="backup", name="Backup", owner_team=ops)
    ServiceFactory(tenant=tenant_a, slug="phones", name="Phones", owner_team=desk)
    ServiceFactory(tenant=tenant_a, slug="orphan", name="Orphan", owner_team=None)

    # When filtering by the ops team's slug
    response = api_client(agent_a).get(api_url(tenant_a, "services/"), {"owner_team": "ops"})

    # Then exactly its services come back
    assert (response.status_code, _slugs(response)) == (200, ["backup", "email"])


def test_services_filter_by_is_active(api_client, tenant_a, agent_a):
    ServiceFactory(tenant=tenant_a, slug="live", name="Live")
    ServiceFactory(tenant=tenant_a, slug="retired", name="Retired", is_active=False)

    response = api_client(agent_a).get(api_url(tenant_a, "services/"), {"is_active": "false"})

    assert (response.status_code, _slugs(response)) == (200, ["retired"])


def test_categories_filter_by_parent_and_is_root(api_client, tenant_a, agent_a):
    # Given two roots, two children of one of them, and a grandchild
    hardware = CategoryFactory(tenant=tenant_a, slug="hardware", name="Hardware")
    CategoryFactory(tenant=tenant_a, slug="software", name="Software")
    laptops = CategoryFactory(tenant=tenant_a, slug="laptops", name="Laptops", parent=hardware)
    CategoryFactory(tenant=tenant_a, slug="printers", name="Printers", parent=hardware)
    CategoryFactory(tenant=tenant_a, slug="ultrabooks", name="Ultrabooks", parent=laptops)
    client = api_client(agent_a)
    url = api_url(tenant_a, "categories/")

    # When filtering by parent, by root and by non-root
    children = client.get(url, {"parent": "hardware"})
    roots = client.get(url, {"is_root": "true"})
    non_roots = client.get(url, {"is_root": "false"})

    # Then each gives exactly its categories
    assert (children.status_code, _slugs(children)) == (200, ["laptops", "printers"])
    assert (roots.status_code, _slugs(roots)) == (200, ["hardware", "software"])
    assert (non_roots.status_code, _slugs(non_roots)) == (
        200,
        ["laptops", "printers", "ultrabooks"],
    )


@pytest.mark.parametrize("resource", ["services", "categories"])
def test_search_matches_name_slug_and_description(
    api_client, tenant_a, tenant_b, agent_a, resource
):
    # Given objects that match "mail" by name, by slug and by description, and one that does not
    _make(resource, tenant_a, slug="a-one", name="Mail server")
    _make(resource, tenant_a, slug="b-mail-relay", name="Relay")
    _make(resource, tenant_a, slug="c-three", name="Calendar", description="Shared with e-mail")
    _make(resource, tenant_a, slug="d-four", name="Printing")
    _make(resource, tenant_b, slug="e-mail-of-b", name="Mail of B")

    # When searching for "MAIL"
    response = api_client(agent_a).get(api_url(tenant_a, f"{resource}/"), {"search": "MAIL"})

    # Then the three matches of A come back, case-insensitively, and none of B's
    assert (response.status_code, _slugs(response)) == (200, ["c-three", "a-one", "b-mail-relay"])


def test_services_ordering(api_client, tenant_a, agent_a):
    # Given services created in an order different from their names
    ServiceFactory(tenant=tenant_a, slug="b", name="Bravo", criticality="low")
    ServiceFactory(tenant=tenant_a, slug="c", name="Charlie", criticality="critical")
    ServiceFactory(tenant=tenant_a, slug="a", name="Alpha", criticality="high")
    client = api_client(agent_a)
    url = api_url(tenant_a, "services/")

    # When listing by default, by name descending, by creation and by a field not allowed
    default = client.get(url)
    by_name_descending = client.get(url, {"ordering": "-name"})
    by_creation = client.get(url, {"ordering": "created_at"})
    by_criticality = client.get(url, {"ordering": "criticality"})
    not_allowed = client.get(url, {"ordering": "description"})

    # Then each comes back in its order; a field not allowed is a 400 naming the allowed ones
    assert _slugs(default) == ["a", "b", "c"]
    assert _slugs(by_name_descending) == ["c", "b", "a"]
    assert _slugs(by_creation) == ["b", "c", "a"]
    assert _slugs(by_criticality) == ["c", "a", "b"]  # alphabetical: critical, high, low
    assert (not_allowed.status_code, not_allowed.json()["fields"]) == (
        400,
        {
            "ordering": [
                (
                    "Cannot order by 'description'. "
                    "Order by name, criticality, created_at; prefix a field with - to reverse."
                )
            ]
        },
    )


# --- Pagination ----------------------------------------------------------------------------------


@pytest.mark.parametrize("resource", ["services", "categories"])
def test_cursor_pagination_walks_every_object_once(api_client, tenant_a, agent_a, resource):
    # Given five objects
    for index in range(5):
        _make(resource, tenant_a, slug=f"object-{index}", name=f"Object {index}")
    client = api_client(agent_a)

    # When walking the list two at a time along the next links
    pages = []
    response = client.get(api_url(tenant_a, f"{resource}/"), {"page_size": 2})
    while True:
        assert response.status_code == 200
        pages.append(_slugs(response))
        if response.json()["next"] is None:
            break
        response = client.get(response.json()["next"])

    # Then every object comes exactly once, in order, and the first page has no previous link
    assert pages == [["object-0", "object-1"], ["object-2", "object-3"], ["object-4"]]


def test_page_size_defaults_to_50_and_is_capped_at_200(api_client, tenant_a, agent_a):
    # Given 201 services
    with rls.tenant_scope(tenant_a.pk):
        Service.objects.bulk_create(
            Service(tenant=tenant_a, slug=f"service-{index:03d}", name=f"Service {index:03d}")
            for index in range(201)
        )
    client = api_client(agent_a)
    url = api_url(tenant_a, "services/")

    # When listing without a page size, with 120, and with more than the maximum
    default = client.get(url)
    asked = client.get(url, {"page_size": 120})
    too_many = client.get(url, {"page_size": 1000})

    # Then pages have 50, 120 and at most 200 objects, each with a next link
    assert [len(r.json()["results"]) for r in (default, asked, too_many)] == [50, 120, 200]
    assert all(r.json()["next"] is not None for r in (default, asked, too_many))
    assert _slugs(too_many)[-1] == "service-199"
    last = client.get(too_many.json()["next"])
    assert (_slugs(last), last.json()["next"]) == (["service-200"], None)


# --- Query counts ------------------------------------------------------------------------------


def _list_queries(client: Any, url: str) -> tuple[int, int]:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return len(response.json()["results"]), len(queries)


def test_services_list_query_count_does_not_grow_with_the_services(api_client, tenant_a, agent_a):
    # Given 5 services, each with its own owner team
    client = api_client(agent_a)
    url = api_url(tenant_a, "services/")
    ServiceFactory.create_batch(5, tenant=tenant_a)
    few = _list_queries(client, url)

    # When there are 50
    ServiceFactory.create_batch(45, tenant=tenant_a)
    many = _list_queries(client, url)

    # Then listing them takes the same number of queries
    assert (few[0], many[0]) == (5, 50)
    assert few[1] == many[1]


def test_categories_list_query_count_does_not_grow_with_the_categories(
    api_client, tenant_a, agent_a
):
    # Given 5 categories, each under its own parent
    client = api_client(agent_a)
    url = api_url(tenant_a, "categories/?is_root=false")

    def add(count: int) -> None:
        for _ in range(count):
            CategoryFactory(tenant=tenant_a, parent=CategoryFactory(tenant=tenant_a))

    add(5)
    few = _list_queries(client, url)

    # When there are 50
    add(45)
    many = _list_queries(client, url)

    # Then listing them takes the same number of queries
    assert (few[0], many[0]) == (5, 50)
    assert few[1] == many[1]
