"""Recording a problem and editing its details (affected services, owner, review date)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from incidents import selectors as incident_selectors
from itsm.tenancy import selectors as tenancy
from itsm.tenancy.models import Tenant
from itsm.tenancy.services import next_number
from itsm.timers.models import Timer
from itsm.timers.services import timer_arm, timer_fired_steps, timer_new
from problems import timeline
from problems.choices import REVIEW_TIMER_KIND, ProblemEventKind
from problems.errors import ProblemRequirementError
from problems.models import Problem, ProblemService
from problems.services.base import check_not_terminal, locked, save

# Fields a problem manager edits directly; status and its timestamps change through actions.
EDITABLE_FIELDS = frozenset(
    {
        "title",
        "description",
        "services",
        "category",
        "impact",
        "urgency",
        "problem_manager",
        "assignment_team",
        "root_cause",
        "workaround",
        "review_at",
    }
)


@transaction.atomic
def problem_create(*, tenant: Tenant, actor: Any, data: Mapping[str, Any]) -> Problem:
    """Record a problem: number, priority from the tenant's incident matrix, review timer, first
    timeline event.

    Raises:
        ProblemRequirementError: the problem manager is not a staff member of the tenant.
        django.core.exceptions.ValidationError: a field or a link is invalid.
    """
    data = dict(data)
    services = list(data.pop("services", None) or [])
    impact = data.pop("impact", None) or Problem._meta.get_field("impact").get_default()
    urgency = data.pop("urgency", None) or Problem._meta.get_field("urgency").get_default()
    _check_manager(tenant, data.get("problem_manager"))
    _check_services(tenant, services)
    timer = timer_new(tenant_id=tenant.pk, kind=REVIEW_TIMER_KIND)
    problem = Problem(
        tenant=tenant,
        number=0,  # allocated below, once the input has passed validation
        impact=impact,
        urgency=urgency,
        priority=incident_selectors.priority_for(tenant=tenant, impact=impact, urgency=urgency),
        review_timer=timer,
        **data,
    )
    problem.full_clean(exclude=["number", "review_timer"])
    _arm_review(problem, first=True)
    timer.save(force_insert=True)
    problem.review_timer = timer
    problem.number = next_number(tenant=tenant, key=Problem.NUMBER_PREFIX)
    problem.save(force_insert=True)
    _set_services(problem, services)
    timeline.record(
        problem,
        ProblemEventKind.CREATED,
        actor,
        to_status=problem.status,
        data={"priority": problem.priority},
    )
    return problem


@transaction.atomic
def problem_update(
    *,
    tenant: Tenant,
    problem_id: int,
    actor: Any,
    data: Mapping[str, Any],
    expected_version: int | None = None,
) -> Problem:
    """Edit descriptive fields of an open or resolved problem; a new impact or urgency re-rates
    its priority through the matrix. One timeline event names what changed.

    Raises:
        InvalidProblemTransitionError: the problem is closed or cancelled.
        ProblemRequirementError: an unknown field, or a manager who is not staff.
    """
    problem = locked(tenant, problem_id, expected_version)
    unknown = set(data) - EDITABLE_FIELDS
    if unknown:
        raise ProblemRequirementError(
            "These fields change through actions.",
            fields={name: ["Not editable."] for name in sorted(unknown)},
        )
    check_not_terminal(problem, "edit")
    data = dict(data)
    services = data.pop("services", None)
    changed = [name for name, value in data.items() if getattr(problem, name) != value]
    if "problem_manager" in changed:
        _check_manager(tenant, data["problem_manager"])
    for name in changed:
        setattr(problem, name, data[name])
    if {"impact", "urgency"} & set(changed):
        problem.priority = incident_selectors.priority_for(
            tenant=tenant, impact=problem.impact, urgency=problem.urgency
        )
        changed.append("priority")
    problem.full_clean(exclude=["number", "review_timer"])
    if services is not None and _set_services(problem, services):
        changed.append("services")
    if not changed:
        return problem
    if "review_at" in changed:
        _arm_review(problem)
        _timer(problem).save(update_fields=["step", "fire_at", "updated_at"])
    save(problem, [name for name in changed if name != "services"])
    timeline.record(problem, ProblemEventKind.FIELDS, actor, data={"fields": sorted(changed)})
    return problem


def disarm_review(problem: Problem) -> None:
    """No more review reminders (the problem is closed or cancelled)."""
    timer = _timer(problem)
    if timer.is_armed:
        timer_arm(timer, step=None, at=None)
        timer.save(update_fields=["step", "fire_at", "updated_at"])


def _arm_review(problem: Problem, *, first: bool = False) -> None:
    """Arm the review timer for the problem's review date, as a step that has not fired yet:
    each new review date reminds once, a repeated sweep of the same date never again."""
    timer = _timer(problem)
    when: datetime | None = problem.review_at
    if when is None:
        timer_arm(timer, step=None, at=None)
        return
    fired = set() if first else timer_fired_steps(timer)
    timer_arm(timer, step=max(fired, default=0) + 1, at=when)
    timer.updated_at = timezone.now()


def _timer(problem: Problem) -> Timer:
    # Every problem the services recorded has its timer (see problem_create).
    assert problem.review_timer is not None
    return problem.review_timer


def _check_manager(tenant: Tenant, user: Any) -> None:
    if user is not None and not tenancy.is_tenant_agent(tenant=tenant, user=user):
        raise ProblemRequirementError(
            "The problem manager must be a staff member of the tenant.",
            fields={"problem_manager": ["Must be an active staff member of the tenant."]},
        )


def _check_services(tenant: Tenant, services: Iterable[Any]) -> None:
    if any(service.tenant_id != tenant.pk for service in services):
        raise ProblemRequirementError(
            "A service must belong to the same tenant.",
            fields={"services": ["Must belong to the same tenant."]},
        )


def _set_services(problem: Problem, services: Iterable[Any]) -> bool:
    """Make the problem's affected services exactly `services`; True if they changed."""
    services = list(services)
    _check_services(problem.tenant, services)
    links = ProblemService.objects.for_tenant(problem.tenant_id).filter(problem=problem)
    current = set(links.values_list("service_id", flat=True)) if problem.pk else set()
    wanted = {service.pk for service in services}
    if current == wanted:
        return False
    links.exclude(service_id__in=wanted).delete()
    ProblemService.objects.bulk_create(
        [
            ProblemService(tenant_id=problem.tenant_id, problem=problem, service_id=pk)
            for pk in sorted(wanted - current)
        ]
    )
    return True
