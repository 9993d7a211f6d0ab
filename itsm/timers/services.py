"""Writes of the timer engine: arming timers and recording the steps that fired."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from django.contrib.postgres.expressions import ArraySubquery
from django.db import connection
from django.db.models import OuterRef, QuerySet

from itsm.services import bulk_update_rows
from itsm.timers.models import Timer, TimerFiring


def timer_new(*, tenant_id: int, kind: str) -> Timer:
    """An idle timer of `kind`, not yet saved: the caller arms it and saves it with its owner."""
    return Timer(tenant_id=tenant_id, kind=kind)


def timer_arm(timer: Timer, *, step: int | None, at: datetime | None) -> None:
    """Set the next step and its time (both None: idle). The caller saves."""
    timer.step, timer.fire_at = (step, at) if step is not None and at is not None else (None, None)


def timers_save(timers: Sequence[Timer], now: datetime) -> None:
    """Write the timers' next steps in one statement."""
    for timer in timers:
        timer.updated_at = now
    bulk_update_rows(Timer, timers, ["step", "fire_at", "updated_at"])


def timer_fired_steps(timer: Timer) -> set[int]:
    """The steps of the timer that have fired."""
    return set(
        TimerFiring.objects.for_tenant(timer.tenant_id)
        .filter(timer_id=timer.pk)
        .values_list("step", flat=True)
    )


# The annotation `with_fired_steps` adds.
FIRED_STEPS = "timer_fired_steps"


def with_fired_steps[Q: QuerySet[Any]](queryset: Q, timer: str = "timer") -> Q:
    """`queryset` reading with each row the steps its timer (the relation `timer`) fired, in the
    row's own statement (PostgreSQL; elsewhere `fired_steps` reads them apart).

    A row read FOR UPDATE after waiting for a sweep may miss a step that sweep fired: planning
    then arms that step again, and `firings_record` makes its second firing a no-op."""
    if connection.vendor != "postgresql":
        return queryset
    firings = (
        TimerFiring.objects.filter(
            tenant_id=OuterRef("tenant_id"), timer_id=OuterRef(f"{timer}_id")
        )
        .order_by()
        .values("step")
    )
    annotated: Q = queryset.annotate(**{FIRED_STEPS: ArraySubquery(firings)})
    return annotated


def fired_steps(row: Any, timer: Timer) -> set[int]:
    """The steps `timer` fired, as `with_fired_steps` read them with `row`, or read now."""
    steps = getattr(row, FIRED_STEPS, None)
    return set(steps) if steps is not None else timer_fired_steps(timer)


def firings_record(
    firings: Iterable[tuple[Timer, int, datetime]], now: datetime
) -> set[tuple[int, int]]:
    """Write each (timer, step) once; return those written now (not before).

    ON CONFLICT DO NOTHING makes a step that fired before a no-op, without a savepoint, so a
    whole batch of firings is one statement.
    """
    rows = list(firings)
    if not rows:
        return set()
    table = connection.ops.quote_name(TimerFiring._meta.db_table)
    values = ", ".join(["(%s, %s, %s, %s, %s, %s, %s)"] * len(rows))
    params: list[Any] = []
    for timer, step, due_at in rows:
        params += [timer.tenant_id, timer.pk, step, due_at, now, now, now]
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (tenant_id, timer_id, step, due_at, fired_at, "  # noqa: S608
            f"created_at, updated_at) VALUES {values} "
            "ON CONFLICT (timer_id, step) DO NOTHING RETURNING timer_id, step",
            params,
        )
        return {(timer_id, step) for timer_id, step in cursor.fetchall()}
