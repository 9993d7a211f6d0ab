"""Filter helpers: a filter that names a related object only accepts the request's tenant's,
and an ordering that is total, as keyset pagination needs."""

from collections.abc import Callable, Sequence
from typing import Any

from django.db.models import Model, QuerySet
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


class StableOrderingFilter(OrderingFilter):
    """`?ordering=` that always ends on the primary key, so rows with equal values come back in
    one order in every query.

    Cursor pagination pages by the first ordering field and skips the rows of a tie it has
    already served by counting them; without a tie-breaker PostgreSQL may return tied rows in
    a different order on the next page, and the list repeats some incidents and loses others
    (`?ordering=priority`, `?ordering=sla_due_at`).
    """

    def get_ordering(
        self, request: Request, queryset: QuerySet[Any], view: APIView
    ) -> Sequence[str] | None:
        ordering = super().get_ordering(request, queryset, view)
        if not ordering or any(field.lstrip("-") in ("pk", "id") for field in ordering):
            return ordering
        return [*ordering, "-pk" if ordering[0].startswith("-") else "pk"]
