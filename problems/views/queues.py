"""The problem queue (My problems, Open, Awaiting fix, Resolved, All) and the known-error list,
both `itsm.web.queues.QueuePage`s with the API's filter sets."""

from __future__ import annotations

from functools import reduce
from operator import and_
from typing import Any

from django.db.models import Q, QuerySet

from incidents import selectors as incident_selectors
from itsm.tenancy.models import Membership
from itsm.tenancy.selectors import agent_list
from itsm.web.queues import MAX_QUERY_LENGTH, Queue, QueuePage
from problems import selectors
from problems.choices import OPEN_PROBLEM_STATUSES, KnownErrorStatus, ProblemStatus
from problems.filters import KnownErrorFilterSet, ProblemFilterSet
from problems.forms.actions import PROBLEM_MANAGERS
from problems.models import KnownError, Problem
from problems.views.base import STAFF

MAX_WORDS = 8
# The problem's text the queue's search box looks into (as the API's ?search=).
PROBLEM_TEXT = ("title", "description", "root_cause", "workaround")


def _open(problems: QuerySet[Problem]) -> QuerySet[Problem]:
    return problems.filter(status__in=OPEN_PROBLEM_STATUSES)


def _mine(problems: QuerySet[Problem], membership: Membership) -> QuerySet[Problem]:
    return _open(problems).filter(problem_manager_id=membership.user_id)


def _all_open(problems: QuerySet[Problem], membership: Membership) -> QuerySet[Problem]:
    return _open(problems)


def _awaiting_fix(problems: QuerySet[Problem], membership: Membership) -> QuerySet[Problem]:
    return problems.filter(
        status__in=[ProblemStatus.ROOT_CAUSE_KNOWN, ProblemStatus.FIX_IN_PROGRESS]
    )


def _resolved(problems: QuerySet[Problem], membership: Membership) -> QuerySet[Problem]:
    return problems.filter(status=ProblemStatus.RESOLVED)


def _everything(problems: QuerySet[Any], membership: Membership) -> QuerySet[Any]:
    return problems


def words_match(queryset: QuerySet[Any], fields: tuple[str, ...], text: str) -> QuerySet[Any]:
    """Every word in one of `fields` (case-insensitive). Problems are not in the search
    structure (itsm/search): a tenant's problems are few enough to scan."""
    words = text.split()[:MAX_WORDS]
    if not words:
        return queryset
    each = [
        reduce(lambda a, b: a | b, (Q(**{f"{f}__icontains": w}) for f in fields)) for w in words
    ]
    return queryset.filter(reduce(and_, each))


NEWEST = "-created_at"
PROBLEM_QUEUES = (
    Queue("mine", "My problems", _mine, STAFF, "priority"),
    Queue("open", "Open", _all_open, STAFF, "priority"),
    Queue("awaiting-fix", "Awaiting fix", _awaiting_fix, STAFF, "priority"),
    Queue("resolved", "Resolved", _resolved, STAFF, NEWEST),
    Queue("all", "All", _everything, STAFF, NEWEST),
)


class ProblemListPage(QueuePage):
    """The problem queues of the staff (requesters see nothing of problem management)."""

    page_roles = STAFF
    template_name = "problems/queue.html"
    rows_template = "problems/queue.html#rows"
    page_name = "problems:list"
    queues = PROBLEM_QUEUES
    filterset_class = ProblemFilterSet
    ordering_fields = {
        "priority": "Priority",
        "created_at": "Created",
        "updated_at": "Updated",
        "number": "Number",
        "status": "Status",
    }
    search_kind = "problem"

    def get_base_queryset(self) -> QuerySet[Problem]:
        return selectors.problem_list(tenant=self.tenant, membership=self.membership)

    def search(self, queryset: QuerySet[Any], query: str) -> QuerySet[Any]:
        return words_match(queryset, PROBLEM_TEXT, query[:MAX_QUERY_LENGTH])

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context.update(
            priority_labels=incident_selectors.priority_labels(tenant=self.tenant),
            may_create=self.membership.role in PROBLEM_MANAGERS,
        )
        if self.rows_only:  # the refreshed rows show no filter bar
            return context
        fields = context["filter_form"].fields
        labels = context["priority_labels"]
        choices = [
            ("status", "Status", list(fields["status"].choices), "Any"),
            (
                "priority",
                "Priority",
                [(value, labels.get(value, label)) for value, label in fields["priority"].choices],
                "Any",
            ),
            ("service", "Service", _slugs(fields["service"].queryset), "Any"),
            ("category", "Category", _slugs(fields["category"].queryset), "Any"),
            ("team", "Team", _slugs(fields["team"].queryset), "Any"),
            (
                "manager",
                "Manager",
                [
                    (user.username, user.get_full_name() or user.username)
                    for user in agent_list(tenant=self.tenant)
                ],
                "Anyone",
            ),
        ]
        context["filter_fields"] = [
            (name, label, pairs, self.request.GET.get(name, ""), empty)
            for name, label, pairs, empty in choices
        ]
        return context


def _slugs(queryset: QuerySet[Any]) -> list[tuple[str, str]]:
    return [(row.slug, row.name) for row in queryset.only("slug", "name")]


def _published(known_errors: QuerySet[Any], membership: Membership) -> QuerySet[Any]:
    return known_errors.filter(status=KnownErrorStatus.PUBLISHED)


def _drafts(known_errors: QuerySet[Any], membership: Membership) -> QuerySet[Any]:
    return known_errors.filter(status=KnownErrorStatus.DRAFT)


KNOWN_ERROR_QUEUES = (
    Queue("published", "Published", _published, STAFF, NEWEST),
    Queue("drafts", "Drafts", _drafts, STAFF, NEWEST),
    Queue("all", "All", _everything, STAFF, NEWEST),
)


class KnownErrorListPage(QueuePage):
    """The known errors: searchable through the search structure, filtered by status."""

    page_roles = STAFF
    template_name = "problems/known_errors.html"
    rows_template = "problems/known_errors.html#rows"
    page_name = "problems:known-errors"
    queues = KNOWN_ERROR_QUEUES
    filterset_class = KnownErrorFilterSet
    ordering_fields = {"created_at": "Created", "updated_at": "Updated", "number": "Number"}
    search_kind = "known_error"

    def get_base_queryset(self) -> QuerySet[KnownError]:
        return selectors.known_error_list(tenant=self.tenant, membership=self.membership)

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        if not self.rows_only:
            status = context["filter_form"].fields["status"]
            context["filter_fields"] = [
                (
                    "status",
                    "Status",
                    list(status.choices),
                    self.request.GET.get("status", ""),
                    "Any",
                )
            ]
        return context
