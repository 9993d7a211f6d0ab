"""The lifecycle verbs of a problem: investigate, identify the root cause, start the fix,
reinvestigate, resolve, close, reopen, cancel. Each hands the table work to `transition`."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from itsm.tenancy.models import Tenant
from problems.choices import ProblemAction
from problems.lifecycle import check_problem_action, check_problem_details
from problems.models import Problem
from problems.services.base import locked, transition
from problems.services.links import tell_linked_incidents_resolved
from problems.services.recording import disarm_review


@transaction.atomic
def problem_investigate(
    *, tenant: Tenant, problem_id: int, actor: Any, expected_version: int | None = None
) -> Problem:
    """New → under investigation; the acting staff member manages it if nobody does."""
    problem = locked(tenant, problem_id, expected_version)
    changes = {} if problem.problem_manager_id else {"problem_manager": actor}
    transition(problem, ProblemAction.INVESTIGATE, actor, changes=changes)
    return problem


@transaction.atomic
def problem_identify_root_cause(
    *,
    tenant: Tenant,
    problem_id: int,
    actor: Any,
    root_cause: str = "",
    workaround: str = "",
    expected_version: int | None = None,
) -> Problem:
    """Under investigation → root cause known, with the root cause (and a workaround, if any)."""
    problem = locked(tenant, problem_id, expected_version)
    check_problem_action(problem.status, ProblemAction.IDENTIFY_ROOT_CAUSE)
    root_cause = root_cause.strip() or problem.root_cause
    check_problem_details(ProblemAction.IDENTIFY_ROOT_CAUSE, {"root_cause": root_cause})
    changes: dict[str, Any] = {
        "root_cause": root_cause,
        "root_cause_identified_at": timezone.now(),
    }
    if workaround.strip():
        changes["workaround"] = workaround.strip()
    transition(problem, ProblemAction.IDENTIFY_ROOT_CAUSE, actor, changes=changes, body=root_cause)
    return problem


@transaction.atomic
def problem_start_fix(
    *,
    tenant: Tenant,
    problem_id: int,
    actor: Any,
    note: str = "",
    expected_version: int | None = None,
) -> Problem:
    """Root cause known → fix in progress."""
    problem = locked(tenant, problem_id, expected_version)
    transition(problem, ProblemAction.START_FIX, actor, body=note)
    return problem


@transaction.atomic
def problem_reinvestigate(
    *,
    tenant: Tenant,
    problem_id: int,
    actor: Any,
    reason: str,
    expected_version: int | None = None,
) -> Problem:
    """Root cause known or fix in progress → under investigation: the cause or fix was wrong."""
    problem = locked(tenant, problem_id, expected_version)
    check_problem_action(problem.status, ProblemAction.REINVESTIGATE)
    check_problem_details(ProblemAction.REINVESTIGATE, {"reason": reason})
    transition(
        problem,
        ProblemAction.REINVESTIGATE,
        actor,
        changes={"root_cause_identified_at": None},
        body=reason,
    )
    return problem


@transaction.atomic
def problem_resolve(
    *,
    tenant: Tenant,
    problem_id: int,
    actor: Any,
    fix_notes: str,
    expected_version: int | None = None,
) -> Problem:
    """The root cause is removed: resolved. Linked incidents held "awaiting problem" resume,
    every open linked incident gets a timeline entry, and their assignees are told."""
    problem = locked(tenant, problem_id, expected_version)
    check_problem_action(problem.status, ProblemAction.RESOLVE)
    check_problem_details(ProblemAction.RESOLVE, {"fix_notes": fix_notes})
    transition(
        problem,
        ProblemAction.RESOLVE,
        actor,
        changes={"fix_notes": fix_notes.strip(), "resolved_at": timezone.now()},
        body=fix_notes,
    )
    tell_linked_incidents_resolved(problem, actor)
    return problem


@transaction.atomic
def problem_close(
    *,
    tenant: Tenant,
    problem_id: int,
    actor: Any,
    note: str = "",
    expected_version: int | None = None,
) -> Problem:
    """Resolved → closed: the fix held. No more review reminders."""
    problem = locked(tenant, problem_id, expected_version)
    transition(
        problem, ProblemAction.CLOSE, actor, changes={"closed_at": timezone.now()}, body=note
    )
    disarm_review(problem)
    return problem


@transaction.atomic
def problem_reopen(
    *,
    tenant: Tenant,
    problem_id: int,
    actor: Any,
    reason: str,
    expected_version: int | None = None,
) -> Problem:
    """Resolved → under investigation: the fix did not hold."""
    problem = locked(tenant, problem_id, expected_version)
    check_problem_action(problem.status, ProblemAction.REOPEN)
    check_problem_details(ProblemAction.REOPEN, {"reason": reason})
    transition(problem, ProblemAction.REOPEN, actor, changes={"resolved_at": None}, body=reason)
    return problem


@transaction.atomic
def problem_cancel(
    *,
    tenant: Tenant,
    problem_id: int,
    actor: Any,
    reason: str,
    expected_version: int | None = None,
) -> Problem:
    """Withdraw an open problem recorded in error (a duplicate, not a problem)."""
    problem = locked(tenant, problem_id, expected_version)
    check_problem_action(problem.status, ProblemAction.CANCEL)
    check_problem_details(ProblemAction.CANCEL, {"reason": reason})
    transition(problem, ProblemAction.CANCEL, actor, body=reason)
    disarm_review(problem)
    return problem
