"""What every change service shares: the lock, the version, and the one status writer.

Each service locks the change row, checks the lifecycle table and the action's requirements,
writes the change and exactly one timeline event per status move. A stale `expected_version`
(the API's If-Match) is refused. Leaving "awaiting approval" revokes every approver's grant.
"""

from __future__ import annotations

from typing import Any

from changes import timeline
from changes.choices import ChangeAction, ChangeEventKind, ChangeStatus, ChangeType
from changes.errors import ChangeConflictError, ChangeErrorCode, StaleChangeError
from changes.lifecycle import check_change_action
from changes.models import Change, ChangeUserObjectPermission
from changes.schedule import Conflict, blackouts, conflicts
from changes.timers import arm_schedule_timer
from itsm.errors import NotFoundError
from itsm.tenancy.models import Tenant


def locked(tenant: Tenant, change_id: int, expected_version: int | None = None) -> Change:
    """The change, locked for this transaction, if the caller's version is current.

    Raises:
        NotFoundError: absent or another tenant's.
        StaleChangeError: someone changed it since the caller read it.
    """
    changes = Change.objects.for_tenant(tenant).filter(pk=change_id)
    # Lock first, then read: a locking query that joins would hand back stale joined rows.
    if not changes.select_for_update().values_list("pk", flat=True):
        raise NotFoundError("No such change.")
    change = changes.select_related("tenant", "owner", "implementer").get()
    check_version(change, expected_version)
    return change


def check_version(change: Change, expected_version: int | None) -> None:
    """Raises StaleChangeError when the caller read an older version."""
    if expected_version is not None and change.version != expected_version:
        raise StaleChangeError(
            f"{change.reference} has changed since you read it; reload and try again.",
            extra={"current_version": change.version},
        )


def save(change: Change, fields: list[str]) -> None:
    """Save the named fields and a new version (the row is locked: no lost update)."""
    change.version += 1
    change.save(update_fields=[*dict.fromkeys([*fields, "version", "updated_at"])])


def move(
    change: Change,
    to_status: str,
    actor: Any,
    *,
    changes: dict[str, Any] | None = None,
    body: str = "",
    data: dict[str, Any] | None = None,
) -> str:
    """Set the status (and the fields that follow from it), save, record one STATUS event.
    Returns the previous status. Callers have checked that the move is allowed."""
    previous = change.status
    change.status = to_status
    changes = changes or {}
    for name, value in changes.items():
        setattr(change, name, value)
    save(change, ["status", *changes])
    timeline.record(
        change,
        ChangeEventKind.STATUS,
        actor,
        from_status=previous,
        to_status=to_status,
        body=body,
        data=data or {},
    )
    if previous == ChangeStatus.AWAITING_APPROVAL and to_status != previous:
        revoke_grants(change)
    # The reminder before the start while scheduled, the overrun while implementing; idle else.
    arm_schedule_timer(change)
    return previous


def transition(
    change: Change,
    action: ChangeAction,
    actor: Any,
    *,
    changes: dict[str, Any] | None = None,
    body: str = "",
    data: dict[str, Any] | None = None,
) -> str:
    """Carry out a lifecycle action as the table says. Returns the previous status.

    Raises:
        InvalidChangeTransitionError: the table does not allow the action here (409).
    """
    rule = check_change_action(change.status, change.change_type, action)
    return move(
        change,
        rule.to_status,
        actor,
        changes=changes,
        body=body,
        data={"action": str(action), **(data or {})},
    )


def revoke_grants(change: Change) -> None:
    """No approver may decide on the change any more."""
    # guardian's manager has no for_tenant: the tenant filter is spelt out.
    ChangeUserObjectPermission.objects.filter(
        tenant_id=change.tenant_id, content_object=change
    ).delete()


def schedule_conflicts(change: Change) -> list[Conflict]:
    """What stands in the way of scheduling the change: a blackout window refuses a change that
    is not an emergency; everything else is returned as warnings.

    Raises:
        ChangeConflictError: the window overlaps a blackout window (409 blackout_window).
    """
    if change.change_type != ChangeType.EMERGENCY:
        refused = blackouts(change)
        if refused:
            raise ChangeConflictError(
                "The planned window overlaps a blackout window; move the window, or make it an "
                "emergency change.",
                code=ChangeErrorCode.BLACKOUT,
                fields={"planned_start": [conflict.message for conflict in refused]},
                extra={"blackout_windows": [conflict.reference for conflict in refused]},
            )
    return conflicts(change)
