"""Every write to tenants, memberships, teams and counters."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import partial
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import connection, models, transaction
from django.db.models import Func, Value

from itsm.services import object_delete, object_update, tenant_object_create
from itsm.tenancy.models import Membership, Team, TeamMember, Tenant, TenantCounter
from itsm.tenancy.tasks import send_membership_welcome_task


def next_number(*, tenant: Tenant, key: str) -> int | Func:
    """The number of a record about to be inserted (`save()` next), as `allocate_number` gives
    it. On PostgreSQL it is an expression the INSERT evaluates (`itsm_next_number`, migration
    tenancy 0006): one statement writes the record and takes its number, and `save()` reads the
    number back (RETURNING). Elsewhere it is allocated now.
    """
    if connection.vendor != "postgresql":
        return allocate_number(tenant=tenant, key=key)
    return Func(
        Value(tenant.pk),
        Value(key),
        function="itsm_next_number",
        output_field=models.PositiveBigIntegerField(),
    )


def allocate_number(*, tenant: Tenant, key: str) -> int:
    """The next human number of `key` in the tenant: distinct and gapless under concurrency.

    One upsert: the row lock it takes serialises concurrent callers until their transactions
    end, and a rolled-back transaction gives its number back. On PostgreSQL it is the upsert of
    `itsm_next_number`, the one `next_number`'s INSERTs take their numbers with; elsewhere the
    same upsert is sent as it stands.
    """
    # One statement: a savepoint around it would add two round trips and protect nothing.
    with transaction.atomic(savepoint=False), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT itsm_next_number(%s, %s)", [tenant.pk, key])
        else:
            table = connection.ops.quote_name(TenantCounter._meta.db_table)
            # The only interpolation is our own quoted table name.
            cursor.execute(
                f"INSERT INTO {table} (tenant_id, key, last_value, created_at, updated_at) "  # noqa: S608
                "VALUES (%s, %s, 1, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP) "
                "ON CONFLICT (tenant_id, key) DO UPDATE "
                f"SET last_value = {table}.last_value + 1, updated_at = CURRENT_TIMESTAMP "
                "RETURNING last_value",
                [tenant.pk, key],
            )
        row = cursor.fetchone()
    assert row is not None
    return int(row[0])


@transaction.atomic
def allocate_numbers(*, tenant: Tenant, key: str, count: int) -> range:
    """`count` consecutive numbers of `key` in one step, for records written in bulk (demo and
    benchmark data): the counter moves on by `count` under its row lock."""
    counter, _ = TenantCounter.objects.select_for_update().get_or_create(tenant=tenant, key=key)
    first = counter.last_value + 1
    counter.last_value += count
    counter.save(update_fields=["last_value", "updated_at"])
    return range(first, first + count)


@transaction.atomic
def tenant_create(*, name: str, slug: str) -> Tenant:
    """Create a tenant. Tenants are global rows: only platform administration creates them."""
    tenant = Tenant(name=name, slug=slug)
    tenant.full_clean()
    tenant.save()
    return tenant


@transaction.atomic
def membership_create(
    *, tenant: Tenant, user: AbstractBaseUser, role: str, notify: bool = True
) -> Membership:
    """Give a user a role in the tenant and tell them by e-mail after commit."""
    membership = tenant_object_create(Membership, tenant=tenant, data={"user": user, "role": role})
    if notify:
        transaction.on_commit(
            partial(
                send_membership_welcome_task.delay,
                tenant_id=tenant.pk,
                membership_id=membership.pk,
            )
        )
    return membership


@transaction.atomic
def tenant_update(*, tenant: Tenant, data: Mapping[str, Any]) -> Tenant:
    """Rename or (de)activate a tenant; an inactive tenant answers 404 everywhere."""
    object_update(tenant, data=data)
    return tenant


@transaction.atomic
def membership_update(*, membership: Membership, data: Mapping[str, Any]) -> Membership:
    """Change a membership's role or deactivate it."""
    object_update(membership, data=data)
    return membership


@transaction.atomic
def membership_delete(*, membership: Membership) -> None:
    """Remove a user from the tenant, and from the tenant's teams."""
    TeamMember.objects.for_tenant(membership.tenant_id).filter(user_id=membership.user_id).delete()
    membership.delete()


@transaction.atomic
def team_create(
    *, tenant: Tenant, data: Mapping[str, Any], members: Iterable[AbstractBaseUser] = ()
) -> Team:
    """Create a team and, optionally, its members."""
    team = tenant_object_create(Team, tenant=tenant, data=data)
    team_set_members(team=team, members=members)
    return team


@transaction.atomic
def team_update(
    *, team: Team, data: Mapping[str, Any], members: Iterable[AbstractBaseUser] | None = None
) -> Team:
    """Change a team's fields and, if given, replace its members."""
    object_update(team, data=data)
    if members is not None:
        team_set_members(team=team, members=members)
    return team


def team_set_members(*, team: Team, members: Iterable[AbstractBaseUser]) -> None:
    """Make the team's members exactly `members`; each must be a member of the tenant."""
    wanted = {user.pk: user for user in members}
    current = set(
        TeamMember.objects.for_tenant(team.tenant_id)
        .filter(team=team)
        .values_list("user_id", flat=True)
    )
    TeamMember.objects.for_tenant(team.tenant_id).filter(team=team).exclude(
        user_id__in=wanted
    ).delete()
    for user_id, user in wanted.items():
        if user_id not in current:
            tenant_object_create(TeamMember, tenant=team.tenant, data={"team": team, "user": user})


@transaction.atomic
def team_delete(*, team: Team) -> None:
    """Delete a team that nothing refers to (a ConflictError otherwise)."""
    object_delete(team)
