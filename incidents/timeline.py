"""The one writer of incident timelines: services and the SLA timer kind record through here.

Writing goes through `itsm.timeline.timeline_write`, so whatever the incidents app registered
for its events (notifications) follows in the same transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from incidents.choices import EventKind
from incidents.models import Incident, IncidentEvent
from itsm.timeline import timeline_write, timeline_written


def draft(
    incident: Incident,
    kind: EventKind,
    actor: Any,
    *,
    is_public: bool = False,
    from_status: str = "",
    to_status: str = "",
    body: str = "",
    data: dict[str, Any] | None = None,
) -> IncidentEvent:
    """One event of the incident's timeline, not yet written: `record_many` writes a service's
    events in one statement."""
    return IncidentEvent(
        tenant_id=incident.tenant_id,
        incident=incident,
        kind=kind,
        actor=actor,
        is_public=is_public,
        from_status=from_status,
        to_status=to_status,
        body=body,
        data=data or {},
    )


def record(incident: Incident, kind: EventKind, actor: Any, **fields: Any) -> IncidentEvent:
    """Append one event to the incident's timeline (`fields` as `draft` takes them)."""
    [event] = timeline_write([draft(incident, kind, actor, **fields)])
    return event


def record_many(events: Sequence[IncidentEvent]) -> list[IncidentEvent]:
    """Append many events at once (of one tenant, any incidents): one statement."""
    return timeline_write(events)


def recorded(events: Sequence[IncidentEvent]) -> None:
    """Follow up events the caller wrote with their incident in one statement (a new incident's
    first events): what `record_many` does after its write."""
    timeline_written(events)
