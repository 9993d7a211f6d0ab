"""The queue page pattern: tabs of predefined queues, filters, text search, a chosen order,
keyset (cursor) paging, saved views and a fragment htmx refreshes in place.

Every app's list page (incidents today; problems, changes and articles later) is a subclass
that names its queues, its filter set and its orderings, and renders its own rows.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.views.generic import TemplateView
from django_filters import FilterSet
from rest_framework.exceptions import NotFound
from rest_framework.pagination import CursorPagination
from rest_framework.request import Request

from itsm.search.selectors import filter_matching
from itsm.tenancy.models import Membership
from itsm.web.selectors import saved_view_list
from itsm.web.views import TenantPageMixin

MAX_QUERY_LENGTH = 200


@dataclass(frozen=True)
class Queue:
    """One tab: a name in the URL (?queue=mine), a label and how it narrows the list."""

    slug: str
    label: str
    narrow: Callable[[QuerySet[Any], Membership], QuerySet[Any]]
    roles: frozenset[str]
    ordering: str  # the default order of this queue; always ends on the primary key


class QueueCursor(CursorPagination):
    """DRF's keyset paging, reused for pages: the cost does not grow with the page number."""

    page_size = 50
    page_size_query_param = None


class QueuePage(TenantPageMixin, TemplateView):
    queues: ClassVar[Sequence[Queue]]
    filterset_class: ClassVar[type[FilterSet]]
    # ?ordering= values offered (a leading "-" reverses), with their labels.
    ordering_fields: ClassVar[dict[str, str]]
    search_kind: ClassVar[str]  # the kind registered with itsm.search
    rows_only: bool = False
    rows_template: ClassVar[str]  # "<template>#<partial>" re-rendered by htmx refreshes
    page_name: ClassVar[str]  # the URL name, for saved views

    def get_base_queryset(self) -> QuerySet[Any]:
        raise NotImplementedError

    def decorate(self, rows: list[Any]) -> list[Any]:
        """Load what the rows show beyond the base queryset (a constant number of queries)."""
        return rows

    def available_queues(self) -> list[Queue]:
        return [queue for queue in self.queues if self.membership.role in queue.roles]

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        # htmx's periodic refresh wants the rows only: no filter bar, no saved views.
        self.rows_only = bool(getattr(request, "htmx", False)) and (
            request.headers.get("HX-Target") == "queue-rows"
        )
        queues = self.available_queues()
        queue = next((q for q in queues if q.slug == request.GET.get("queue")), queues[0])
        problems: list[str] = []
        filterset = self.filterset_class(
            request.GET,
            queryset=queue.narrow(self.get_base_queryset(), self.membership),
            request=request,
        )
        rows: list[Any] = []
        paginator = QueueCursor()
        ordering = request.GET.get("ordering") or queue.ordering
        if ordering.removeprefix("-") not in self.ordering_fields:
            problems.append(
                f"Cannot order by {ordering!r}; choose one of {', '.join(self.ordering_fields)}."
            )
        if not filterset.is_valid():
            problems.extend(
                f"{name}: {' '.join(errors)}" for name, errors in filterset.errors.items()
            )
        query = request.GET.get("q", "").strip()[:MAX_QUERY_LENGTH]
        if not problems:
            matching = self.search(filterset.qs, query)
            paginator.ordering = (ordering, "-pk" if ordering.startswith("-") else "pk")
            try:
                rows = self.decorate(
                    list(paginator.paginate_queryset(matching, Request(request)) or [])
                )
            except NotFound:
                problems.append("That page of the list is gone; start again from the first.")
        context = self.get_context_data(
            queue=queue,
            queues=queues,
            filter_form=filterset.form,
            rows=rows,
            problems=problems,
            search_query=query,
            ordering=ordering,
            ordering_choices=self.ordering_choices(),
            next_url=paginator.get_next_link() if rows else None,
            previous_url=paginator.get_previous_link() if rows else None,
            saved_views=(
                []
                if self.rows_only
                else saved_view_list(tenant=self.tenant, user=request.user, page=self.page_name)
            ),
            page_name=self.page_name,
        )
        status = 400 if problems else 200
        if self.rows_only:
            return self.response_class(request, self.rows_template, context, status=status)
        return self.render_to_response(context, status=status)

    def search(self, queryset: QuerySet[Any], query: str) -> QuerySet[Any]:
        """Every word must appear (by prefix) in the row's searchable text (itsm/search)."""
        return filter_matching(
            queryset, tenant_id=self.tenant.pk, kind=self.search_kind, text=query
        )

    def ordering_choices(self) -> list[tuple[str, str]]:
        choices = []
        for field, label in self.ordering_fields.items():
            choices += [(field, f"{label} ↑"), (f"-{field}", f"{label} ↓")]
        return choices
