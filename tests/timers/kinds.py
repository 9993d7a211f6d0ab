"""A timer kind that exists only in tests, to prove the engine knows no domain.

A chain timer fires steps 1 … LAST_STEP, each due as soon as the one before has fired. Its one
side effect is transactional: a per-timer counter row goes up by one per new firing. A counter
at LAST_STEP with LAST_STEP firing rows means every step fired, and acted, exactly once.

Real workers load it with `celery worker --include tests.timers.kinds`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from django.db.models import F

from itsm.tenancy.models import TenantCounter
from itsm.timers.kinds import Firing, TimerKind, register
from itsm.timers.models import Timer
from itsm.timers.services import timer_arm

LAST_STEP = 5


def counter_key(timer_id: int) -> str:
    return f"chain-{timer_id}"


class Chain(TimerKind):
    name = "test_chain"

    def claim(self, timers: Sequence[Timer]) -> dict[int, Any]:
        keys = {counter_key(timer.pk): timer.pk for timer in timers}
        counters = TenantCounter.objects.filter(key__in=keys).select_for_update(skip_locked=True)
        return {keys[counter.key]: counter for counter in counters}

    def fire(self, firings: Sequence[Firing], *, now: datetime) -> None:
        new = [firing.subject.pk for firing in firings if firing.is_new]
        TenantCounter.objects.filter(pk__in=new).update(last_value=F("last_value") + 1)
        for firing in firings:
            if firing.step < LAST_STEP:
                timer_arm(firing.timer, step=firing.step + 1, at=firing.due_at)


register(Chain())
