"""The lifecycle verbs of a change: submit, schedule (standard changes), start, complete,
close, cancel. Requesting approval and the approvers' decisions live in approvals.py."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.utils import timezone

from changes.choices import ChangeAction, ChangeOutcome
from changes.lifecycle import check_change_action, check_change_details
from changes.models import Change
from changes.schedule import Conflict
from changes.services.base import locked, schedule_conflicts, transition
from changes.services.links import resolve_fixed_problems
from itsm.tenancy.models import Tenant


@dataclass
class Scheduled:
    """A change after a step that may schedule it, and the conflicts (warnings) it has."""

    change: Change
    conflicts: list[Conflict] = field(default_factory=list)


def window_details(change: Change) -> dict[str, Any]:
    """What the requirement checks read from the change itself."""
    return {
        "risk": change.risk,
        "implementation_plan": change.implementation_plan,
        "backout_plan": change.backout_plan,
        "planned_start": change.planned_start,
        "planned_end": change.planned_end,
    }


@transaction.atomic
def change_submit(
    *, tenant: Tenant, change_id: int, actor: Any, expected_version: int | None = None
) -> Change:
    """Draft → assessment."""
    change = locked(tenant, change_id, expected_version)
    transition(change, ChangeAction.SUBMIT, actor)
    return change


@transaction.atomic
def change_schedule(
    *, tenant: Tenant, change_id: int, actor: Any, expected_version: int | None = None
) -> Scheduled:
    """A standard change, assessed → scheduled: pre-approved, it needs only its window.

    Raises:
        ChangeRequirementError: no planned window (400).
        ChangeConflictError: the window overlaps a blackout window (409).
    """
    change = locked(tenant, change_id, expected_version)
    check_change_action(change.status, change.change_type, ChangeAction.SCHEDULE)
    check_change_details(ChangeAction.SCHEDULE, window_details(change))
    found = schedule_conflicts(change)
    transition(
        change,
        ChangeAction.SCHEDULE,
        actor,
        data={"conflicts": [conflict.reference for conflict in found]},
    )
    return Scheduled(change, found)


@transaction.atomic
def change_start(
    *, tenant: Tenant, change_id: int, actor: Any, expected_version: int | None = None
) -> Change:
    """Scheduled → implementing; the actual start is now."""
    change = locked(tenant, change_id, expected_version)
    transition(change, ChangeAction.START, actor, changes={"actual_start": timezone.now()})
    return change


@transaction.atomic
def change_complete(
    *,
    tenant: Tenant,
    change_id: int,
    actor: Any,
    note: str = "",
    expected_version: int | None = None,
) -> Change:
    """Implementing → review; the actual end is now."""
    change = locked(tenant, change_id, expected_version)
    transition(
        change, ChangeAction.COMPLETE, actor, changes={"actual_end": timezone.now()}, body=note
    )
    return change


@transaction.atomic
def change_close(
    *,
    tenant: Tenant,
    change_id: int,
    actor: Any,
    outcome: str,
    note: str = "",
    expected_version: int | None = None,
) -> Change:
    """Review → closed with its outcome. A successful change resolves the open problems it
    fixes (through the problems' own service, which tells their managers)."""
    change = locked(tenant, change_id, expected_version)
    check_change_action(change.status, change.change_type, ChangeAction.CLOSE)
    check_change_details(ChangeAction.CLOSE, {"outcome": outcome})
    transition(
        change,
        ChangeAction.CLOSE,
        actor,
        changes={"outcome": outcome, "closed_at": timezone.now()},
        body=note,
        data={"outcome": outcome},
    )
    if outcome == ChangeOutcome.SUCCESSFUL:
        resolve_fixed_problems(change, actor)
    return change


@transaction.atomic
def change_cancel(
    *,
    tenant: Tenant,
    change_id: int,
    actor: Any,
    reason: str,
    expected_version: int | None = None,
) -> Change:
    """Withdraw a change that has not started; approvers lose their grants."""
    change = locked(tenant, change_id, expected_version)
    check_change_action(change.status, change.change_type, ChangeAction.CANCEL)
    check_change_details(ChangeAction.CANCEL, {"reason": reason})
    transition(
        change, ChangeAction.CANCEL, actor, changes={"closed_at": timezone.now()}, body=reason
    )
    return change
