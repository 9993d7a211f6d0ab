"""Pure rules of change management: the lifecycle guard, what each action needs, the risk the
assessment gives, and how many approvals a change needs. No database: unit-testable alone."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from changes.choices import (
    CHANGE_LIFECYCLE,
    ApprovalBoard,
    ChangeAction,
    ChangeRule,
    ChangeStatus,
    ChangeType,
    Risk,
    allowed_change_actions,
)
from changes.errors import ChangeRequirementError, InvalidChangeTransitionError

# What each action needs besides being allowed: field -> reason when missing.
REQUIRED_DETAILS: Final[dict[ChangeAction, dict[str, str]]] = {
    ChangeAction.REQUEST_APPROVAL: {
        "risk": "Assess the risk: impact, likelihood and backout difficulty.",
        "implementation_plan": "Describe how the change is implemented.",
        "backout_plan": "Describe how the change is backed out if it fails.",
        "planned_start": "Plan when the change starts.",
        "planned_end": "Plan when the change ends.",
    },
    ChangeAction.SCHEDULE: {
        "planned_start": "Plan when the change starts.",
        "planned_end": "Plan when the change ends.",
    },
    ChangeAction.CLOSE: {"outcome": "Say whether the change succeeded, failed or was backed out."},
    ChangeAction.CANCEL: {"reason": "Say why the change is cancelled."},
}


def check_change_action(status: str, change_type: str, action: ChangeAction) -> ChangeRule:
    """The rule of `action` if the lifecycle allows it for this type in `status`.

    Raises:
        InvalidChangeTransitionError: with the actions that are allowed instead.
    """
    rule = CHANGE_LIFECYCLE[action]
    if status not in rule.from_statuses or change_type not in rule.types:
        raise InvalidChangeTransitionError(
            f"Cannot {action.label.lower()} a {ChangeType(change_type).label.lower()} change "
            f"that is {ChangeStatus(status).label.lower()}.",
            extra={
                "allowed_actions": [str(a) for a in allowed_change_actions(status, change_type)]
            },
        )
    return rule


def check_change_details(action: ChangeAction, details: Mapping[str, Any]) -> None:
    """Refuse an action that lacks a required detail.

    Raises:
        ChangeRequirementError: naming each missing field.
    """
    missing = {
        field: [reason]
        for field, reason in REQUIRED_DETAILS.get(action, {}).items()
        if not str(details.get(field) or "").strip()
    }
    if missing:
        raise ChangeRequirementError(
            "; ".join(reason for reasons in missing.values() for reason in reasons),
            fields=missing,
        )


def risk_of(impact: int | None, likelihood: int | None, backout: int | None) -> str:
    """The risk three answers (1 low … 3 high) give: high when the change would hurt and is
    likely to fail, or would hurt and is hard to back out; low when nothing is above medium and
    at most one is medium; medium otherwise. "" until all three are answered."""
    if impact is None or likelihood is None or backout is None:
        return ""
    if impact == 3 and max(likelihood, backout) >= 2:
        return Risk.HIGH
    if likelihood == 3 and backout == 3:
        return Risk.HIGH
    if max(impact, likelihood, backout) <= 2 and sorted((impact, likelihood, backout))[1] == 1:
        return Risk.LOW
    return Risk.MEDIUM


# Approvals a change needs when the tenant has no rule for its type and risk: any one CAB member
# for low and medium risk, two for high; an emergency change, one member of the emergency CAB.
DEFAULT_APPROVALS: Final[dict[tuple[str, str], tuple[ApprovalBoard, int]]] = {
    (ChangeType.NORMAL, Risk.LOW): (ApprovalBoard.CAB, 1),
    (ChangeType.NORMAL, Risk.MEDIUM): (ApprovalBoard.CAB, 1),
    (ChangeType.NORMAL, Risk.HIGH): (ApprovalBoard.CAB, 2),
    (ChangeType.EMERGENCY, Risk.LOW): (ApprovalBoard.ECAB, 1),
    (ChangeType.EMERGENCY, Risk.MEDIUM): (ApprovalBoard.ECAB, 1),
    (ChangeType.EMERGENCY, Risk.HIGH): (ApprovalBoard.ECAB, 1),
}
