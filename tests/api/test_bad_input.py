"""Bad input gets a 4xx in the one error shape, naming the field, and writes nothing.

Never a 500: the client learns what was wrong and the database is as it was.
"""

from typing import Any

import pytest
from django.urls import reverse

from itsm.api.filters import StableOrderingFilter
from itsm.catalog.models import Category, Service
from itsm.tenancy import rls
from itsm.tenancy.models import Team, TeamMember
from tests.conftest import api_url
from tests.factories import ServiceFactory, TenantFactory
from tests.reading import rows_across_tenants
from tests.test_tenant_isolation import tenant_routes

pytestmark = pytest.mark.django_db

NO_SUCH_TENANT = {"code": "not_found", "message": "No such tenant.", "fields": {}}


def _counts() -> dict[str, int]:
    return {
        model.__name__: len(rows_across_tenants(model))
        for model in (Service, Category, Team, TeamMember)
    }


def _invalid(fields: dict[str, list[str]], message: str = "Invalid input.") -> dict[str, Any]:
    return {"code": "invalid", "message": message, "fields": fields}


@pytest.fixture
def service_a(tenant_a: Any) -> Service:
    return ServiceFactory(tenant=tenant_a, slug="email", name="E-mail", owner_team=None)


def _service_row(tenant: Any) -> dict[str, Any]:
    with rls.tenant_scope(tenant.pk):
        return dict(Service.objects.values().get(slug="email"))


VALID = {"name": "Backup", "slug": "backup"}

# (what is wrong, body, the expected error)
BAD_BODIES = [
    ("unknown field", {**VALID, "colour": "red"}, _invalid({"colour": ["Unknown field."]})),
    # The write serializer does not carry server-set fields, so they are refused as unknown.
    (
        "read-only field",
        {**VALID, "created_at": "2020-01-01T00:00:00Z"},
        _invalid({"created_at": ["Unknown field."]}),
    ),
    (
        "tenant is never input",
        {**VALID, "tenant": "tenant-b"},
        _invalid({"tenant": ["Unknown field."]}),
    ),
    (
        "criticality not in choices",
        {**VALID, "criticality": "urgent"},
        _invalid({"criticality": ['"urgent" is not a valid choice.']}),
    ),
    (
        "is_active not a boolean",
        {**VALID, "is_active": "maybe"},
        _invalid({"is_active": ["Must be a valid boolean."]}),
    ),
    ("name as a list", {**VALID, "name": ["Backup"]}, _invalid({"name": ["Not a valid string."]})),
    (
        "name as an object",
        {**VALID, "name": {"en": "Backup"}},
        _invalid({"name": ["Not a valid string."]}),
    ),
    ("empty name", {**VALID, "name": ""}, _invalid({"name": ["This field may not be blank."]})),
    ("null name", {**VALID, "name": None}, _invalid({"name": ["This field may not be null."]})),
    (
        "name too long",
        {**VALID, "name": "n" * 201},
        _invalid({"name": ["Ensure this field has no more than 200 characters."]}),
    ),
    (
        "huge description",
        {**VALID, "description": "d" * 10001},
        _invalid({"description": ["Ensure this field has no more than 10000 characters."]}),
    ),
    (
        "slug with spaces",
        {**VALID, "slug": "not a slug"},
        _invalid(
            {
                "slug": [
                    'Enter a valid "slug" consisting of letters, numbers, underscores or hyphens.'
                ]
            }
        ),
    ),
    (
        "owner_team as a number",
        {**VALID, "owner_team": 1},
        _invalid({"owner_team": ["Object with slug=1 does not exist."]}),
    ),
    (
        "owner_team as a list",
        {**VALID, "owner_team": ["ops"]},
        _invalid({"owner_team": ["Invalid value."]}),
    ),
    (
        "missing required fields",
        {"description": "No name, no slug"},
        _invalid({"name": ["This field is required."], "slug": ["This field is required."]}),
    ),
    (
        "a list instead of an object",
        [VALID],
        _invalid({}, "Invalid data. Expected a dictionary, but got list."),
    ),
    ("a bare string", "backup", _invalid({}, "Invalid data. Expected a dictionary, but got str.")),
]


@pytest.mark.parametrize(
    ("wrong", "body", "error"), BAD_BODIES, ids=[case[0] for case in BAD_BODIES]
)
def test_bad_create_body_is_a_400_naming_the_field(
    api_client, tenant_a, admin_a, wrong, body, error
):
    # Given the tenant administrator, who may create services
    before = _counts()

    # When they send a bad body
    response = api_client(admin_a).post(api_url(tenant_a, "services/"), body, format="json")

    # Then it is a 400 that says what was wrong, and nothing was written
    assert (response.status_code, response.json()) == (400, error), wrong
    assert _counts() == before


@pytest.mark.parametrize(
    ("wrong", "body", "error"),
    [case for case in BAD_BODIES if case[0] != "missing required fields"],
    ids=[case[0] for case in BAD_BODIES if case[0] != "missing required fields"],
)
def test_bad_patch_body_is_a_400_and_changes_nothing(
    api_client, tenant_a, admin_a, service_a, wrong, body, error
):
    before = _service_row(tenant_a)

    response = api_client(admin_a).patch(api_url(tenant_a, "services/email/"), body, format="json")

    assert (response.status_code, response.json()) == (400, error), wrong
    assert _service_row(tenant_a) == before


def test_malformed_json_is_a_400(api_client, tenant_a, admin_a):
    before = _counts()

    response = api_client(admin_a).post(
        api_url(tenant_a, "services/"), data='{"name": "Backup", ', content_type="application/json"
    )

    assert response.status_code == 400
    assert response.json() == {
        "code": "parse_error",
        "message": "JSON parse error - Expecting property name enclosed in double quotes: "
        "line 1 column 20 (char 19)",
        "fields": {},
    }
    assert _counts() == before


def test_a_body_that_is_not_json_is_a_415(api_client, tenant_a, admin_a):
    before = _counts()

    response = api_client(admin_a).post(
        api_url(tenant_a, "services/"), data="name=Backup&slug=backup", content_type="text/plain"
    )

    assert response.status_code == 415
    assert response.json() == {
        "code": "unsupported_media_type",
        "message": 'Unsupported media type "text/plain" in request.',
        "fields": {},
    }
    assert _counts() == before


def test_an_empty_patch_changes_nothing(api_client, tenant_a, admin_a, service_a):
    before = _service_row(tenant_a)

    response = api_client(admin_a).patch(api_url(tenant_a, "services/email/"), {})

    assert (response.status_code, response.json()["name"]) == (200, "E-mail")
    assert _service_row(tenant_a) == before


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("put", "services/email/"),
        ("post", "services/email/"),
        ("put", "services/"),
        ("post", "memberships/"),
        ("delete", "memberships/"),
    ],
)
def test_a_method_the_endpoint_does_not_offer_is_a_405_even_for_admins(
    api_client, tenant_a, admin_a, service_a, method, path
):
    before = (_counts(), _service_row(tenant_a))

    response = getattr(api_client(admin_a), method)(
        api_url(tenant_a, path), {"name": "Replaced", "slug": "email"}
    )

    assert response.status_code == 405
    assert response.json() == {
        "code": "method_not_allowed",
        "message": f'Method "{method.upper()}" not allowed.',
        "fields": {},
    }
    assert (_counts(), _service_row(tenant_a)) == before


def test_a_method_the_endpoint_does_not_offer_is_still_401_for_anonymous(
    api_client, tenant_a, service_a
):
    response = api_client(None).put(api_url(tenant_a, "services/email/"), {"name": "Replaced"})

    assert response.status_code == 401


# --- Tenants that do not answer ----------------------------------------------------------------


def test_an_unknown_tenant_slug_is_a_404(api_client, tenant_a, admin_a):
    before = _counts()
    client = api_client(admin_a)

    listed = client.get("/api/v1/t/no-such-tenant/services/")
    created = client.post("/api/v1/t/no-such-tenant/services/", VALID)

    assert [(r.status_code, r.json()) for r in (listed, created)] == [(404, NO_SUCH_TENANT)] * 2
    assert _counts() == before


def test_a_tenant_the_user_is_not_a_member_of_is_a_404_like_an_unknown_one(
    api_client, tenant_a, tenant_b, admin_a
):
    before = _counts()
    client = api_client(admin_a)

    listed = client.get(api_url(tenant_b, "services/"))
    created = client.post(api_url(tenant_b, "services/"), VALID)

    assert [(r.status_code, r.json()) for r in (listed, created)] == [(404, NO_SUCH_TENANT)] * 2
    assert _counts() == before


def test_an_inactive_tenant_is_a_404_even_for_its_admin(api_client, make_member):
    # Given a deactivated tenant and its administrator
    tenant = TenantFactory(slug="closed", name="Closed", is_active=False)
    admin = make_member(tenant, "tenant_admin")
    ServiceFactory(tenant=tenant, slug="email")
    before = _counts()
    client = api_client(admin)

    # When the administrator reads and writes it
    listed = client.get(api_url(tenant, "services/"))
    created = client.post(api_url(tenant, "services/"), VALID)
    deleted = client.delete(api_url(tenant, "services/email/"))

    # Then the tenant does not answer and nothing changes
    responses = (listed, created, deleted)
    assert [(r.status_code, r.json()) for r in responses] == [(404, NO_SUCH_TENANT)] * 3
    assert _counts() == before


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/no-such-endpoint/",
        "/api/v2/me/",
        "/api/v1/t/tenant-a/no-such-endpoint/",
        "/api/v1/t/tenant-a/services/email/no-such-action/",
    ],
)
def test_an_unknown_api_path_is_a_json_404(api_client, tenant_a, admin_a, path):
    response = api_client(admin_a).get(path)

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"code": "not_found", "message": "Not found.", "fields": {}}


def test_an_unknown_detail_slug_is_a_404(api_client, tenant_a, admin_a):
    response = api_client(admin_a).get(api_url(tenant_a, "services/no-such-service/"))

    assert (response.status_code, response.json()) == (
        404,
        {"code": "not_found", "message": "Not found.", "fields": {}},
    )


# --- Query parameters ---------------------------------------------------------------------------


def test_an_unknown_owner_team_in_a_filter_is_a_400(api_client, tenant_a, agent_a, service_a):
    response = api_client(agent_a).get(api_url(tenant_a, "services/"), {"owner_team": "nope"})

    assert response.status_code == 400
    assert response.json() == _invalid(
        {"owner_team": ["Select a valid choice. That choice is not one of the available choices."]}
    )


def test_a_boolean_filter_that_is_not_a_boolean_is_ignored(api_client, tenant_a, agent_a):
    # django-filter reads an unrecognised boolean as "no filter": everything comes back.
    ServiceFactory(tenant=tenant_a, slug="live", name="Live")
    ServiceFactory(tenant=tenant_a, slug="retired", name="Retired", is_active=False)

    response = api_client(agent_a).get(api_url(tenant_a, "services/"), {"is_active": "maybe"})

    assert response.status_code == 200
    assert [item["slug"] for item in response.json()["results"]] == ["live", "retired"]


def test_a_page_size_that_is_not_a_number_falls_back_to_the_default(api_client, tenant_a, agent_a):
    with rls.tenant_scope(tenant_a.pk):
        Service.objects.bulk_create(
            Service(tenant=tenant_a, slug=f"service-{index:02d}", name=f"Service {index:02d}")
            for index in range(51)
        )

    responses = [
        api_client(agent_a).get(api_url(tenant_a, "services/"), {"page_size": size})
        for size in ("many", "-3", "0")
    ]

    assert [(r.status_code, len(r.json()["results"])) for r in responses] == [(200, 50)] * 3


def test_a_cursor_that_does_not_decode_is_a_404(api_client, tenant_a, agent_a, service_a):
    response = api_client(agent_a).get(api_url(tenant_a, "services/"), {"cursor": "not-a-cursor"})

    assert (response.status_code, response.json()) == (
        404,
        {"code": "not_found", "message": "Invalid cursor", "fields": {}},
    )


# --- Ordering -----------------------------------------------------------------------------------

# Every list that orders; a fixed list (notification preferences) has no ordering to ask for.
LIST_ROUTES = [
    route
    for route in tenant_routes()
    if route.actions.get("get") == "list"
    and StableOrderingFilter in getattr(route.viewset, "filter_backends", ())
]


def test_the_ordering_sweep_finds_the_lists():
    assert {
        "catalog-api:service-list",
        "incidents-api:incident-list",
        "notifications-api:notification-list",
    } <= {route.name for route in LIST_ROUTES}


@pytest.mark.parametrize("route", LIST_ROUTES, ids=lambda route: route.name)
def test_ordering_by_a_field_the_list_does_not_allow_is_a_400_naming_the_allowed(
    api_client, tenant_a, admin_a, route
):
    allowed = ", ".join(route.viewset.ordering_fields)
    url = reverse(route.name, kwargs={"tenant_slug": tenant_a.slug})

    response = api_client(admin_a).get(url, {"ordering": "-no_such_field,tenant"})

    assert (response.status_code, response.json()) == (
        400,
        _invalid(
            {
                "ordering": [
                    (
                        "Cannot order by '-no_such_field', 'tenant'. "
                        f"Order by {allowed}; prefix a field with - to reverse."
                    )
                ]
            }
        ),
    )


@pytest.mark.parametrize("route", LIST_ROUTES, ids=lambda route: route.name)
def test_ordering_by_every_allowed_field_reversed_is_a_200(api_client, tenant_a, admin_a, route):
    url = reverse(route.name, kwargs={"tenant_slug": tenant_a.slug})
    ordering = ",".join(f"-{field}" for field in route.viewset.ordering_fields)

    response = api_client(admin_a).get(url, {"ordering": ordering})

    assert response.status_code == 200, response.content


def test_an_empty_ordering_term_is_a_400(api_client, tenant_a, admin_a):
    response = api_client(admin_a).get(api_url(tenant_a, "services/"), {"ordering": "name,"})

    assert (response.status_code, response.json()["fields"]) == (
        400,
        {
            "ordering": [
                (
                    "Cannot order by ''. "
                    "Order by name, criticality, created_at; prefix a field with - to reverse."
                )
            ]
        },
    )
