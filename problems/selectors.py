"""Reads of problems, known errors, linked incidents and timelines; all scoped to a tenant."""

from __future__ import annotations

from django.db.models import Count, Prefetch, QuerySet

from incidents.models import Incident
from itsm.tenancy.choices import MembershipRole
from itsm.tenancy.models import Membership, Tenant
from problems.models import KnownError, Problem, ProblemEvent, ProblemService


def _sees_problems(membership: Membership | None) -> bool:
    # Requesters (end users) see nothing of problem management.
    return membership is None or membership.role != MembershipRole.REQUESTER


def problem_list(*, tenant: Tenant, membership: Membership | None = None) -> QuerySet[Problem]:
    """The problems a member may see, with what the list shows loaded in a fixed number of
    queries (services in one batch, the linked-incident count in the row)."""
    if not _sees_problems(membership):
        return Problem.objects.none()
    return (
        Problem.objects.for_tenant(tenant)
        .select_related("category", "assignment_team", "problem_manager")
        .prefetch_related(
            Prefetch(
                "service_links",
                queryset=ProblemService.objects.for_tenant(tenant)
                .select_related("service")
                .order_by("service__slug"),
            )
        )
        .annotate(incident_count=Count("incident_links", distinct=True))
    )


def problem_incidents(*, problem: Problem) -> QuerySet[Incident]:
    """The problem's linked incidents, by number."""
    return (
        Incident.objects.for_tenant(problem.tenant_id)
        .filter(problem_link__problem=problem)
        .select_related("assignee", "assignment_team")
        .order_by("number")
    )


def problem_timeline(*, problem: Problem) -> QuerySet[ProblemEvent]:
    """The problem's events in order."""
    return (
        ProblemEvent.objects.for_tenant(problem.tenant_id)
        .filter(problem=problem)
        .select_related("actor")
        .order_by("created_at", "id")
    )


def known_error_list(
    *, tenant: Tenant, membership: Membership | None = None
) -> QuerySet[KnownError]:
    """The known errors a member may see, with their problem."""
    if not _sees_problems(membership):
        return KnownError.objects.none()
    return KnownError.objects.for_tenant(tenant).select_related("problem")
