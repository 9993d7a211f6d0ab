"""Reads of tenants, memberships and teams, and the role questions every app asks."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import QuerySet

from itsm.tenancy import rls
from itsm.tenancy.choices import STAFF_ROLES, MembershipRole, TeamKind
from itsm.tenancy.models import Membership, Team, TeamMember, Tenant


def tenant_membership_resolve(
    *, user: AbstractBaseUser | AnonymousUser, tenant_slug: str
) -> Membership | None:
    """The user's active membership in the active tenant `tenant_slug`, with RLS set for it.

    Must run inside `rls.scope()`. None when the tenant does not exist, is inactive, or the
    user is not an active member: callers answer all three alike (404), so a tenant's
    existence never leaks.
    """
    if not user.is_authenticated:
        return None
    tenant = Tenant.objects.filter(slug=tenant_slug, is_active=True).first()
    if tenant is None:
        return None
    rls.activate(rls.RlsContext(tenant_id=tenant.pk, user_id=user.pk))
    membership = (
        Membership.objects.for_tenant(tenant).filter(user_id=user.pk, is_active=True).first()
    )
    if membership is None:
        rls.activate(rls.NO_ACCESS)
        return None
    membership.tenant = tenant  # already loaded: spare the query
    return membership


def user_membership_list(*, user: AbstractBaseUser) -> QuerySet[Membership]:
    """The user's active memberships in active tenants. Run inside `rls.user_scope()`."""
    return (
        Membership.objects.filter(user_id=user.pk, is_active=True, tenant__is_active=True)
        .select_related("tenant")
        .order_by("tenant__name")
    )


def team_list(*, tenant: Tenant) -> QuerySet[Team]:
    """The tenant's teams with what their representation needs."""
    return (
        Team.objects.for_tenant(tenant)
        .select_related("escalation_team")
        .prefetch_related("members")
    )


def membership_list(*, tenant: Tenant) -> QuerySet[Membership]:
    """The tenant's memberships with their users."""
    return Membership.objects.for_tenant(tenant).select_related("user")


def member_list(*, tenant: Tenant | int) -> QuerySet[Any]:
    """Users with an active membership in the tenant, of any role."""
    return (
        get_user_model()
        .objects.filter(
            pk__in=Membership.objects.for_tenant(tenant).filter(is_active=True).values("user_id")
        )
        .order_by("username")
    )


def agent_list(*, tenant: Tenant) -> QuerySet[Any]:
    """Users who work tickets in the tenant (active staff memberships): who may be assigned,
    named commander or chosen in an agent's form; never a requester."""
    return (
        get_user_model()
        .objects.filter(
            pk__in=Membership.objects.for_tenant(tenant)
            .filter(is_active=True, role__in=STAFF_ROLES)
            .values("user_id")
        )
        .order_by("username")
    )


def users_outside_tenant(
    *, tenant: Tenant | int, users: Iterable[AbstractBaseUser]
) -> list[AbstractBaseUser]:
    """Those of `users` who are not active members of the tenant."""
    users = list(users)
    members = set(
        Membership.objects.for_tenant(tenant)
        .filter(user_id__in=[user.pk for user in users], is_active=True)
        .values_list("user_id", flat=True)
    )
    return [user for user in users if user.pk not in members]


# --- Role questions: who may do what, asked by every app's services -----------------------------


def management_teams(*, tenant: Tenant) -> QuerySet[Team]:
    """Teams of kind management: hierarchical escalation and major incidents engage them."""
    return Team.objects.for_tenant(tenant).filter(kind=TeamKind.MANAGEMENT)


def is_team_member(*, tenant: Tenant, team_id: int | None, user: Any) -> bool:
    if team_id is None:
        return False
    return bool(
        TeamMember.objects.for_tenant(tenant).filter(team_id=team_id, user_id=user.pk).exists()
    )


def home_team(*, tenant: Tenant, user: Any) -> Team | None:
    """The one working team (not management) the user belongs to; None if none or several."""
    teams = list(
        Team.objects.for_tenant(tenant)
        .filter(memberships__user_id=user.pk)
        .exclude(kind=TeamKind.MANAGEMENT)[:2]
    )
    return teams[0] if len(teams) == 1 else None


def is_management_member(*, tenant: Tenant, user: Any) -> bool:
    return bool(
        TeamMember.objects.for_tenant(tenant)
        .filter(team__kind=TeamKind.MANAGEMENT, user_id=user.pk)
        .exists()
    )


def is_tenant_agent(*, tenant: Tenant, user: Any) -> bool:
    """Whether the user works tickets in the tenant (an active staff membership)."""
    if user is None:
        return False
    return bool(
        Membership.objects.for_tenant(tenant)
        .filter(user_id=user.pk, is_active=True, role__in=STAFF_ROLES)
        .exists()
    )


def member_role(*, tenant: Tenant, user: Any) -> str | None:
    """The user's active role in the tenant; platform administrators act as tenant admins."""
    if user is None:
        return None
    if user.is_superuser:
        return MembershipRole.TENANT_ADMIN
    return (
        Membership.objects.for_tenant(tenant)
        .filter(user_id=user.pk, is_active=True)
        .values_list("role", flat=True)
        .first()
    )
