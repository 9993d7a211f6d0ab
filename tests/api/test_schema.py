"""The OpenAPI schema tells the truth about what the API answers.

Facts that were once lies: links that may be null declared as always strings, blank choices
outside their enums, a plain list declared as a page, errors left undocumented, an unanchored
reference pattern. Each is checked here for every operation it concerns, so it cannot return.
"""

from typing import Any

import pytest
from drf_spectacular.generators import SchemaGenerator

from incidents.api.views import IncidentViewSet

ERROR_REF = {"$ref": "#/components/schemas/Error"}
BODY_METHODS = {"post", "put", "patch"}


@pytest.fixture(scope="module")
def schema() -> Any:
    return SchemaGenerator().get_schema(request=None, public=True)


def _operations(schema: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, operation)
        for path, item in schema["paths"].items()
        for method, operation in item.items()
    ]


def _component(schema: dict[str, Any], name: str) -> Any:
    return schema["components"]["schemas"][name]["properties"]


def _operation(schema: dict[str, Any], path: str, method: str = "post") -> Any:
    return schema["paths"][f"/api/v1/t/{{tenant_slug}}/incidents/{{reference}}/{path}"][method]


# --- Output fields --------------------------------------------------------------------------------


@pytest.mark.parametrize("component", ["IncidentDetail", "IncidentList"])
@pytest.mark.parametrize("field", ["assignee", "assignment_team", "category", "service"])
def test_links_that_may_be_empty_are_nullable(schema, component, field):
    assert _component(schema, component)[field] == {
        "type": "string",
        "readOnly": True,
        "nullable": True,
        **({"description": "The user's username."} if field == "assignee" else {}),
    }


@pytest.mark.parametrize(
    ("component", "field"),
    [
        ("IncidentDetail", "commander"),
        ("IncidentEvent", "actor"),
        ("TeamRead", "escalation_team"),
        ("SlaPolicyRead", "calendar"),
        ("CategoryRead", "parent"),
        ("ServiceRead", "owner_team"),
    ],
)
def test_every_other_nullable_link_is_nullable_too(schema, component, field):
    assert _component(schema, component)[field]["nullable"] is True


@pytest.mark.parametrize(
    ("component", "field", "enum"),
    [
        ("IncidentDetail", "hold_reason", "HoldReasonEnum"),
        ("IncidentDetail", "resolution_code", "ResolutionCodeEnum"),
        ("IncidentList", "hold_reason", "HoldReasonEnum"),
        ("IncidentEvent", "from_status", "IncidentStatusEnum"),
        ("IncidentEvent", "to_status", "IncidentStatusEnum"),
    ],
)
def test_blank_choices_are_declared_beside_their_enum(schema, component, field, enum):
    assert _component(schema, component)[field] == {
        "readOnly": True,
        "oneOf": [
            {"$ref": f"#/components/schemas/{enum}"},
            {"$ref": "#/components/schemas/BlankEnum"},
        ],
    }
    assert schema["components"]["schemas"]["BlankEnum"] == {"enum": [""]}


@pytest.mark.parametrize("component", ["TeamRead", "MembershipRead"])
def test_an_email_that_may_be_blank_says_so(schema, component):
    email = _component(schema, component)["email"]
    assert email["oneOf"] == [
        {"type": "string", "format": "email"},
        {"type": "string", "maxLength": 0},
    ]


# --- Shapes of whole responses --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "item"),
    [
        ("/api/v1/t/{tenant_slug}/incidents/{reference}/timeline/", "IncidentEvent"),
        ("/api/v1/t/{tenant_slug}/sla-policies/{slug}/compliance/", "Compliance"),
    ],
)
def test_a_plain_list_is_declared_as_a_plain_array_without_page_parameters(schema, path, item):
    operation = schema["paths"][path]["get"]

    assert operation["responses"]["200"]["content"]["application/json"]["schema"] == {
        "type": "array",
        "items": {"$ref": f"#/components/schemas/{item}"},
    }
    query = {p["name"] for p in operation["parameters"] if p["in"] == "query"}
    assert not query & {"cursor", "page_size", "ordering", "search"}


def test_notification_preferences_are_one_object_holding_the_list(schema):
    path = schema["paths"]["/api/v1/t/{tenant_slug}/notification-preferences/"]
    assert path["get"]["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/NotificationPreferenceList"
    }
    assert set(path["post"]["responses"]) & {"200", "201"} == {"200"}


# --- Errors -------------------------------------------------------------------------------------


def test_the_error_shape_is_one_component(schema):
    error = schema["components"]["schemas"]["Error"]
    assert error["required"] == ["code", "message", "fields"]
    assert set(error["properties"]) == {
        "code",
        "message",
        "fields",
        "current_version",
        "allowed_actions",
    }


def _error_codes(operation: dict[str, Any]) -> set[str]:
    return {
        code
        for code, response in operation["responses"].items()
        if response.get("content", {}).get("application/json", {}).get("schema") == ERROR_REF
    }


def test_every_operation_documents_the_errors_it_can_answer(schema):
    missing = {}
    for path, method, operation in _operations(schema):
        # Every operation that authenticates refuses bad credentials (401) and roles (403); one
        # that takes no credentials at all (obtaining a token) has neither to answer.
        authenticates = any(scheme for scheme in operation.get("security", []))
        expected = {"401", "403"} if authenticates else set()
        if "{" in path:
            expected.add("404")  # the tenant, or the object
        if method in BODY_METHODS:
            expected |= {"400", "413", "415"}
        if any(
            p["in"] == "query" and p["name"] != "search" for p in operation.get("parameters", [])
        ):
            expected.add("400")
        if method == "delete" or method in ("patch", "put"):
            expected.add("409")
        if not expected <= _error_codes(operation):
            missing[f"{method.upper()} {path}"] = sorted(expected - _error_codes(operation))
    assert missing == {}


def test_every_detail_operation_documents_404_with_the_error_shape(schema):
    detail = [
        (path, method, operation)
        for path, method, operation in _operations(schema)
        if any(
            p["in"] == "path" and p["name"] != "tenant_slug"
            for p in operation.get("parameters", [])
        )
    ]
    assert len(detail) > 20
    for path, method, operation in detail:
        assert operation["responses"]["404"]["content"]["application/json"]["schema"] == (
            ERROR_REF
        ), (method, path)


LIFECYCLE_ACTIONS = [
    "acknowledge/",
    "assign/",
    "escalate/",
    "hold/",
    "resume/",
    "resolve/",
    "close/",
    "reopen/",
    "cancel/",
    "change-priority/",
    "declare-major/",
]


@pytest.mark.parametrize("path", LIFECYCLE_ACTIONS)
def test_lifecycle_actions_document_409_and_412_with_the_if_match_header(schema, path):
    operation = _operation(schema, path)

    assert {"409", "412"} <= _error_codes(operation)
    (if_match,) = [p for p in operation["parameters"] if p["in"] == "header"]
    assert (if_match["name"], if_match["required"]) == ("If-Match", False)


def test_the_incident_patch_honours_if_match_too(schema):
    operation = _operation(schema, "", "patch")
    assert "412" in _error_codes(operation)
    assert [p["name"] for p in operation["parameters"] if p["in"] == "header"] == ["If-Match"]


@pytest.mark.parametrize("path", ["comment/", "work-note/", "stakeholder-update/"])
def test_appends_take_no_if_match(schema, path):
    operation = _operation(schema, path)
    assert "412" not in operation["responses"]
    assert [p for p in operation["parameters"] if p["in"] == "header"] == []


def test_the_actions_that_document_if_match_are_the_ones_the_view_checks():
    from_paths = {path.rstrip("/").replace("-", "_") for path in LIFECYCLE_ACTIONS}
    assert IncidentViewSet.if_match_actions == from_paths | {"partial_update"}


# --- Inputs -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "component",
    ["IncidentCreateRequest", "PatchedIncidentUpdateRequest", "ServiceWriteRequest"],
)
def test_input_bodies_refuse_unknown_keys(schema, component):
    assert schema["components"]["schemas"][component]["additionalProperties"] is False


def test_ordering_lists_the_fields_it_allows(schema):
    operation = schema["paths"]["/api/v1/t/{tenant_slug}/incidents/"]["get"]
    (ordering,) = [p for p in operation["parameters"] if p["name"] == "ordering"]

    assert (ordering["style"], ordering["explode"]) == ("form", False)
    fields = ["created_at", "updated_at", "priority", "number", "status", "sla_due_at"]
    assert ordering["schema"] == {
        "type": "array",
        "items": {"type": "string", "enum": [*fields, *(f"-{f}" for f in fields)]},
    }


def test_the_reference_pattern_matches_whole_values_only(schema):
    operation = schema["paths"]["/api/v1/t/{tenant_slug}/incidents/{reference}/"]["get"]
    (reference,) = [p for p in operation["parameters"] if p["name"] == "reference"]
    assert reference["schema"]["pattern"] == r"^(?:[A-Za-z]+-\d+|\d+)$"
