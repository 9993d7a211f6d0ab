"""Pure lifecycle guards of problems and known errors: no database, unit-testable on their own."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from problems.choices import (
    KNOWN_ERROR_LIFECYCLE,
    PROBLEM_LIFECYCLE,
    KnownErrorAction,
    KnownErrorRule,
    KnownErrorStatus,
    ProblemAction,
    ProblemRule,
    ProblemStatus,
    allowed_known_error_actions,
    allowed_problem_actions,
)
from problems.errors import InvalidProblemTransitionError, ProblemRequirementError

# What each action needs besides being allowed in the status: field -> reason when missing.
REQUIRED_DETAILS: dict[ProblemAction, dict[str, str]] = {
    ProblemAction.IDENTIFY_ROOT_CAUSE: {"root_cause": "Describe the root cause."},
    ProblemAction.REINVESTIGATE: {"reason": "Say why the problem is investigated again."},
    ProblemAction.RESOLVE: {"fix_notes": "Describe the fix that removed the root cause."},
    ProblemAction.REOPEN: {"reason": "Say why the fix did not hold."},
    ProblemAction.CANCEL: {"reason": "Say why the problem is cancelled."},
}


def check_problem_action(status: str, action: ProblemAction) -> ProblemRule:
    """The rule of `action` if the problem lifecycle allows it in `status`.

    Raises:
        InvalidProblemTransitionError: with the actions that are allowed instead.
    """
    rule = PROBLEM_LIFECYCLE[action]
    if status not in rule.from_statuses:
        raise InvalidProblemTransitionError(
            f"Cannot {action.label.lower()} on a problem that is "
            f"{ProblemStatus(status).label.lower()}.",
            extra={"allowed_actions": [str(name) for name in allowed_problem_actions(status)]},
        )
    return rule


def check_problem_details(action: ProblemAction, details: Mapping[str, Any]) -> None:
    """Refuse an action that lacks a required detail.

    Raises:
        ProblemRequirementError: naming each missing field.
    """
    missing = {
        field: [reason]
        for field, reason in REQUIRED_DETAILS.get(action, {}).items()
        if not str(details.get(field) or "").strip()
    }
    if missing:
        raise ProblemRequirementError(
            "; ".join(reason for reasons in missing.values() for reason in reasons),
            fields=missing,
        )


def check_known_error_action(status: str, action: KnownErrorAction) -> KnownErrorRule:
    """The rule of `action` if the known-error lifecycle allows it in `status`.

    Raises:
        InvalidProblemTransitionError: with the actions that are allowed instead.
    """
    rule = KNOWN_ERROR_LIFECYCLE[action]
    if status not in rule.from_statuses:
        raise InvalidProblemTransitionError(
            f"Cannot {action.label.lower()} a known error that is "
            f"{KnownErrorStatus(status).label.lower()}.",
            extra={"allowed_actions": [str(name) for name in allowed_known_error_actions(status)]},
        )
    return rule
