"""API ordering: total (as keyset pagination needs) and refusing fields it does not allow.
(The filters shared with workspace pages are in itsm/filters.py.)"""

from collections.abc import Iterable, Sequence
from typing import Any

from django.db.models import QuerySet
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework.exceptions import ValidationError
from rest_framework.filters import OrderingFilter, SearchFilter
from rest_framework.request import Request
from rest_framework.views import APIView

from itsm.search.selectors import filter_matching


class GivenFiltersBackend(DjangoFilterBackend):
    """django-filter's backend, skipped when the request names none of the view's filters.

    Binding a filter set builds and validates its form, a few milliseconds for a filter set
    of a dozen fields: most list requests (a queue's first page, a client's poll) give no
    filter, and then there is nothing to bind. A parameter that starts with a filter's name
    counts as naming it (range filters take suffixes: `created_after`, `created_before`).
    """

    def filter_queryset(self, request: Request, queryset: QuerySet[Any], view: APIView) -> Any:
        filterset_class = self.get_filterset_class(view, queryset)
        if filterset_class is None:
            return queryset
        names = tuple(filterset_class.base_filters)
        if not any(param.startswith(names) for param in request.query_params):
            return queryset
        return super().filter_queryset(request, queryset, view)


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


class IndexedSearchFilter(SearchFilter):
    """`?search=` through the search structure for views that name a `search_kind` (the
    tenant's incidents, say: an index instead of a scan; see itsm/search), DRF's plain search
    over `search_fields` for the others (small configuration lists)."""

    def filter_queryset(self, request: Request, queryset: QuerySet[Any], view: APIView) -> Any:
        kind = getattr(view, "search_kind", None)
        if kind is None:
            return super().filter_queryset(request, queryset, view)
        text = request.query_params.get(self.search_param, "")
        tenant = getattr(request, "tenant", None)
        if tenant is None:
            return queryset.none()
        return filter_matching(queryset, tenant_id=tenant.pk, kind=kind, text=text[:2000])
