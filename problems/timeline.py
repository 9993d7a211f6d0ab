"""The one writer of problem timelines: services and the review timer record through here."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from itsm.timeline import timeline_write
from problems.choices import ProblemEventKind
from problems.models import Problem, ProblemEvent


def event(
    problem: Problem,
    kind: ProblemEventKind,
    actor: Any,
    *,
    from_status: str = "",
    to_status: str = "",
    body: str = "",
    data: dict[str, Any] | None = None,
) -> ProblemEvent:
    """An unsaved event of the problem's timeline, for `record_many`."""
    return ProblemEvent(
        tenant_id=problem.tenant_id,
        problem=problem,
        kind=kind,
        actor=actor,
        from_status=from_status,
        to_status=to_status,
        body=body,
        data=data or {},
    )


def record(problem: Problem, kind: ProblemEventKind, actor: Any, **fields: Any) -> ProblemEvent:
    """Append one event to the problem's timeline."""
    [written] = timeline_write([event(problem, kind, actor, **fields)])
    return written


def record_many(events: Sequence[ProblemEvent]) -> list[ProblemEvent]:
    """Append many events at once (of one tenant, any problems): one statement."""
    return timeline_write(events)
