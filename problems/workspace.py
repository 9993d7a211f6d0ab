"""The problems app's part of the workspace shell: its header links and its search provider."""

from __future__ import annotations

from functools import reduce
from operator import and_

from django.db.models import Q
from django.urls import reverse

from itsm.search.selectors import filter_matching
from itsm.tenancy.choices import STAFF_ROLES
from itsm.tenancy.models import (
    MAX_NUMBER,
    Membership,
    Tenant,
    format_reference,
    parse_reference,
)
from itsm.web.workspace import (
    NavItem,
    RecordCard,
    SearchHit,
    SearchResult,
    register_cards,
    register_nav,
    register_search,
)
from problems import selectors
from problems.models import KnownError, Problem

MAX_WORDS = 8


def problem_search(tenant: Tenant, membership: Membership, query: str, limit: int) -> SearchResult:
    """A problem or known-error number (PRB-000042, KE-000007) that exists jumps to it; words
    match known errors through the search structure and problem titles directly (problems are
    not in the search structure; a tenant has few). Requesters find nothing here."""
    problems = selectors.problem_list(tenant=tenant, membership=membership)
    known_errors = selectors.known_error_list(tenant=tenant, membership=membership)
    for model, records, url_name in (
        (Problem, problems, "problems:detail"),
        (KnownError, known_errors, "problems:known-error"),
    ):
        number = parse_reference(model.NUMBER_PREFIX, query)
        # A bare number is an incident's (incidents answer it): only prefixed ones here.
        if (
            number is not None
            and number <= MAX_NUMBER
            and query.strip().upper().startswith(f"{model.NUMBER_PREFIX}-")
        ) and records.filter(number=number).exists():
            reference = format_reference(model.NUMBER_PREFIX, number, model.NUMBER_DIGITS)
            return SearchResult(jump_to=reverse(url_name, args=[tenant.slug, reference]))
    words = query.split()[:MAX_WORDS]
    if not words:
        return SearchResult()
    titled = problems.filter(reduce(and_, (Q(title__icontains=word) for word in words)))
    hits = [
        SearchHit(
            kind="Problem",
            title=f"{problem.reference} {problem.title}",
            url=reverse("problems:detail", args=[tenant.slug, problem.reference]),
            detail=problem.get_status_display(),
        )
        for problem in titled.prefetch_related(None).order_by("-created_at", "-id")[:limit]
    ]
    matching = filter_matching(known_errors, tenant_id=tenant.pk, kind="known_error", text=query)
    hits += [
        SearchHit(
            kind="Known error",
            title=f"{known_error.reference} {known_error.title}",
            url=reverse("problems:known-error", args=[tenant.slug, known_error.reference]),
            detail=known_error.get_status_display(),
        )
        for known_error in matching.order_by("-created_at", "-id")[:limit]
    ]
    return SearchResult(hits=hits)


def register() -> None:
    register_nav(
        NavItem(
            "Problems",
            "problems:list",
            frozenset(STAFF_ROLES),
            order=30,
            section=(
                "problems:list",
                "problems:create",
                "problems:detail",
                "problems:link",
                "problems:action",
            ),
        ),
        NavItem(
            "Suggestions",
            "problems:suggestions",
            frozenset(STAFF_ROLES),
            order=35,
            # "problems:suggestion" covers the list, each suggestion and its actions.
            section=("problems:suggestion", "problems:trend-run"),
        ),
        NavItem(
            "Known errors",
            "problems:known-errors",
            frozenset(STAFF_ROLES),
            order=40,
            section=("problems:known-error",),
        ),
    )
    register_search("problems", problem_search)
    register_cards(
        RecordCard(
            "incident",
            "Problem and known fixes",
            "problems:incident-knowledge",
            frozenset(STAFF_ROLES),
            order=10,
        ),
        RecordCard(
            "incident",
            "Similar incidents",
            "problems:incident-similar",
            frozenset(STAFF_ROLES),
            order=20,
        ),
        RecordCard(
            "article",
            "Linked records",
            "problems:article-records",
            frozenset(STAFF_ROLES),
            order=10,
        ),
    )
