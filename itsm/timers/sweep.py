"""The sweep: fire every timer step that is due, exactly once, in batches.

One indexed query finds the due timers (`FOR UPDATE SKIP LOCKED`, so sweepers side by side take
different rows and never wait); each kind claims what its timers act on, again without waiting;
each step is written once (a unique row per timer and step, in the same transaction that acts on
it and moves the timer on). A sweep that dies rolls back and its timers are still due for the
next one, so a killed worker or a lost broker message loses nothing and doubles nothing.

Lock order is owner → timer in domain services (an agent's action locks the incident, then its
clocks' timers); the sweep locks timers, then owners with SKIP LOCKED, so it never waits while
holding a timer and cannot deadlock with them.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from django.utils import timezone

from itsm.tenancy import rls
from itsm.timers.kinds import Firing, registered
from itsm.timers.models import Timer
from itsm.timers.services import firings_record, timers_save


@dataclass
class SweepResult:
    fired: int = 0
    skipped: int = 0  # busy (locked by someone else): the next sweep takes them


def sweep(
    *, now: datetime | None = None, batch_size: int = 500, max_batches: int = 100
) -> SweepResult:
    """Fire every step that is due, in batches of one transaction each."""
    result = SweepResult()
    for _ in range(max_batches):
        fired, skipped = _sweep_batch(now or timezone.now(), batch_size)
        result.fired += fired
        result.skipped += skipped
        # A timer long overdue has several steps due: go on while batches make progress.
        if fired == 0:
            break
    return result


def _sweep_batch(now: datetime, batch_size: int) -> tuple[int, int]:
    kinds = registered()
    with rls.platform_scope():
        # The one query of an idle sweep; uses the partial index timers_timer_due. Kinds whose
        # code is not loaded here are left for a process that knows them.
        timers = list(
            Timer.objects.filter(fire_at__lte=now, kind__in=list(kinds))
            .order_by("fire_at")
            .select_for_update(skip_locked=True)[:batch_size]
        )
        if not timers:
            return 0, 0
        by_kind: dict[str, list[Timer]] = defaultdict(list)
        for timer in timers:
            by_kind[timer.kind].append(timer)
        by_tenant: dict[int, list[Firing]] = defaultdict(list)
        for name, group in by_kind.items():
            subjects = kinds[name].claim(group)
            for timer in group:
                if timer.pk in subjects:
                    assert timer.step is not None
                    assert timer.fire_at is not None
                    firing = Firing(timer, timer.step, timer.fire_at, subjects[timer.pk])
                    by_tenant[timer.tenant_id].append(firing)
        for tenant_id, firings in by_tenant.items():
            # Each tenant's firings are written as that tenant: row-level security checks them.
            rls.activate(rls.RlsContext(tenant_id=tenant_id))
            _fire(firings, now)
        fired = sum(len(firings) for firings in by_tenant.values())
        return fired, len(timers) - fired


def _fire(firings: list[Firing], now: datetime) -> None:
    """Record the steps, let each kind act and arm the next ones, save the timers."""
    new = firings_record(((f.timer, f.step, f.due_at) for f in firings), now)
    by_kind: dict[str, list[Firing]] = defaultdict(list)
    for firing in firings:
        firing.is_new = (firing.timer.pk, firing.step) in new
        firing.timer.step, firing.timer.fire_at = None, None  # idle unless the kind re-arms it
        by_kind[firing.timer.kind].append(firing)
    kinds = registered()
    for name, group in by_kind.items():
        kinds[name].fire(group, now=now)
    timers_save([firing.timer for firing in firings], now)
