"""Reads of tenants, memberships and teams, and the role questions every app asks."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import cache
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.contrib.postgres.expressions import ArraySubquery
from django.db import DEFAULT_DB_ALIAS, connection
from django.db.models import OuterRef, QuerySet

from itsm.prepared import execute_prepared
from itsm.tenancy import rls
from itsm.tenancy.choices import STAFF_ROLES, MembershipRole, TeamKind
from itsm.tenancy.config import tenant_rows
from itsm.tenancy.models import Membership, Team, TeamMember, Tenant


def tenant_membership_resolve(
    *, user: AbstractBaseUser | AnonymousUser, tenant_slug: str
) -> Membership | None:
    """The user's active membership in the active tenant `tenant_slug`, with RLS set for it.

    Must run inside `rls.scope()`. None when the tenant does not exist, is inactive, or the
    user is not an active member: callers answer all three alike (404), so a tenant's
    existence never leaks. On PostgreSQL it is one round trip: `itsm_enter_tenant` (migration
    tenancy 0003) finds the tenant, sets the transaction's settings and reads the membership.
    """
    if not user.is_authenticated:
        return None
    if rls.is_enforced():
        # Entered already by the statement that authenticated the request (in this transaction:
        # the RLS context it set is still the current one)?
        slug, context, membership = getattr(user, _ENTERED, (None, None, None))
        if membership is not None and slug == tenant_slug and context == rls.current():
            entered: Membership = membership
            return entered
        return _enter_tenant(user, tenant_slug)
    tenant = Tenant.objects.filter(slug=tenant_slug, is_active=True).first()
    if tenant is None:
        return None
    membership = (
        Membership.objects.for_tenant(tenant).filter(user_id=user.pk, is_active=True).first()
    )
    if membership is not None:
        membership.tenant = tenant  # already loaded: spare the query
        _remember(user, membership)
    return membership


# The membership's columns from the function, the tenant's after them, and the member's teams
# (read after the function has set row-level security for the tenant).
_TENANT_FIELDS = ["id", "name", "slug", "is_active", "created_at", "config_version"]
_MEMBERSHIP_FIELDS = [field.attname for field in Membership._meta.concrete_fields]


@cache
def tenant_entry_sql(user_id: str = "%s") -> str:
    """The statement that enters the tenant whose slug is its parameter, as the user `user_id`:
    a placeholder, or a column of a statement it is read beside (the API token's read, which
    saves the request a round trip). Its row goes to `tenant_entered`."""
    membership = ", ".join(f"m.{field.column}" for field in Membership._meta.concrete_fields)
    tenant = ", ".join(f"t.{name} AS tenant_{name}" for name in _TENANT_FIELDS)
    # Only the models' own column names and our own expression are interpolated.
    return (
        f"SELECT {membership}, {tenant}, "  # noqa: S608
        "ARRAY(SELECT tm.team_id FROM tenancy_teammember AS tm "
        "WHERE tm.tenant_id = m.tenant_id AND tm.user_id = m.user_id) AS team_ids "
        f"FROM itsm_enter_tenant(%s, {user_id}) AS m "
        "JOIN tenancy_tenant AS t ON t.id = m.tenant_id"
    )


def tenant_entered(user: Any, tenant_slug: str, row: Sequence[Any] | None) -> Membership | None:
    """The membership the entry statement read (None for no row, or a row of NULLs from an
    outer join), with the row-level security it set recorded; `tenant_membership_resolve`
    then answers for the slug without a query of its own."""
    if row is None or row[0] is None:
        rls.assume(rls.NO_ACCESS)
        membership = None
    else:
        # Rows of the default database (a test may put another connection behind the alias).
        fields = len(_MEMBERSHIP_FIELDS)
        membership = Membership.from_db(DEFAULT_DB_ALIAS, _MEMBERSHIP_FIELDS, row[:fields])
        tenant_values = row[fields : fields + len(_TENANT_FIELDS)]
        membership.tenant = Tenant.from_db(DEFAULT_DB_ALIAS, _TENANT_FIELDS, tenant_values)
        rls.assume(rls.RlsContext(tenant_id=membership.tenant_id, user_id=user.pk))
        _remember(user, membership, row[-1])
    setattr(user, _ENTERED, (tenant_slug, rls.current(), membership))
    return membership


def _enter_tenant(user: Any, tenant_slug: str) -> Membership | None:
    # A cursor, not `raw()`: a RawQuerySet works out its columns' mapping anew on every call.
    with connection.cursor() as cursor:
        execute_prepared(cursor, tenant_entry_sql(), [tenant_slug, user.pk])
        row = cursor.fetchone()
    return tenant_entered(user, tenant_slug, row)


def member_by_username(*, tenant: Tenant, username: str) -> Any | None:
    """The active member `username` of the tenant (a user a request names), or None; read with
    their role and, on PostgreSQL, their teams, in one query, so that the role questions asked
    of them after (`member_role`, `is_team_member`) need none."""
    memberships: QuerySet[Membership] = (
        Membership.objects.for_tenant(tenant)
        .filter(is_active=True, user__username=username)
        .select_related("user")
        .order_by()
    )
    if connection.vendor == "postgresql":
        teams = TeamMember.objects.filter(
            tenant_id=OuterRef("tenant_id"), user_id=OuterRef("user_id")
        ).values("team_id")
        memberships = memberships.annotate(team_ids=ArraySubquery(teams.order_by()))
    membership = next(iter(memberships[:1]), None)
    if membership is None:
        return None
    membership.tenant = tenant
    user = membership.user
    _remember(user, membership, getattr(membership, "team_ids", None))
    return user


# The membership a request resolved for a user it works with (its own user's, or a member its
# input names), kept on the user object (which lives as long as the request) so that services
# asking that user's role in that tenant need no query of their own; likewise their teams.
_MEMBERSHIP_OF_REQUEST = "_itsm_request_membership"
# The tenant the request entered: (slug, the RLS context set, the membership or None).
_ENTERED = "_itsm_request_entered"
_TEAMS_OF_REQUEST = "_itsm_request_teams"


def _remember(user: Any, membership: Membership, team_ids: Iterable[int] | None = None) -> None:
    setattr(user, _MEMBERSHIP_OF_REQUEST, membership)
    if team_ids is not None:
        setattr(user, _TEAMS_OF_REQUEST, (membership.tenant_id, frozenset(team_ids)))


def _known_teams(tenant: Tenant, user: Any) -> frozenset[int] | None:
    """The ids of the user's teams in the tenant, if the request read them; else None."""
    known = getattr(user, _TEAMS_OF_REQUEST, None)
    return known[1] if known is not None and known[0] == tenant.pk else None


def _known_role(tenant: Tenant, user: Any) -> tuple[bool, str | None]:
    """(known, the active role) from the membership the request read for this tenant."""
    membership = getattr(user, _MEMBERSHIP_OF_REQUEST, None)
    if membership is None or membership.tenant_id != tenant.pk:
        return False, None
    return True, membership.role if membership.is_active else None


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


def management_teams(*, tenant: Tenant) -> list[Team]:
    """Teams of kind management: hierarchical escalation and major incidents engage them.
    From the tenant's cached configuration."""
    return tenant_rows(tenant, Team).where(kind=TeamKind.MANAGEMENT)


def is_team_member(*, tenant: Tenant, team_id: int | None, user: Any) -> bool:
    if team_id is None:
        return False
    known = _known_teams(tenant, user)
    if known is not None:
        return team_id in known
    return bool(
        TeamMember.objects.for_tenant(tenant).filter(team_id=team_id, user_id=user.pk).exists()
    )


def home_team(*, tenant: Tenant, user: Any) -> Team | None:
    """The one working team (not management) the user belongs to; None if none or several."""
    known = _known_teams(tenant, user)
    if known is not None:
        rows = tenant_rows(tenant, Team)
        found = [team for pk in known if (team := rows.get(pk)) is not None]
        teams = [team for team in found if team.kind != TeamKind.MANAGEMENT]
    else:
        teams = list(
            Team.objects.for_tenant(tenant)
            .filter(memberships__user_id=user.pk)
            .exclude(kind=TeamKind.MANAGEMENT)[:2]
        )
    return teams[0] if len(teams) == 1 else None


def is_management_member(*, tenant: Tenant, user: Any) -> bool:
    known = _known_teams(tenant, user)
    if known is not None:
        return any(team.pk in known for team in management_teams(tenant=tenant))
    return bool(
        TeamMember.objects.for_tenant(tenant)
        .filter(team__kind=TeamKind.MANAGEMENT, user_id=user.pk)
        .exists()
    )


def is_tenant_agent(*, tenant: Tenant, user: Any) -> bool:
    """Whether the user works tickets in the tenant (an active staff membership)."""
    if user is None:
        return False
    known, role = _known_role(tenant, user)
    if known:
        return role in STAFF_ROLES
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
    known, role = _known_role(tenant, user)
    if known:
        return role
    return (
        Membership.objects.for_tenant(tenant)
        .filter(user_id=user.pk, is_active=True)
        .values_list("role", flat=True)
        .first()
    )
