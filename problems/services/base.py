"""What every problem service shares: the lock, the version, and the one transition helper.

Each service locks the problem row, checks the lifecycle table and the action's requirements,
writes the problem and exactly one timeline event. A stale `expected_version` (the API's
If-Match) is refused. `actor=None` means the system acted.
"""

from __future__ import annotations

from typing import Any

from itsm.errors import NotFoundError
from itsm.tenancy.models import Tenant
from problems import timeline
from problems.choices import TERMINAL_PROBLEM_STATUSES, ProblemAction, ProblemEventKind
from problems.errors import InvalidProblemTransitionError, ProblemErrorCode, StaleProblemError
from problems.lifecycle import check_problem_action
from problems.models import KnownError, Problem


def locked(tenant: Tenant, problem_id: int, expected_version: int | None = None) -> Problem:
    """The problem, locked for this transaction, if the caller's version is current.

    Raises:
        NotFoundError: absent or another tenant's.
        StaleProblemError: someone changed it since the caller read it.
    """
    problems = Problem.objects.for_tenant(tenant).filter(pk=problem_id)
    # Lock first, then read: a locking query that joins would hand back the joined rows as they
    # were before a concurrent writer committed.
    if not problems.select_for_update().values_list("pk", flat=True):
        raise NotFoundError("No such problem.")
    problem = problems.select_related("review_timer", "problem_manager", "tenant").get()
    check_version(problem.reference, problem.version, expected_version)
    return problem


def locked_known_error(
    tenant: Tenant, known_error_id: int, expected_version: int | None = None
) -> KnownError:
    """The known error, locked for this transaction, if the caller's version is current.

    Raises:
        NotFoundError: absent or another tenant's.
        StaleProblemError: someone changed it since the caller read it.
    """
    known_errors = KnownError.objects.for_tenant(tenant).filter(pk=known_error_id)
    if not known_errors.select_for_update().values_list("pk", flat=True):
        raise NotFoundError("No such known error.")
    known_error = known_errors.select_related("problem").get()
    check_version(known_error.reference, known_error.version, expected_version)
    return known_error


def check_version(reference: str, version: int, expected_version: int | None) -> None:
    """Raises StaleProblemError when the caller read an older version."""
    if expected_version is not None and version != expected_version:
        raise StaleProblemError(
            f"{reference} has changed since you read it; reload and try again.",
            extra={"current_version": version},
        )


def save(problem: Problem | KnownError, fields: list[str]) -> None:
    """Save the named fields and a new version (the row is locked: no lost update)."""
    problem.version += 1
    problem.save(update_fields=[*fields, "version", "updated_at"])


def check_not_terminal(problem: Problem, doing: str) -> None:
    """Raises InvalidProblemTransitionError once the problem is closed or cancelled."""
    if problem.status in TERMINAL_PROBLEM_STATUSES:
        raise InvalidProblemTransitionError(
            f"Cannot {doing} a {problem.get_status_display().lower()} problem.",
            code=ProblemErrorCode.NOT_EDITABLE,
            extra={"allowed_actions": []},
        )


def transition(
    problem: Problem,
    action: ProblemAction,
    actor: Any,
    *,
    changes: dict[str, Any] | None = None,
    body: str = "",
    data: dict[str, Any] | None = None,
) -> str:
    """Carry out a lifecycle action as the table says: the status it leads to, the fields the
    action sets and one timeline event. Returns the previous status.

    Raises:
        InvalidProblemTransitionError: the table does not allow the action in the status.
    """
    rule = check_problem_action(problem.status, action)
    previous = problem.status
    problem.status = rule.to_status
    changes = changes or {}
    for name, value in changes.items():
        setattr(problem, name, value)
    save(problem, ["status", *changes])
    timeline.record(
        problem,
        ProblemEventKind.STATUS,
        actor,
        from_status=previous,
        to_status=problem.status,
        body=body,
        data={"action": str(action), **(data or {})},
    )
    return previous
