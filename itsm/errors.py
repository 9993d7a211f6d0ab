"""Domain errors shared by every app; the API maps each kind to one HTTP status.

Services raise these; they never import the API layer. `code` is a stable snake_case string
that API clients may rely on.
"""

from collections.abc import Mapping, Sequence
from typing import Any


class DomainError(Exception):
    """Base of every error a service raises on purpose."""

    default_code = "error"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        fields: Mapping[str, Sequence[str]] | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code
        self.fields = dict(fields or {})
        self.extra = dict(extra or {})  # more machine-readable context, e.g. allowed actions


class InvalidInputError(DomainError):
    """The request is well formed but breaks a domain rule (HTTP 400)."""

    default_code = "invalid"


class ForbiddenError(DomainError):
    """The member may see the object but not do this to it (HTTP 403)."""

    default_code = "forbidden"


class NotFoundError(DomainError):
    """The object is absent or belongs to another tenant: the two look the same (HTTP 404)."""

    default_code = "not_found"


class ConflictError(DomainError):
    """The object's state forbids the operation, e.g. an illegal transition (HTTP 409)."""

    default_code = "conflict"


class PreconditionFailedError(DomainError):
    """The client's view of the object is stale, e.g. an old ETag (HTTP 412)."""

    default_code = "precondition_failed"
