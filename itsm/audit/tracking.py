"""The one declaration that puts a model under audit: `@audited()`.

    @audited(exclude=["version"])
    class Incident(NumberedModel): ...

It wraps `pghistory.track` with the project's defaults:

- an event model `<Model>Audit` in the model's own app (pghistory's default name,
  `<Model>Event`, is taken in incidents by the timeline), holding a snapshot of the row, the
  tenant (so row-level security covers it like any tenant table), the label (`insert`, `update`,
  `delete`), the changed fields with their old and new values (`pgh_diff`, computed in the
  trigger from OLD and NEW), and the context (`pgh_context`, denormalised JSON: who, which task,
  which source, which request);
- triggers AFTER INSERT, UPDATE (only when an audited column changed) and DELETE on the model's
  table, so that a bulk `QuerySet.update()`, raw SQL and the shell are recorded like the API;
- append-only: pghistory's protect trigger refuses UPDATE and DELETE on the event table, and
  after every migrate the application role keeps only SELECT and INSERT there (receivers.py).

`updated_at` is never audited (the event has its own time); `exclude` adds fields whose changes
are noise (derived values, version counters). Only PostgreSQL has the triggers: on SQLite the
event tables exist and stay empty.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import pghistory
import pgtrigger
from django.db import models
from pghistory.trigger import Event as PghistoryTrigger

from itsm.audit.models import AuditEventBase

ALWAYS_EXCLUDED = ("updated_at",)
EVENT_MODEL_SUFFIX = "Audit"
TRIGGER_PREFIX = "audit"

# What the database records when no application context is set: raw SQL, psql, a migration.
SQL_CONTEXT = "jsonb_build_object('source', 'sql', 'db_role', current_user::text)"


@dataclass(frozen=True)
class AuditedModel:
    """A model under audit and what the audit engine needs to read its events."""

    model: type[models.Model]
    event_model: type[models.Model]
    # The event table's column holding the tenant: `tenant_id`, or `pgh_obj_id` for the tenant.
    tenant_column: str
    # `INC` for models addressed as INC-000042 (tenancy's NumberedModel), else "".
    number_prefix: str
    number_digits: int

    @property
    def label(self) -> str:
        return self.model._meta.label_lower


_registry: dict[str, AuditedModel] = {}


def audited_models() -> list[AuditedModel]:
    """Every model under audit, in declaration order."""
    return list(_registry.values())


def audited_model(label: str) -> AuditedModel | None:
    """The audited model with this label (`incidents.incident`), if any."""
    return _registry.get(label.lower())


# --- Triggers ----------------------------------------------------------------------------------


def _json_diff(operation: str, columns: Iterable[str]) -> str:
    """SQL for `{column: [old, new]}` over the audited columns that the statement changed."""
    keys = ", ".join(f"'{column}'" for column in columns)
    if operation == "update":
        return (
            "(SELECT jsonb_object_agg(n.key, jsonb_build_array(o.value, n.value)) "  # noqa: S608
            "FROM jsonb_each(to_jsonb(NEW)) AS n JOIN jsonb_each(to_jsonb(OLD)) AS o "
            f"ON o.key = n.key WHERE n.key IN ({keys}) AND n.value IS DISTINCT FROM o.value)"
        )
    row, pair = ("NEW", "NULL, r.value") if operation == "insert" else ("OLD", "r.value, NULL")
    return (
        f"(SELECT jsonb_object_agg(r.key, jsonb_build_array({pair})) "  # noqa: S608
        f"FROM jsonb_each(to_jsonb({row})) AS r "
        f"WHERE r.key IN ({keys}) AND r.value <> 'null'::jsonb)"
    )


class _AuditTrigger(PghistoryTrigger):
    """pghistory's event trigger, plus the diff and the SQL fallback context.

    The row is snapshotted as pghistory does; the difference is what we store besides: the
    changed fields with old and new (so the trail shows them even for rows that existed before
    auditing began), the time of the statement (`clock_timestamp()`, so the events of one long
    transaction keep their order) and, when no application context is set, `source: sql` with
    the database role.
    """

    def get_func(self, model: Any) -> str:
        event_model: Any = self.event_model
        tracked = {field.name for field in event_model.pgh_tracked_model._meta.fields}
        snapshot = [
            field.column
            for field in event_model._meta.concrete_fields
            if field.name in tracked and not field.name.startswith("pgh_")
        ]
        operation = str(self.label)
        row = self.row
        pk_column = event_model.pgh_tracked_model._meta.pk.column
        # Set once and never changed: the snapshot has them, the diff would only repeat them.
        fixed = {pk_column, "tenant_id", "created_at"}
        values = {column: f'{row}."{column}"' for column in snapshot}
        values.update(
            {
                "pgh_created_at": "clock_timestamp()",
                "pgh_label": f"'{operation}'",
                "pgh_obj_id": f'{row}."{pk_column}"',
                "pgh_context_id": (
                    "NULLIF(current_setting('pghistory.context_id', true), '')::uuid"
                ),
                "pgh_context": (
                    "COALESCE(NULLIF(current_setting('pghistory.context_metadata', true), '')"
                    f"::jsonb, {SQL_CONTEXT})"
                ),
                "pgh_diff": _json_diff(
                    operation, [column for column in snapshot if column not in fixed]
                ),
            }
        )
        columns = ", ".join(f'"{column}"' for column in values)
        return (
            f'INSERT INTO "{event_model._meta.db_table}" ({columns}) '  # noqa: S608
            f"VALUES ({', '.join(values.values())}); RETURN NULL;"
        )


class _AuditTracker(pghistory.RowEvent):
    def add_event_trigger(self, event_model: Any) -> None:
        pgtrigger.register(
            _AuditTrigger(  # type: ignore[no-untyped-call]
                event_model=event_model,
                label=self.label,
                name=self.trigger_name,
                row=self.row,
                operation=self.operation,
                condition=self.condition,
                level=self.level,
            )
        )(event_model.pgh_tracked_model)


class AuditInsert(_AuditTracker, pghistory.InsertEvent):
    """Records a created row."""


class AuditUpdate(_AuditTracker, pghistory.UpdateEvent):
    """Records a change of an audited field (pghistory's AnyChange condition)."""


class AuditDelete(_AuditTracker, pghistory.DeleteEvent):
    """Records a deleted row."""


# --- The declaration ---------------------------------------------------------------------------


def _index_name(label: str, suffix: str) -> str:
    # Index names are global and at most 30 characters.
    return f"audit_{hashlib.sha256(label.encode()).hexdigest()[:10]}_{suffix}"


def audited[M: models.Model](
    *, exclude: Iterable[str] = (), tenant_column: str = "tenant_id"
) -> Callable[[type[M]], type[M]]:
    """Put a model under audit: every insert, update and delete is recorded by the database.

    `tenant_column` is the event table's column that says whose event it is: the tenant's own
    `tenant_id`, or `pgh_obj_id` for the tenant model itself.
    """
    excluded = [*ALWAYS_EXCLUDED, *exclude]

    def declare(model: type[M]) -> type[M]:
        label = model._meta.label_lower
        by_tenant = "tenant" if tenant_column == "tenant_id" else "pgh_obj"
        indexes = [
            # The per-record history: one object's events, newest first.
            models.Index(fields=["pgh_obj", "-pgh_created_at"], name=_index_name(label, "obj")),
        ]
        if by_tenant == "tenant":
            # The tenant's trail, newest first (keyset pagination).
            indexes.append(
                models.Index(
                    fields=["tenant", "-pgh_created_at"], name=_index_name(label, "tenant")
                )
            )
        event_model_name = f"{model.__name__}{EVENT_MODEL_SUFFIX}"
        pghistory.track(
            AuditInsert(trigger_name=f"{TRIGGER_PREFIX}_insert"),
            AuditUpdate(trigger_name=f"{TRIGGER_PREFIX}_update"),
            AuditDelete(trigger_name=f"{TRIGGER_PREFIX}_delete"),
            exclude=[name for name in excluded if _has_field(model, name)],
            model_name=event_model_name,
            base_model=AuditEventBase,
            obj_field=pghistory.ObjForeignKey(related_name="audit_events", db_index=False),
            context_field=pghistory.ContextJSONField(),
            context_id_field=pghistory.ContextUUIDField(),
            append_only=True,
            meta={
                "indexes": indexes,
                "verbose_name": f"{model._meta.verbose_name} audit event",
            },
        )(model)
        event_model = model.pgh_event_models["insert"]  # type: ignore[attr-defined]
        _registry[label] = AuditedModel(
            model=model,
            event_model=event_model,
            tenant_column=tenant_column,
            number_prefix=str(getattr(model, "NUMBER_PREFIX", "")),
            number_digits=int(getattr(model, "NUMBER_DIGITS", 0)),
        )
        return model

    return declare


def _has_field(model: type[models.Model], name: str) -> bool:
    return any(field.name == name for field in model._meta.local_fields)


def field_name(audited: AuditedModel, column: str) -> str:
    """The model field behind an event column (`assignee_id` -> `assignee`)."""
    for field in audited.model._meta.concrete_fields:
        if field.column == column:
            return field.name
    return column
