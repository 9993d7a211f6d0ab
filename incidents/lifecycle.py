"""Pure lifecycle guards: no database, unit-testable on their own."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from incidents.choices import (
    LIFECYCLE,
    ActionRule,
    HoldReason,
    IncidentAction,
    IncidentStatus,
    ResolutionCode,
    allowed_actions,
)
from incidents.errors import (
    IncidentErrorCode,
    InvalidTransitionError,
    TransitionRequirementError,
)

# What each action needs besides being allowed in the status: field -> reason when missing.
REQUIRED_DETAILS: dict[IncidentAction, dict[str, str]] = {
    IncidentAction.HOLD: {"hold_reason": "Say what the incident is waiting for."},
    IncidentAction.RESOLVE: {
        "resolution_code": "A resolution code is required.",
        "resolution_notes": "Describe how service was restored.",
    },
    IncidentAction.ESCALATE: {"reason": "Say why the incident is escalated."},
    IncidentAction.CANCEL: {"reason": "Say why the incident is cancelled."},
}

CHOICES_OF_DETAIL: dict[str, type[Any]] = {
    "hold_reason": HoldReason,
    "resolution_code": ResolutionCode,
}


def check_action(status: str, action: IncidentAction) -> ActionRule:
    """The rule of `action` if the lifecycle allows it in `status`.

    Raises:
        InvalidTransitionError: with the actions that are allowed instead.
    """
    rule = LIFECYCLE[action]
    if status not in rule.from_statuses:
        allowed = allowed_actions(status)
        raise InvalidTransitionError(
            f"Cannot {action.label.lower()} an incident that is "
            f"{IncidentStatus(status).label.lower()}.",
            extra={"allowed_actions": [str(name) for name in allowed]},
        )
    return rule


def check_details(action: IncidentAction, details: Mapping[str, Any]) -> None:
    """Refuse an action that lacks a required detail or carries an unknown choice.

    Raises:
        TransitionRequirementError: naming each missing or invalid field.
    """
    problems: dict[str, list[str]] = {}
    for field, reason in REQUIRED_DETAILS.get(action, {}).items():
        value = details.get(field)
        if value is None or (isinstance(value, str) and not value.strip()):
            problems[field] = [reason]
        elif field in CHOICES_OF_DETAIL and value not in CHOICES_OF_DETAIL[field].values:
            problems[field] = [f'"{value}" is not a valid choice.']
    if problems:
        raise TransitionRequirementError(
            "; ".join(reason for reasons in problems.values() for reason in reasons),
            fields=problems,
        )


def check_reopen_window(resolved_at: datetime | None, now: datetime, window: timedelta) -> None:
    """A resolved incident may be reopened only within the tenant's window.

    Raises:
        InvalidTransitionError: the window has passed.
    """
    if resolved_at is not None and now - resolved_at > window:
        raise InvalidTransitionError(
            "The reopen window has passed; report a new incident instead.",
            code=IncidentErrorCode.REOPEN_WINDOW_PASSED,
            extra={"allowed_actions": [str(IncidentAction.CLOSE)]},
        )
