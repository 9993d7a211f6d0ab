"""An audit event in words: who or what made it, and each field with its old and new value.

Shared by the API and the admin, so both show the same thing.
"""

from __future__ import annotations

from typing import Any

from itsm.audit.models import AuditEvent
from itsm.audit.tracking import audited_model, field_name

ACTOR_KEYS = ("user_id", "username", "task", "method", "path", "db_role")


def event_actor(event: AuditEvent) -> dict[str, Any]:
    """`source` (api, web, admin, task, sql) and the other context keys, None where absent."""
    context = event.context or {}
    return {"source": context.get("source", "sql"), **{key: context.get(key) for key in ACTOR_KEYS}}


def event_changes(event: AuditEvent) -> list[dict[str, Any]]:
    """`[{field, old, new}]` by field name (`assignee`, not the column `assignee_id`)."""
    audited = audited_model(event.model)
    return [
        {
            "field": field_name(audited, column) if audited is not None else column,
            "old": old,
            "new": new,
        }
        for column, (old, new) in sorted((event.changes or {}).items())
    ]
