"""Who or what is changing data: the context stored on every audit event.

The context is a small JSON object that pghistory sends to PostgreSQL with each write statement
(a transaction-local setting the audit triggers read), so it is denormalised onto the event rows
of the tenant it concerns; no shared context table holds one tenant's users next to another's.

Keys: `source` (api, web, admin, task; the triggers write `sql` and the database role when there
is no context at all), `user_id` and `username` (or none), `task` (the Celery task's name),
`method` and `path` (of a request).

On SQLite there are no audit triggers, and pghistory's statement prefix is PostgreSQL's: every
function here does nothing there.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pghistory
from django.db import connection

_depth = threading.local()  # pghistory's context is per thread too


def _enabled() -> bool:
    return connection.vendor == "postgresql"


def is_active() -> bool:
    """Whether this thread is inside an `audit_context` (a request, say)."""
    return getattr(_depth, "value", 0) > 0


@contextmanager
def audit_context(**metadata: Any) -> Iterator[None]:
    """Attach `metadata` to every audit event written inside the block.

    Nested blocks add to (and overwrite keys of) the outermost one, which alone ends it.
    """
    if not _enabled():
        yield
        return
    _depth.value = getattr(_depth, "value", 0) + 1
    try:
        with pghistory.context(**metadata):
            yield
    finally:
        _depth.value -= 1


def audit_context_update(**metadata: Any) -> None:
    """Add to the context of the enclosing `audit_context`; nothing outside one."""
    if _enabled():
        pghistory.context(**metadata)


def user_context(user: Any) -> dict[str, Any]:
    """The context keys of an (authenticated or anonymous) user."""
    if user is None or not getattr(user, "is_authenticated", False):
        return {"user_id": None, "username": None}
    return {"user_id": user.pk, "username": user.get_username()}
