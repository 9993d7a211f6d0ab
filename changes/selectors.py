"""Reads of changes, their approvals, timelines and configuration; all scoped to a tenant."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Exists, IntegerField, OuterRef, Prefetch, QuerySet, Subquery
from django.db.models.functions import Coalesce

from changes.choices import APPROVE_PERMISSION, ApprovalDecision, ChangeStatus
from changes.models import (
    ApprovalRule,
    CabMember,
    Change,
    ChangeApproval,
    ChangeEvent,
    ChangeFix,
    ChangeIncident,
    ChangeService,
    ChangeTemplate,
    ChangeUserObjectPermission,
    TemplateService,
)
from changes.schedule import Conflict, conflicts
from itsm.tenancy.choices import MembershipRole
from itsm.tenancy.models import Membership, Tenant


def _sees_changes(membership: Membership | None) -> bool:
    # Requesters (end users) see nothing of change management.
    return membership is None or membership.role != MembershipRole.REQUESTER


def change_list(*, tenant: Tenant, membership: Membership | None = None) -> QuerySet[Change]:
    """The changes a member may see, with what the list shows loaded in a fixed number of
    queries (services in one batch)."""
    if not _sees_changes(membership):
        return Change.objects.none()
    services: Prefetch[Any] = Prefetch(
        "service_links",
        queryset=ChangeService.objects.for_tenant(tenant)
        .select_related("service")
        .order_by("service__slug"),
    )
    # Both ends of a link show it: the change names what it fixes and the incidents it caused.
    fixes: Prefetch[Any] = Prefetch(
        "fixes",
        queryset=ChangeFix.objects.for_tenant(tenant)
        .select_related("problem", "known_error")
        .order_by("id"),
    )
    caused: Prefetch[Any] = Prefetch(
        "caused_incidents",
        queryset=ChangeIncident.objects.for_tenant(tenant)
        .select_related("incident")
        .order_by("incident__number"),
    )
    return (
        Change.objects.for_tenant(tenant)
        .select_related("owner", "implementer", "template")
        .prefetch_related(services, fixes, caused)
    )


def problem_changes(
    *,
    tenant: Tenant,
    membership: Membership | None = None,
    problem: Any = None,
    known_error: Any = None,
) -> QuerySet[Change]:
    """The changes that fix a problem (or a known error), newest first."""
    changes = change_list(tenant=tenant, membership=membership)
    if problem is not None:
        changes = changes.filter(fixes__problem=problem)
    if known_error is not None:
        changes = changes.filter(fixes__known_error=known_error)
    return changes.order_by("-created_at", "-id")


def incident_changes(
    *, tenant: Tenant, membership: Membership | None = None, incident: Any
) -> QuerySet[Change]:
    """The change recorded as having caused an incident (none or one)."""
    return change_list(tenant=tenant, membership=membership).filter(
        caused_incidents__incident=incident
    )


def changes_to_decide(*, tenant: Tenant, membership: Membership) -> QuerySet[Change]:
    """The changes the member holds the approver's grant on (guardian, after the tenant):
    the only ones they may approve or reject; to them every other change is absent."""
    granted = ChangeUserObjectPermission.objects.filter(
        tenant_id=tenant.pk,
        content_object=OuterRef("pk"),
        user_id=membership.user_id,
        permission__codename=APPROVE_PERMISSION,
    )
    return change_list(tenant=tenant, membership=membership).filter(Exists(granted))


def awaiting_approval_of(changes: QuerySet[Change], user: Any) -> QuerySet[Change]:
    """Of `changes`, those awaiting approval that the user may decide on and has not decided
    in the current round."""
    granted = ChangeUserObjectPermission.objects.filter(
        content_object=OuterRef("pk"),
        user_id=user.pk,
        permission__codename=APPROVE_PERMISSION,
    )
    decided = ChangeApproval.objects.filter(
        change=OuterRef("pk"), approver_id=user.pk, approval_round=OuterRef("approval_round")
    )
    return changes.filter(status=ChangeStatus.AWAITING_APPROVAL).filter(
        Exists(granted), ~Exists(decided)
    )


def with_approvals_received(changes: QuerySet[Change], *, tenant: Tenant) -> QuerySet[Change]:
    """`changes`, each annotated with `approvals_received`: the approvals of its current round
    (one subquery, whatever the number of changes)."""
    received = (
        ChangeApproval.objects.for_tenant(tenant)
        .filter(
            change=OuterRef("pk"),
            approval_round=OuterRef("approval_round"),
            decision=ApprovalDecision.APPROVED,
        )
        .order_by()
        .values("change")
        .annotate(count=Count("pk"))
        .values("count")
    )
    return changes.annotate(
        approvals_received=Coalesce(Subquery(received, output_field=IntegerField()), 0)
    )


def change_approvals(*, change: Change) -> QuerySet[ChangeApproval]:
    """Every decision on the change, by round, oldest first."""
    return (
        ChangeApproval.objects.for_tenant(change.tenant_id)
        .filter(change=change)
        .select_related("approver")
        .order_by("approval_round", "created_at", "id")
    )


def change_timeline(*, change: Change) -> QuerySet[ChangeEvent]:
    """The change's events, in order."""
    return (
        ChangeEvent.objects.for_tenant(change.tenant_id)
        .filter(change=change)
        .select_related("actor")
        .order_by("created_at", "id")
    )


def change_conflicts(*, change: Change) -> list[Conflict]:
    """What stands in the way of the change's planned window now."""
    return conflicts(change)


def template_list(*, tenant: Tenant, membership: Membership | None = None) -> Any:
    if not _sees_changes(membership):
        return ChangeTemplate.objects.none()
    return ChangeTemplate.objects.for_tenant(tenant).prefetch_related(
        Prefetch(
            "service_links",
            queryset=TemplateService.objects.for_tenant(tenant)
            .select_related("service")
            .order_by("service__slug"),
        )
    )


def cab_member_list(*, tenant: Tenant, membership: Membership | None = None) -> Any:
    if not _sees_changes(membership):
        return CabMember.objects.none()
    return CabMember.objects.for_tenant(tenant).select_related("user")


def approval_rule_list(*, tenant: Tenant, membership: Membership | None = None) -> Any:
    if not _sees_changes(membership):
        return ApprovalRule.objects.none()
    return ApprovalRule.objects.for_tenant(tenant)
