"""Bodies built to hurt: nested past Python's recursion limit, or bigger than the server reads.

Each is a 4xx in the one error shape, for anonymous and signed-in callers and whichever view
serves the path (the parser and the exception handler answer, not the view); never a 500 and
never a traceback in the log. Pages keep Django's HTML answer.
"""

import json
import logging
from typing import Any

import pytest
from django.conf import settings

from itsm.catalog.models import Service
from itsm.tenancy import rls
from tests.conftest import api_url

pytestmark = pytest.mark.django_db

TOKEN_URL = "/api/v1/auth/token/"
LIMIT = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
TOO_LARGE = {
    "code": "request_too_large",
    "message": f"The request body is larger than the {LIMIT} bytes this server reads.",
    "fields": {},
}
TOO_DEEP = {
    "code": "parse_error",
    "message": "JSON parse error - nested more deeply than 32 levels.",
    "fields": {},
}


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def _tracebacks(caplog: Any) -> list[logging.LogRecord]:
    return [record for record in caplog.records if record.exc_info]


def _services(tenant: Any) -> int:
    with rls.tenant_scope(tenant.pk):
        return Service.objects.count()


# --- Nesting ------------------------------------------------------------------------------------


@pytest.mark.parametrize("caller", ["anonymous", "member"])
def test_json_nested_past_the_recursion_limit_on_the_token_endpoint_is_a_400(
    api_client, tenant_a, agent_a, caplog, caller
):
    # Given 100,000 nested brackets: past Python's recursion limit, whichever parser reads them
    client = api_client(agent_a if caller == "member" else None)

    # When they are posted to the token endpoint, which anyone may call
    response = client.post(TOKEN_URL, data=_nested(100_000), content_type="application/json")

    # Then it is a 400 in the error shape, and nothing was logged with a traceback
    assert (response.status_code, response.json()) == (400, TOO_DEEP)
    assert _tracebacks(caplog) == []


@pytest.mark.parametrize("depth", [100_000, 33])
def test_json_nested_too_deeply_on_incident_create_is_a_400(
    api_client, tenant_a, agent_a, caplog, depth
):
    response = api_client(agent_a).post(
        api_url(tenant_a, "incidents/"), data=_nested(depth), content_type="application/json"
    )

    assert (response.status_code, response.json()) == (400, TOO_DEEP)
    assert _tracebacks(caplog) == []


def test_a_deep_value_inside_a_field_is_a_400_and_writes_nothing(api_client, tenant_a, admin_a):
    # Deep enough to parse with Python's own limit, yet to recurse again in an error message.
    body = '{"name": "Backup", "slug": "backup", "owner_team": ' + _nested(900) + "}"

    response = api_client(admin_a).post(
        api_url(tenant_a, "services/"), data=body, content_type="application/json"
    )

    assert (response.status_code, response.json()) == (400, TOO_DEEP)
    assert _services(tenant_a) == 0


def test_json_nested_as_deep_as_allowed_reaches_the_serializer(api_client, tenant_a, admin_a):
    body = '{"name": "Backup", "slug": "backup", "owner_team": ' + _nested(31) + "}"

    response = api_client(admin_a).post(
        api_url(tenant_a, "services/"), data=body, content_type="application/json"
    )

    assert response.status_code == 400
    assert list(response.json()["fields"]) == ["owner_team"]


# --- Size ---------------------------------------------------------------------------------------


def _big_json() -> str:
    return json.dumps({"username": "u" * (10 * 1024 * 1024), "password": "p"})


def _big_form() -> str:
    return "username=" + "u" * (10 * 1024 * 1024) + "&password=p"


BIG_BODIES = [
    ("json", _big_json, "application/json"),
    ("form", _big_form, "application/x-www-form-urlencoded"),
]


@pytest.mark.parametrize("caller", ["anonymous", "member"])
@pytest.mark.parametrize(
    ("kind", "body", "content_type"), BIG_BODIES, ids=[case[0] for case in BIG_BODIES]
)
def test_a_10_mb_body_on_the_token_endpoint_is_a_json_413(
    api_client, tenant_a, agent_a, caplog, caller, kind, body, content_type
):
    client = api_client(agent_a if caller == "member" else None)

    response = client.post(TOKEN_URL, data=body(), content_type=content_type)

    assert response.status_code == 413
    assert response["Content-Type"] == "application/json"
    assert response.json() == TOO_LARGE
    assert _tracebacks(caplog) == []


@pytest.mark.parametrize(
    ("kind", "body", "content_type"), BIG_BODIES, ids=[case[0] for case in BIG_BODIES]
)
def test_a_10_mb_body_on_incident_create_is_a_json_413(
    api_client, tenant_a, agent_a, caplog, kind, body, content_type
):
    response = api_client(agent_a).post(
        api_url(tenant_a, "incidents/"), data=body(), content_type=content_type
    )

    assert (response.status_code, response.json()) == (413, TOO_LARGE)
    assert _tracebacks(caplog) == []


def test_a_10_mb_body_from_an_anonymous_caller_to_a_tenant_endpoint_is_still_a_401(
    api_client, tenant_a
):
    # Nobody reads the body of a caller who may not use the endpoint.
    response = api_client(None).post(
        api_url(tenant_a, "incidents/"), data=_big_json(), content_type="application/json"
    )

    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


def test_a_body_at_the_limit_is_read(api_client, tenant_a, admin_a):
    body = json.dumps({"name": "Backup", "slug": "backup", "description": ""})
    body = body[:-3] + " " * (LIMIT - len(body)) + body[-3:]
    assert len(body) == LIMIT

    response = api_client(admin_a).post(
        api_url(tenant_a, "services/"), data=body, content_type="application/json"
    )

    assert response.status_code == 201, response.content
    assert _services(tenant_a) == 1


def test_a_page_keeps_djangos_html_answer_to_a_10_mb_body(client):
    response = client.post(
        "/accounts/login/", data=_big_form(), content_type="application/x-www-form-urlencoded"
    )

    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/html")


# --- NUL characters -----------------------------------------------------------------------------

NUL_BODIES = [
    # A link looked up by slug: the NUL would reach PostgreSQL, which refuses it (a 500 before).
    (
        "in a linked slug",
        {"name": "Backup", "slug": "backup", "owner_team": "ops\x00"},
        "owner_team",
    ),
    ("in a text field", {"name": "Back\x00up", "slug": "backup"}, "name"),
    ("in a key", {"name": "Backup", "slug": "backup", "colour\x00": "red"}, "colour\x00"),
    ("deep in a list", {"name": "Backup", "slug": "backup", "tags": [["\x00"]]}, "tags"),
]


@pytest.mark.parametrize(
    ("where", "body", "field"), NUL_BODIES, ids=[case[0] for case in NUL_BODIES]
)
def test_a_nul_character_anywhere_in_a_body_is_a_400_naming_the_field(
    api_client, tenant_a, admin_a, where, body, field
):
    response = api_client(admin_a).post(api_url(tenant_a, "services/"), body, format="json")

    assert (response.status_code, response.json()) == (
        400,
        {
            "code": "invalid",
            "message": "Invalid input.",
            "fields": {field: ["Null characters are not allowed."]},
        },
    )
    assert _services(tenant_a) == 0


def test_a_nul_character_in_a_bare_string_body_is_a_400(api_client, tenant_a, admin_a):
    response = api_client(admin_a).post(api_url(tenant_a, "services/"), "\x00", format="json")

    assert (response.status_code, response.json()) == (
        400,
        {"code": "invalid", "message": "Null characters are not allowed.", "fields": {}},
    )
