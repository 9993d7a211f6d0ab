"""One error shape for the whole API: `{"code", "message", "fields"}`.

`code` is stable and machine-readable, `message` is for people, `fields` maps each offending
input field to its reasons (empty when the error is not about a field).
"""

from typing import Any

from django.core.exceptions import (
    NON_FIELD_ERRORS,
    PermissionDenied,
    RequestDataTooBig,
    TooManyFieldsSent,
    TooManyFilesSent,
)
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import ProtectedError, RestrictedError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.serializers import as_serializer_error
from rest_framework.settings import api_settings
from rest_framework.views import exception_handler

from itsm import errors
from itsm.api.parsers import TOO_DEEP_MESSAGE, RequestTooLarge, is_json_recursion

DOMAIN_STATUS: dict[type[errors.DomainError], int] = {
    errors.InvalidInputError: status.HTTP_400_BAD_REQUEST,
    errors.ForbiddenError: status.HTTP_403_FORBIDDEN,
    errors.NotFoundError: status.HTTP_404_NOT_FOUND,
    errors.ConflictError: status.HTTP_409_CONFLICT,
    errors.PreconditionFailedError: status.HTTP_412_PRECONDITION_FAILED,
}


class DomainAPIException(exceptions.APIException):
    def __init__(self, error: errors.DomainError) -> None:
        super().__init__(detail=error.message, code=error.code)
        self.status_code = next(
            (code for kind, code in DOMAIN_STATUS.items() if isinstance(error, kind)),
            status.HTTP_400_BAD_REQUEST,
        )
        self.fields = error.fields
        self.extra = error.extra


class DomainValidationError(exceptions.ValidationError):
    """A domain rule broken on named fields: shaped like a serializer's 400, keeping the code."""

    def __init__(self, error: errors.DomainError) -> None:
        super().__init__(error.fields, code=error.code)
        self.domain_code = error.code


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    exc = _as_api_exception(exc)
    response = exception_handler(exc, context)
    if response is None:
        return None  # a real bug: Django's 500 handler answers (in JSON under /api/)
    assert isinstance(exc, exceptions.APIException)
    response.data = error_body(exc)
    return response


def _as_api_exception(exc: Exception) -> Exception:
    if isinstance(exc, errors.DomainError):
        if exc.fields and isinstance(exc, errors.InvalidInputError):
            return DomainValidationError(exc)
        return DomainAPIException(exc)
    if isinstance(exc, Http404):
        return exceptions.NotFound()  # same words for absent and another tenant's
    if isinstance(exc, PermissionDenied):
        return exceptions.PermissionDenied()
    if isinstance(exc, DjangoValidationError):
        return exceptions.ValidationError(as_serializer_error(_by_input_field(exc)))
    # Bodies no parser should have accepted, whichever parser the view brought: bad input.
    if is_json_recursion(exc):
        return exceptions.ParseError(TOO_DEEP_MESSAGE)
    if isinstance(exc, RequestDataTooBig):
        return RequestTooLarge()
    if isinstance(exc, TooManyFieldsSent | TooManyFilesSent):
        return exceptions.ParseError(str(exc))
    if isinstance(exc, ProtectedError | RestrictedError):
        return DomainAPIException(
            errors.ConflictError("The object is still in use by other records.", code="in_use")
        )
    return exc


def _by_input_field(error: DjangoValidationError) -> DjangoValidationError:
    """Key a model's validation errors by input field only.

    The tenant is implicit in API URLs, so a breach of a (tenant, field) uniqueness constraint
    names that field; other model-wide errors are non-field errors, never a `__all__` "field".
    """
    if not hasattr(error, "error_dict"):
        return error
    errors: dict[str, list[DjangoValidationError]] = {}
    for name, items in error.error_dict.items():
        for item in items:
            key = name
            if name == NON_FIELD_ERRORS:
                key = _unique_in_tenant_field(item) or api_settings.NON_FIELD_ERRORS_KEY
            errors.setdefault(key, []).append(item)
    return DjangoValidationError(errors)


def _unique_in_tenant_field(item: DjangoValidationError) -> str | None:
    check = (item.params or {}).get("unique_check") if item.code == "unique_together" else None
    if check and len(check) == 2 and "tenant" in check:
        return str(next(name for name in check if name != "tenant"))
    return None


def error_body(exc: exceptions.APIException) -> dict[str, Any]:
    if isinstance(exc, exceptions.ValidationError):
        detail = exc.detail
        fields: dict[str, Any] = {}
        general: list[Any] = []
        if isinstance(detail, dict):
            fields = {key: value for key, value in detail.items() if key != "non_field_errors"}
            general = list(detail.get("non_field_errors") or [])
        else:
            general = list(detail)
        message = str(general[0]) if general else "Invalid input."
        code = exc.domain_code if isinstance(exc, DomainValidationError) else "invalid"
        return {"code": code, "message": message, "fields": fields}
    codes = exc.get_codes()
    return {
        "code": codes if isinstance(codes, str) else "error",
        "message": str(exc.detail),
        "fields": getattr(exc, "fields", {}),
        **getattr(exc, "extra", {}),
    }
