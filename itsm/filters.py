"""Filter helpers shared by API lists and workspace queues: a filter that names a related
object only accepts the request's tenant's, and date-times are compared in UTC."""

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from django.core.exceptions import ValidationError as FormValidationError
from django.db.models import Model, QuerySet
from django_filters.fields import IsoDateTimeField
from django_filters.rest_framework import IsoDateTimeFilter


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
