"""OpenAPI generation that knows our split of input and output serializers, and tells the truth
about what the API answers.

What drf-spectacular cannot see by itself, done here once for every endpoint:

- Output fields are as nullable and as blank as the model column behind them. Read serializers
  declare related fields by hand (`assignee` as a username) and DRF drops `allow_blank` from
  read-only fields, so without this a nullable link reads as "always a string" and a blank
  `hold_reason` as outside its enum.
- Every operation documents the errors it can answer, in the one error shape
  (`itsm.api.exceptions`): 401 and 403 wherever credentials are read, 400/413/415 where a
  body is read, 400 where query parameters are validated, 404 inside a tenant and on detail
  routes, 409 where an object can be in the wrong state or still in use, 412 where `If-Match`
  is honoured.
- `If-Match` is a documented header on the operations whose view lists the action in
  `if_match_actions`, and input bodies refuse unknown keys (`additionalProperties: false`), as
  `StrictInputMixin` does.
"""

from __future__ import annotations

import copy
from typing import Any

from django.core.exceptions import FieldDoesNotExist
from django.db import models
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import ResolvedComponent
from rest_framework import serializers
from rest_framework.permissions import AllowAny

from itsm.api.serializers import StrictInputMixin

ERROR_COMPONENT = "Error"
ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "Every error the API answers has this shape.",
    "properties": {
        "code": {"type": "string", "description": "Stable and machine-readable."},
        "message": {"type": "string", "description": "For people."},
        "fields": {
            "type": "object",
            "additionalProperties": {},
            "description": "Each offending input field with its reasons; empty otherwise.",
        },
        "current_version": {
            "type": "integer",
            "description": "With 412 stale_version from a service: the version to reload.",
        },
        "allowed_actions": {
            "type": "array",
            "items": {"type": "string"},
            "description": "With 409 from a lifecycle action: what the object allows now.",
        },
    },
    "required": ["code", "message", "fields"],
}

ERROR_DESCRIPTIONS = {
    "400": "Invalid input: a body that does not parse or validate, or a query parameter.",
    "401": "No credentials, or credentials that are not valid.",
    "403": "Not allowed: the caller's role, or a session write without its CSRF token.",
    "404": "No such tenant for the caller, or no such object in it.",
    "409": "The object's state does not allow this, or it is still in use.",
    "412": "If-Match names a version that is no longer current.",
    "413": "The body is larger than the server reads.",
    "415": "The body is not JSON.",
    "429": "Too many requests.",
}

BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})

IF_MATCH_PARAMETER: dict[str, Any] = {
    "in": "header",
    "name": "If-Match",
    "required": False,
    # An ETag as the API sends it (`"INC-000042-7"`, possibly weak), or * for any version.
    "schema": {"type": "string", "pattern": r'^(\*|(W/)?"[A-Z]+-\d{1,18}-\d{1,18}")$'},
    "description": "The ETag of a previous read: the write is refused with 412 if it is stale.",
}


class TenantAutoSchema(AutoSchema):
    """Requests use the view's input serializer for the action; responses its read serializer."""

    def get_request_serializer(self) -> Any:
        input_classes = getattr(self.view, "input_serializer_classes", {})
        action = getattr(self.view, "action", None)
        if action in input_classes:
            return input_classes[action]
        return super().get_request_serializer()

    def get_operation(self, *args: Any, **kwargs: Any) -> dict[str, Any] | None:
        operation: dict[str, Any] | None = super().get_operation(*args, **kwargs)
        if operation is None:
            return None
        honours_if_match = getattr(self.view, "action", None) in getattr(
            self.view, "if_match_actions", ()
        )
        if honours_if_match:
            operation.setdefault("parameters", []).append(IF_MATCH_PARAMETER)
        responses = operation.setdefault("responses", {})
        for code in self._error_codes(operation, honours_if_match):
            responses.setdefault(code, self._error_response(code))
        return operation

    def _error_codes(self, operation: dict[str, Any], honours_if_match: bool) -> list[str]:
        parameters = operation.get("parameters", [])
        in_path = [p["name"] for p in parameters if p["in"] == "path"]
        has_query = any(p["in"] == "query" for p in parameters)
        reads_body = self.method in BODY_METHODS
        # A lookup beside the tenant: the route addresses one object.
        on_object = any(name != "tenant_slug" for name in in_path)

        codes = []
        if reads_body or has_query:
            codes.append("400")
        authenticates = bool(self.view.get_authenticators())
        if authenticates:
            codes.append("401")  # a bad token is refused whoever may call the view
        if authenticates or self._needs_permission():
            codes.append("403")  # a role, or a session without its CSRF token
        if in_path or self._is_list_view():
            codes.append("404")  # a tenant not the caller's, an absent object, a bad cursor
        if self.method in ("DELETE", "PUT", "PATCH") or (self.method == "POST" and on_object):
            codes.append("409")
        if honours_if_match:
            codes.append("412")
        if reads_body:
            codes += ["413", "415"]
        if self.view.get_throttles():
            codes.append("429")
        return codes

    def _needs_permission(self) -> bool:
        return any(not isinstance(p, AllowAny) for p in self.view.get_permissions())

    def _error_response(self, code: str) -> dict[str, Any]:
        component = ResolvedComponent(  # type: ignore[no-untyped-call]
            name=ERROR_COMPONENT,
            type=ResolvedComponent.SCHEMA,
            schema=ERROR_SCHEMA,
            object=ERROR_COMPONENT,
        )
        self.registry.register_on_missing(component)
        return {
            "description": ERROR_DESCRIPTIONS[code],
            "content": {"application/json": {"schema": component.ref}},
        }

    def _map_serializer_field(
        self, field: Any, direction: Any, bypass_extensions: bool = False
    ) -> Any:
        if direction == "response":
            field = as_model_allows(field)
        return super()._map_serializer_field(  # type: ignore[no-untyped-call]
            field, direction, bypass_extensions
        )

    def _map_basic_serializer(self, serializer: Any, direction: Any) -> Any:
        schema = super()._map_basic_serializer(serializer, direction)  # type: ignore[no-untyped-call]
        if direction == "request" and isinstance(serializer, StrictInputMixin):
            schema["additionalProperties"] = False  # unknown keys are a 400, not ignored
        return schema

    def _insert_field_validators(self, field: Any, schema: dict[str, Any]) -> None:
        # Called with the declared field, for both directions: only output-only fields follow
        # the model here (an input field accepts what it declares, whatever the column allows).
        if getattr(field, "read_only", False):
            field = as_model_allows(field)
        super()._insert_field_validators(field, schema)  # type: ignore[no-untyped-call]


def as_model_allows(field: Any) -> Any:
    """`field`, or a copy of it that allows null and blank where the model column does."""
    column = _model_column(field)
    if column is None:
        return field
    nullable, model_field = column
    allow_null = nullable and not field.allow_null
    allow_blank = (
        model_field.blank
        and isinstance(field, serializers.CharField | serializers.ChoiceField)
        and isinstance(model_field, models.CharField | models.TextField)
        and not field.allow_blank
    )
    if not (allow_null or allow_blank):
        return field
    honest = copy.copy(field)
    honest.allow_null = field.allow_null or allow_null
    if allow_blank:
        honest.allow_blank = True
    return honest


def _model_column(field: Any) -> tuple[bool, models.Field[Any, Any]] | None:
    """(whether any step may be null, the last model field) behind a model serializer's field."""
    model = getattr(getattr(field.parent, "Meta", None), "model", None)
    attrs = getattr(field, "source_attrs", None)
    if model is None or not attrs:  # not a model serializer, or source="*"
        return None
    nullable = False
    model_field: Any = None
    for attr in attrs:
        if model is None:
            return None
        try:
            model_field = model._meta.get_field(attr)
        except FieldDoesNotExist:
            return None  # a property or method: the serializer's own declaration stands
        if not isinstance(model_field, models.Field):
            return None  # a reverse relation
        nullable = nullable or model_field.null
        model = model_field.related_model
    return nullable, model_field
