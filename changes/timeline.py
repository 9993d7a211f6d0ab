"""The one writer of change timelines: services and the schedule timer record through here."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from changes.choices import ChangeEventKind
from changes.models import Change, ChangeEvent
from itsm.timeline import timeline_write


def event(
    change: Change,
    kind: ChangeEventKind,
    actor: Any,
    *,
    from_status: str = "",
    to_status: str = "",
    body: str = "",
    data: dict[str, Any] | None = None,
) -> ChangeEvent:
    """An unsaved event of the change's timeline, for `record_many`."""
    return ChangeEvent(
        tenant_id=change.tenant_id,
        change=change,
        kind=kind,
        actor=actor,
        from_status=from_status,
        to_status=to_status,
        body=body,
        data=data or {},
    )


def record(change: Change, kind: ChangeEventKind, actor: Any, **fields: Any) -> ChangeEvent:
    """Append one event to the change's timeline."""
    [written] = timeline_write([event(change, kind, actor, **fields)])
    return written


def record_many(events: Sequence[ChangeEvent]) -> list[ChangeEvent]:
    """Append many events at once (of one tenant, any changes): one statement."""
    return timeline_write(events)
