"""Filter helpers: a filter that names a related object only accepts the request's tenant's,
date-time filters are compared in UTC, and an ordering is total (as keyset pagination needs)
and refuses fields it does not allow."""

from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from django.core.exceptions import ValidationError as FormValidationError
from django.db.models import Model, QuerySet
from django_filters.fields import IsoDateTimeField
from django_filters.rest_framework import IsoDateTimeFilter
from rest_framework.exceptions import ValidationError
from rest_framework.filters import OrderingFilter
from rest_framework.request import Request
from rest_framework.views import APIView


def tenant_queryset(model: type[Model]) -> Callable[[Any], QuerySet[Any]]:
    """A ModelChoiceFilter queryset limited to the request's tenant.

    Another tenant's value is an invalid choice (400), exactly like a value that does not exist.
    """

    def scoped(request: Any) -> QuerySet[Any]:
        manager: Any = model._default_manager
        if request is None or getattr(request, "tenant", None) is None:  # schema generation
            return manager.none()  # type: ignore[no-any-return]
        return manager.for_tenant(request.tenant)  # type: ignore[no-any-return]

    return scoped


class UtcDateTimeField(IsoDateTimeField):
    """An ISO 8601 date-time, handed to the query in UTC.

    Python accepts UTC offsets up to ±23:59 and PostgreSQL only up to ±15:59, so
    `2026-01-01T00:00:00+16:23` reached the database as given and failed there (a 500). In UTC
    every offset is fine; a date that leaves the calendar once shifted is a 400.
    """

    def to_python(self, value: Any) -> datetime | None:
        parsed: datetime | None = super().to_python(value)
        if parsed is None:
            return None
        try:
            return parsed.astimezone(UTC)
        except OverflowError as error:
            raise FormValidationError("Date-time out of range.", code="overflow") from error


class UtcDateTimeFilter(IsoDateTimeFilter):
    """The date-time filter of every filter set: ISO 8601, compared in UTC."""

    field_class = UtcDateTimeField


class StableOrderingFilter(OrderingFilter):
    """`?ordering=` that always ends on the primary key, so rows with equal values come back in
    one order in every query.

    Cursor pagination pages by the first ordering field and skips the rows of a tie it has
    already served by counting them; without a tie-breaker PostgreSQL may return tied rows in
    a different order on the next page, and the list repeats some incidents and loses others
    (`?ordering=priority`, `?ordering=sla_due_at`).

    A field the view does not allow is a 400 naming the allowed ones, not silently ignored:
    a client that misspells a field would otherwise page through an order it did not ask for.
    """

    def remove_invalid_fields(
        self, queryset: QuerySet[Any], fields: Iterable[str], view: APIView, request: Request
    ) -> list[str]:
        fields = list(fields)
        allowed = self.allowed_fields(queryset, view, request)
        refused = [term for term in fields if term.removeprefix("-") not in allowed]
        if refused:
            raise ValidationError(
                {
                    self.ordering_param: [
                        (
                            f"Cannot order by {', '.join(repr(term) for term in refused)}. "
                            f"Order by {', '.join(allowed)}; prefix a field with - to reverse."
                        )
                    ]
                }
            )
        return fields

    def allowed_fields(
        self, queryset: Any, view: APIView, request: Request | None = None
    ) -> list[str]:
        """The view's `ordering_fields` (its serializer's fields if it names none)."""
        return [
            name for name, _label in self.get_valid_fields(queryset, view, {"request": request})
        ]

    def get_schema_operation_parameters(self, view: APIView) -> list[dict[str, Any]]:
        allowed = self.allowed_fields(getattr(view, "queryset", None), view)
        return [
            {
                "name": self.ordering_param,
                "required": False,
                "in": "query",
                "description": "Fields to order by, comma-separated; - before a field reverses.",
                # A comma-separated list of the allowed fields, each possibly reversed.
                "style": "form",
                "explode": False,
                "schema": {
                    "type": "array",
                    "items": {"type": "string", "enum": [*allowed, *(f"-{f}" for f in allowed)]},
                },
            }
        ]

    def get_ordering(
        self, request: Request, queryset: QuerySet[Any], view: APIView
    ) -> Sequence[str] | None:
        ordering = super().get_ordering(request, queryset, view)
        if not ordering or any(field.lstrip("-") in ("pk", "id") for field in ordering):
            return ordering
        return [*ordering, "-pk" if ordering[0].startswith("-") else "pk"]
