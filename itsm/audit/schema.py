"""What the audit engine keeps in step with the models after every migrate (PostgreSQL first).

- The `audit_event` view: one branch per audited model, so a model that joins the audit is in
  the feed after its migration without anyone editing SQL. It is dropped before migrations run
  (a view would stop a migration from dropping or altering an event table) and made again after.
- The application role keeps only SELECT and INSERT on the event tables: tenancy grants it
  UPDATE and DELETE on every table after migrate, and this runs after that.
"""

from __future__ import annotations

from django.conf import settings
from django.db.backends.base.base import BaseDatabaseWrapper

from itsm.audit.models import AuditEvent
from itsm.audit.tracking import AuditedModel, audited_models

VIEW = AuditEvent._meta.db_table


def _is_postgres(connection: BaseDatabaseWrapper) -> bool:
    return connection.vendor == "postgresql"


def _reference_sql(audited: AuditedModel, connection: BaseDatabaseWrapper) -> str:
    if not audited.number_prefix:
        return "CAST(NULL AS text)"
    prefix, digits = audited.number_prefix, audited.number_digits
    if _is_postgres(connection):
        return f"'{prefix}-' || lpad(e.\"number\"::text, {digits}, '0')"
    return f"'{prefix}-' || printf('%0{digits}d', e.\"number\")"


def _branch(audited: AuditedModel, connection: BaseDatabaseWrapper) -> str:
    qn = connection.ops.quote_name
    return (
        # Names from model metadata, never from input.
        f"SELECT '{audited.label}:' || e.pgh_id AS id, "  # noqa: S608
        f"e.{qn(audited.tenant_column)} AS event_tenant_id, "
        f"'{audited.label}' AS model, e.pgh_obj_id AS object_id, "
        f"{_reference_sql(audited, connection)} AS object_ref, e.pgh_label AS action, "
        "e.pgh_created_at AS created_at, e.pgh_diff AS changes, e.pgh_context AS context "
        f"FROM {qn(audited.event_model._meta.db_table)} AS e"
    )


def view_sql(connection: BaseDatabaseWrapper) -> str:
    """CREATE VIEW for the feed over every audited model's event table."""
    branches = [_branch(audited, connection) for audited in audited_models()]
    options = " WITH (security_invoker = true)" if _is_postgres(connection) else ""
    return f"CREATE VIEW {connection.ops.quote_name(VIEW)}{options} AS " + " UNION ALL ".join(
        branches
    )


def drop_view(connection: BaseDatabaseWrapper) -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"DROP VIEW IF EXISTS {connection.ops.quote_name(VIEW)}")


def create_view(connection: BaseDatabaseWrapper) -> None:
    drop_view(connection)
    if not audited_models():
        return
    with connection.cursor() as cursor:
        cursor.execute(view_sql(connection))


def restrict_app_role(connection: BaseDatabaseWrapper) -> None:
    """The application role may read the trail and (through the triggers) add to it; no more."""
    role = settings.DATABASE_APP_ROLE
    if not role or not _is_postgres(connection):
        return
    qn = connection.ops.quote_name
    with connection.cursor() as cursor:
        for audited in audited_models():
            table = qn(audited.event_model._meta.db_table)
            cursor.execute(f"REVOKE UPDATE, DELETE, TRUNCATE ON {table} FROM {qn(role)}")
            cursor.execute(f"GRANT SELECT, INSERT ON {table} TO {qn(role)}")
        cursor.execute(f"GRANT SELECT ON {qn(VIEW)} TO {qn(role)}")
