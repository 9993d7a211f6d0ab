"""Approval of normal and emergency changes: the request picks the board and the number of
approvals (the tenant's rule, else lifecycle.DEFAULT_APPROVALS) and grants the board's members
guardian's `approve_change` on the change; each member decides once per round; enough
approvals schedule the change, one rejection sends it back to draft. Leaving "awaiting
approval" revokes every grant (services.base.move)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.db import transaction

from changes import timeline
from changes.choices import (
    APPROVE_PERMISSION,
    ApprovalDecision,
    ChangeAction,
    ChangeEventKind,
    ChangeStatus,
)
from changes.errors import ChangeErrorCode, ChangeRequirementError
from changes.lifecycle import DEFAULT_APPROVALS, check_change_action, check_change_details
from changes.models import (
    ApprovalRule,
    CabMember,
    Change,
    ChangeApproval,
    ChangeUserObjectPermission,
)
from changes.schedule import Conflict
from changes.services.base import locked, move, schedule_conflicts, transition
from changes.services.lifecycle import window_details
from itsm.errors import ConflictError, NotFoundError
from itsm.tenancy.models import Tenant


@dataclass
class Decided:
    """An approver's decision, the change after it, and the conflicts if it was scheduled."""

    change: Change
    approval: ChangeApproval
    conflicts: list[Conflict] = field(default_factory=list)


def approve_permission() -> Permission:
    return Permission.objects.get(
        content_type=ContentType.objects.get_for_model(Change), codename=APPROVE_PERMISSION
    )


@transaction.atomic
def change_request_approval(
    *, tenant: Tenant, change_id: int, actor: Any, expected_version: int | None = None
) -> Change:
    """Assessment → awaiting approval, a new round; the board's members may now decide.

    Raises:
        ChangeRequirementError: the risk, a plan or the window is missing (400, per field).
    """
    change = locked(tenant, change_id, expected_version)
    check_change_action(change.status, change.change_type, ChangeAction.REQUEST_APPROVAL)
    check_change_details(ChangeAction.REQUEST_APPROVAL, window_details(change))
    rule = (
        ApprovalRule.objects.for_tenant(tenant)
        .filter(change_type=change.change_type, risk=change.risk)
        .first()
    )
    board, required = (
        (rule.board, rule.approvals_required)
        if rule is not None
        else DEFAULT_APPROVALS[(change.change_type, change.risk)]
    )
    transition(
        change,
        ChangeAction.REQUEST_APPROVAL,
        actor,
        changes={
            "approval_board": board,
            "approvals_required": required,
            "approval_round": change.approval_round + 1,
        },
        data={"board": str(board), "approvals_required": required},
    )
    members = CabMember.objects.for_tenant(tenant).filter(board=board).values_list("user_id")
    permission = approve_permission()
    ChangeUserObjectPermission.objects.bulk_create(
        [
            ChangeUserObjectPermission(
                tenant_id=tenant.pk,
                content_object=change,
                user_id=user_id,
                permission=permission,
            )
            for (user_id,) in members
        ],
        ignore_conflicts=True,
    )
    return change


def may_decide(change: Change, user: Any) -> bool:
    """The user holds the approver's grant on the change (only while it awaits approval)."""
    return bool(
        ChangeUserObjectPermission.objects.filter(
            tenant_id=change.tenant_id,
            content_object=change,
            user_id=user.pk,
            permission__codename=APPROVE_PERMISSION,
        ).exists()
    )


@transaction.atomic
def change_approve(*, tenant: Tenant, change_id: int, actor: Any, comment: str = "") -> Decided:
    """Approve; the last approval needed schedules the change.

    Raises:
        NotFoundError: the actor is not an approver of this change now (404).
        ConflictError: the actor already decided this round (409 already_decided).
        ChangeConflictError: the last approval, and the window overlaps a blackout (409).
    """
    return _decide(tenant, change_id, actor, ApprovalDecision.APPROVED, comment)


@transaction.atomic
def change_reject(*, tenant: Tenant, change_id: int, actor: Any, comment: str) -> Decided:
    """Reject with a comment: the change goes back to draft, the round ends.

    Raises:
        ChangeRequirementError: no comment (400).
        NotFoundError, ConflictError: as for approving.
    """
    if not comment.strip():
        raise ChangeRequirementError(
            "Say why the change is rejected.", fields={"comment": ["Required to reject."]}
        )
    return _decide(tenant, change_id, actor, ApprovalDecision.REJECTED, comment)


def _decide(tenant: Tenant, change_id: int, actor: Any, decision: str, comment: str) -> Decided:
    change = locked(tenant, change_id)
    # Without the grant the change is none of the actor's business as an approver: absent.
    if change.status != ChangeStatus.AWAITING_APPROVAL or not may_decide(change, actor):
        raise NotFoundError("No such change awaiting your approval.")
    decisions = ChangeApproval.objects.for_tenant(tenant).filter(
        change=change, approval_round=change.approval_round
    )
    if decisions.filter(approver_id=actor.pk).exists():
        raise ConflictError(
            "You already decided on this change in this round.",
            code=ChangeErrorCode.ALREADY_DECIDED,
        )
    approval = ChangeApproval.objects.create(
        tenant=tenant,
        change=change,
        approver=actor,
        approval_round=change.approval_round,
        decision=decision,
        comment=comment.strip(),
    )
    timeline.record(
        change,
        ChangeEventKind.APPROVAL,
        actor,
        body=approval.comment,
        data={"decision": decision, "round": change.approval_round},
    )
    if decision == ApprovalDecision.REJECTED:
        move(change, ChangeStatus.DRAFT, actor, body=approval.comment, data={"action": "reject"})
        return Decided(change, approval)
    approved = decisions.filter(decision=ApprovalDecision.APPROVED).count()
    if approved < change.approvals_required:
        return Decided(change, approval)
    found = schedule_conflicts(change)
    move(
        change,
        ChangeStatus.SCHEDULED,
        actor,
        data={"action": "approve", "conflicts": [conflict.reference for conflict in found]},
    )
    return Decided(change, approval, found)
