"""Row-level security: the second tenancy wall, on PostgreSQL.

Every table with a `tenant_id` column has ENABLE and FORCE ROW LEVEL SECURITY and one policy,
`tenant_isolation`, whose USING and WITH CHECK compare the row's tenant with the transaction
setting `app.tenant_id`. Requests and tasks set it with `set_config(..., true)` inside their own
transaction, so it can never outlive the transaction or leak to the next user of a pooled
connection. With no tenant set a query sees no rows.

Two deliberate openings:
- the platform scope: `app.platform = 'on'` **and** a login that is a member of the platform
  role (DATABASE_PLATFORM_URL). Django admin for platform administrators, the timer sweep and
  the schema owner's maintenance commands see every tenant. The application's own role is no
  member, so even arbitrary SQL on its connection (an injection, say) cannot open it: the
  setting alone does nothing. Platform work therefore runs on its own connection, alias
  "platform"; `platform_scope()` routes the default alias to it for the duration, so services
  written against the default alias (atomic blocks, on_commit, select_for_update) run there.
- `app.user_id`: a user sees their own memberships in every tenant (to list them and to resolve
  the tenant of a request before the tenant is known).

Policies are kept in step with the models after every `migrate` (see `sync_policies`), so a new
tenant table is covered without anyone remembering to add its policy; the RLS catalogue test
fails if any tenant table is not.

On SQLite there is no second wall: every function here is a no-op there.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.db.backends.base.base import BaseDatabaseWrapper

if TYPE_CHECKING:
    from django.db.models import Model

TENANT_SETTING = "app.tenant_id"
USER_SETTING = "app.user_id"
PLATFORM_SETTING = "app.platform"
POLICY_NAME = "tenant_isolation"
PLATFORM_DB_ALIAS = "platform"


@dataclass(frozen=True)
class RlsContext:
    """What the current transaction may see."""

    tenant_id: int | None = None
    user_id: int | None = None
    platform: bool = False


NO_ACCESS = RlsContext()

# Mirrors what this thread's transaction has set, so a nested scope can restore it cheaply.
_current: ContextVar[RlsContext] = ContextVar("rls_context", default=NO_ACCESS)


def _is_postgres(connection: BaseDatabaseWrapper) -> bool:
    return connection.vendor == "postgresql"


def _apply(connection: BaseDatabaseWrapper, context: RlsContext) -> None:
    if not _is_postgres(connection):
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT set_config(%s, %s, true), set_config(%s, %s, true), set_config(%s, %s, true)",
            [
                TENANT_SETTING,
                "" if context.tenant_id is None else str(context.tenant_id),
                USER_SETTING,
                "" if context.user_id is None else str(context.user_id),
                PLATFORM_SETTING,
                "on" if context.platform else "",
            ],
        )


def current() -> RlsContext:
    """The RLS context of this thread's current transaction."""
    return _current.get()


@contextmanager
def scope(using: str = DEFAULT_DB_ALIAS) -> Iterator[None]:
    """A transaction (or savepoint) in which `activate` may be called.

    On leaving, the settings go back to what they were: at the outermost level the end of the
    transaction does it; nested (inside a test's transaction, say) we restore them, and on an
    exception the savepoint's rollback does.
    """
    connection = connections[using]
    nested = connection.in_atomic_block
    outer = _current.get()
    # A transaction of its own starts with nothing set, whatever another connection's has (a
    # report's transaction on the read replica inside a request's, say).
    token = _current.set(outer if nested else NO_ACCESS)
    try:
        with transaction.atomic(using=using):
            yield
            # After an error the savepoint's rollback restores the settings by itself.
            if nested and _current.get() != outer and not connection.needs_rollback:
                _apply(connection, outer)
    finally:
        _current.reset(token)


def activate(context: RlsContext, using: str = DEFAULT_DB_ALIAS) -> None:
    """Set what the current transaction may see. Only valid inside `scope()`."""
    connection = connections[using]
    if not connection.in_atomic_block:
        raise RuntimeError("rls.activate() needs a transaction: call it inside rls.scope().")
    if _current.get() != context:
        _apply(connection, context)
        _current.set(context)


def assume(context: RlsContext, using: str = DEFAULT_DB_ALIAS) -> None:
    """Record that SQL of our own (`itsm_enter_tenant`) has just set the transaction's settings
    to `context`, so scopes restore and compare them as if `activate` had."""
    if not connections[using].in_atomic_block:
        raise RuntimeError("rls.assume() needs a transaction: call it inside rls.scope().")
    _current.set(context)


def is_enforced(using: str = DEFAULT_DB_ALIAS) -> bool:
    """Whether the database has policies to set (PostgreSQL) or none (SQLite)."""
    return _is_postgres(connections[using])


@contextmanager
def tenant_scope(
    tenant_id: int, *, user_id: int | None = None, using: str = DEFAULT_DB_ALIAS
) -> Iterator[None]:
    """A transaction that sees one tenant's rows (and the user's own memberships)."""
    with scope(using):
        activate(RlsContext(tenant_id=tenant_id, user_id=user_id), using)
        yield


@contextmanager
def user_scope(user_id: int, using: str = DEFAULT_DB_ALIAS) -> Iterator[None]:
    """A transaction that sees only the user's own memberships, in every tenant."""
    with scope(using):
        activate(RlsContext(user_id=user_id), using)
        yield


@contextmanager
def platform_scope() -> Iterator[None]:
    """A transaction that sees every tenant: platform administration only.

    On PostgreSQL it runs on the platform role's connection, which the default alias points at
    until the scope ends. It must be a transaction of its own: one already open on the
    application's connection could not be seen from the platform's.
    """
    with _on_platform_connection(), scope():
        activate(RlsContext(platform=True))
        yield


@contextmanager
def _on_platform_connection() -> Iterator[None]:
    if PLATFORM_DB_ALIAS not in connections.settings:  # SQLite: one connection, no policies
        yield
        return
    app, platform = connections[DEFAULT_DB_ALIAS], connections[PLATFORM_DB_ALIAS]
    if app is platform:  # already routed: a platform scope inside another
        yield
        return
    if app.in_atomic_block:
        raise RuntimeError(
            "rls.platform_scope() opened inside a transaction of the application's connection: "
            "it runs on the platform connection, which cannot see that transaction's rows."
        )
    # The platform connection's settings are transaction-local: outside a transaction it has
    # none, whatever this thread's application connection has.
    mirrored = _current.set(NO_ACCESS)
    # Execute wrappers installed on the application's connection (the audit trail's context:
    # who, from where) apply to the statements run here too; one list, so a wrapper added or
    # removed inside the scope is added or removed once.
    own_wrappers, platform.execute_wrappers = platform.execute_wrappers, app.execute_wrappers
    connections[DEFAULT_DB_ALIAS] = platform
    try:
        yield
    finally:
        connections[DEFAULT_DB_ALIAS] = app
        platform.execute_wrappers = own_wrappers
        _current.reset(mirrored)


def platform_connection() -> BaseDatabaseWrapper:
    """The connection platform work runs on (the default one where there is no platform role)."""
    alias = PLATFORM_DB_ALIAS if PLATFORM_DB_ALIAS in connections.settings else DEFAULT_DB_ALIAS
    return connections[alias]


# --- Schema owner ------------------------------------------------------------------------------


@contextmanager
def owner_connection(using: str = DEFAULT_DB_ALIAS) -> Iterator[None]:
    """Reconnect as the schema owner (DATABASE_OWNER_URL) with the platform scope on.

    For schema maintenance (migrate, flush). The owner is not a superuser and FORCE ROW LEVEL
    SECURITY applies to it too, so the platform setting is set for this session only.
    """
    connection = connections[using]
    credentials = settings.DATABASE_OWNER_CREDENTIALS
    saved = {key: connection.settings_dict.get(key) for key in credentials}
    connection.close()
    connection.settings_dict.update(credentials)
    try:
        if _is_postgres(connection):
            with connection.cursor() as cursor:
                cursor.execute("SELECT set_config(%s, 'on', false)", [PLATFORM_SETTING])
        yield
    finally:
        connection.close()
        connection.settings_dict.update(saved)


# --- Policies ----------------------------------------------------------------------------------


def _setting_as_bigint(name: str) -> str:
    # current_setting() gives '' (not NULL) once a transaction-local value has been reset.
    return f"NULLIF(current_setting('{name}', true), '')::bigint"


def policy_expressions(model: type[Model]) -> tuple[str, str]:
    """The USING and WITH CHECK expressions of a tenant table's policy.

    The comparison is wrapped in COALESCE(…, false) for the planner's sake: a plain
    `tenant_id = <setting>` is estimated as selective as the application's own `tenant_id = 42`
    and the two estimates multiply, so a tenant's rows look a hundred times fewer than they are
    and list queries sort the whole tenant instead of walking an index (measured: 236 rows
    expected, 10,000 found). COALESCE hides it from the estimate; the result is the same
    (unset setting: NULL, so false).
    """
    own_tenant = f"COALESCE(tenant_id = {_setting_as_bigint(TENANT_SETTING)}, false)"
    platform = f"current_setting('{PLATFORM_SETTING}', true) = 'on'"
    if settings.DATABASE_PLATFORM_ROLE:
        # The setting opens nothing unless this login is a member of the platform role. A
        # subquery, so it is evaluated once per statement rather than once per row.
        role = settings.DATABASE_PLATFORM_ROLE.replace("'", "''")
        platform = f"(SELECT {platform} AND pg_has_role('{role}', 'MEMBER'))"
    check = f"({own_tenant} OR {platform})"
    user_column = getattr(model, "rls_visible_to_user_column", None)
    using = check
    if user_column:
        using = (
            f"({own_tenant} OR {platform} OR {user_column} = {_setting_as_bigint(USER_SETTING)})"
        )
    return using, check


def tenant_models() -> list[type[Model]]:
    """Concrete models whose table carries a tenant column."""
    from django.apps import apps

    return [
        model
        for model in apps.get_models()
        if not model._meta.proxy
        and any(field.column == "tenant_id" for field in model._meta.local_concrete_fields)
    ]


def sync_policies(connection: BaseDatabaseWrapper) -> None:
    """Give every tenant table ENABLE + FORCE RLS and its current policy. Idempotent."""
    if not _is_postgres(connection):
        return
    qn = connection.ops.quote_name
    with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
        for model in tenant_models():
            table = qn(model._meta.db_table)
            using, check = policy_expressions(model)
            cursor.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
            cursor.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
            cursor.execute(f"DROP POLICY IF EXISTS {POLICY_NAME} ON {table}")
            cursor.execute(
                f"CREATE POLICY {POLICY_NAME} ON {table} USING {using} WITH CHECK {check}"
            )


LINK_GUARD_PREFIX = "itsm_link_"


def tenant_links() -> list[tuple[type[Model], str, type[Model]]]:
    """(model, column, referenced model) of every foreign key between two tenant tables."""
    tenant_tables = set(tenant_models())
    return [
        (model, str(field.column), field.related_model)
        for model in tenant_models()
        for field in model._meta.local_concrete_fields
        if field.is_relation
        and field.column != "tenant_id"
        and getattr(field, "db_constraint", False)
        and field.related_model in tenant_tables
    ]


def sync_link_guards(connection: BaseDatabaseWrapper) -> None:
    """Triggers that refuse a row pointing at another tenant's row, through any foreign key
    between tenant tables. Idempotent; guards of links that no longer exist are dropped.

    Foreign-key checks ignore row-level security, so without this a row of tenant A could name
    a team of tenant B from raw SQL. The guard's lookups run under the caller's policies: in a
    tenant's scope another tenant's row is not even visible, so it cannot be linked. It runs
    after the row is written, as a foreign key's check does, so that one statement may write a
    row and the rows linked to it (itsm/bulk.py); the statement fails all the same.

    One function per table checks all of a row's links. Its triggers' WHEN conditions, which
    PostgreSQL evaluates without calling it, skip rows with no link set (on INSERT) and updates
    that change no link and not the tenant: each call of a PL/pgSQL trigger costs more than its
    lookup, and an incident's create would otherwise call eleven.
    """
    if not _is_postgres(connection):
        return
    qn = connection.ops.quote_name
    pattern = LINK_GUARD_PREFIX + "%"
    with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
        cursor.execute(
            "SELECT t.tgname, c.relname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
            "WHERE t.tgname LIKE %s",
            [pattern],
        )
        for name, table in cursor.fetchall():
            cursor.execute(f"DROP TRIGGER {qn(name)} ON {qn(table)}")
        cursor.execute("SELECT proname FROM pg_proc WHERE proname LIKE %s", [pattern])
        for (name,) in cursor.fetchall():
            cursor.execute(f"DROP FUNCTION IF EXISTS {qn(name)}()")
        links: dict[str, list[tuple[str, type[Model]]]] = {}
        for model, column, parent in tenant_links():
            links.setdefault(model._meta.db_table, []).append((column, parent))
        for table, table_links in links.items():
            function = _guard_name(table)
            # Names come from the models (never from input) and are quoted.
            checks = " ".join(
                f"IF NEW.{qn(column)} IS NOT NULL AND NOT EXISTS (SELECT 1 FROM "  # noqa: S608
                f"{qn(parent._meta.db_table)} p WHERE p.{qn(str(parent._meta.pk.column))} = "
                f"NEW.{qn(column)} AND p.tenant_id = NEW.tenant_id) THEN RAISE EXCEPTION "
                f"'{table}.{column} names a row of another tenant' USING ERRCODE = '23503'; "
                "END IF;"
                for column, parent in table_links
            )
            cursor.execute(
                f"CREATE FUNCTION {qn(function)}() RETURNS trigger LANGUAGE plpgsql AS $$ "
                f"BEGIN {checks} RETURN NEW; END $$"
            )
            columns = [qn(column) for column, _parent in table_links]
            any_set = " OR ".join(f"NEW.{column} IS NOT NULL" for column in columns)
            changed = " OR ".join(
                f"NEW.{column} IS DISTINCT FROM OLD.{column}" for column in [*columns, "tenant_id"]
            )
            cursor.execute(
                f"CREATE TRIGGER {qn(_guard_name(table, 'insert'))} AFTER INSERT ON {qn(table)} "
                f"FOR EACH ROW WHEN ({any_set}) EXECUTE FUNCTION {qn(function)}()"
            )
            cursor.execute(
                f"CREATE TRIGGER {qn(_guard_name(table, 'update'))} AFTER UPDATE OF "
                f"{', '.join(columns)}, tenant_id ON {qn(table)} "
                f"FOR EACH ROW WHEN ({changed}) EXECUTE FUNCTION {qn(function)}()"
            )


def _guard_name(table: str, suffix: str = "") -> str:
    name = f"{LINK_GUARD_PREFIX}{table}" + (f"_{suffix}" if suffix else "")
    if len(name) <= 63:  # PostgreSQL's identifier limit
        return name
    digest = hashlib.sha1(name.encode(), usedforsecurity=False).hexdigest()[:8]
    return f"{name[:54]}_{digest}"


def grant_app_role(connection: BaseDatabaseWrapper) -> None:
    """Let the application role read and write rows, and nothing more (it owns no table)."""
    role = settings.DATABASE_APP_ROLE
    if not role or not _is_postgres(connection):
        return
    role = connection.ops.quote_name(role)
    with connection.cursor() as cursor:
        cursor.execute(
            f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role}"
        )
        cursor.execute(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {role}")
