"""Framework glue: the schema after migrate, and the audit context of Celery tasks."""

from __future__ import annotations

from contextlib import ExitStack
from typing import Any

from celery import signals
from django.db import connections

from itsm.audit import schema
from itsm.audit.context import audit_context, is_active

# The open context of each running task, by task id (prerun and postrun are separate calls).
_task_contexts: dict[str, ExitStack] = {}


def before_migrate(using: str = "default", plan: Any = None, **kwargs: Any) -> None:
    """Drop the feed view so that migrations may drop or alter the event tables under it."""
    if plan is None:
        return
    schema.drop_view(connections[using])


def after_migrate(using: str = "default", plan: Any = None, **kwargs: Any) -> None:
    """Rebuild the feed view and take UPDATE and DELETE on the trail from the application role.

    Runs after tenancy's receiver (which grants the application role every row privilege),
    because this app comes after tenancy in INSTALLED_APPS. `flush` sends no plan: nothing to do.
    """
    if plan is None:
        return
    connection = connections[using]
    schema.create_view(connection)
    schema.restrict_app_role(connection)


def _task_started(task_id: str | None = None, task: Any = None, **kwargs: Any) -> None:
    if task_id is None or task is None or is_active():
        # A task run eagerly inside a request is part of that request's change.
        return
    stack = ExitStack()
    stack.enter_context(audit_context(source="task", task=task.name, user_id=None, username=None))
    _task_contexts[task_id] = stack


def _task_finished(task_id: str | None = None, **kwargs: Any) -> None:
    stack = _task_contexts.pop(task_id or "", None)
    if stack is not None:
        stack.close()


def connect_task_context() -> None:
    """Every Celery task's writes are recorded with `source: task` and the task's name."""
    signals.task_prerun.connect(_task_started, weak=False, dispatch_uid="audit_task_started")
    signals.task_postrun.connect(_task_finished, weak=False, dispatch_uid="audit_task_finished")
