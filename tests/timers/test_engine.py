"""The timer engine with a kind of its own (tests.timers.kinds): exactly once, whoever sweeps."""

import threading
from datetime import timedelta

from django.db import connection
from django.utils import timezone

from itsm.tenancy import rls
from itsm.tenancy.models import Tenant, TenantCounter
from itsm.timers.kinds import registered
from itsm.timers.models import Timer, TimerFiring
from itsm.timers.sweep import sweep
from tests.markers import platform_db_committed
from tests.timers.kinds import LAST_STEP, Chain, counter_key
from tests.timers.sweepers import sweep_in_parallel

pytestmark = platform_db_committed


def make_chains(tenant: Tenant, count: int, *, due_in: timedelta = timedelta(0)) -> list[int]:
    """`count` chain timers of the tenant whose first step is due after `due_in`."""
    with rls.tenant_scope(tenant.pk):
        timers = Timer.objects.bulk_create(
            Timer(tenant=tenant, kind=Chain.name, step=1, fire_at=timezone.now() + due_in)
            for _ in range(count)
        )
        TenantCounter.objects.bulk_create(
            TenantCounter(tenant=tenant, key=counter_key(timer.pk)) for timer in timers
        )
    return [timer.pk for timer in timers]


def assert_each_step_fired_and_acted_once(tenant: Tenant, timer_ids: list[int]) -> None:
    with rls.tenant_scope(tenant.pk):
        steps = sorted(
            TimerFiring.objects.filter(timer_id__in=timer_ids).values_list("timer_id", "step")
        )
        counters = set(
            TenantCounter.objects.filter(key__in=[counter_key(pk) for pk in timer_ids]).values_list(
                "last_value", flat=True
            )
        )
        armed = Timer.objects.filter(pk__in=timer_ids, fire_at__isnull=False).count()
    assert steps == [(pk, step) for pk in sorted(timer_ids) for step in range(1, LAST_STEP + 1)]
    assert counters == {LAST_STEP}
    assert armed == 0


def test_the_engine_fires_a_kind_it_does_not_import(tenant_a):
    # Given 30 chain timers due now, and the engine that knows them only by name
    assert registered()[Chain.name].__module__ == "tests.timers.kinds"
    timer_ids = make_chains(tenant_a, 30)

    # When the sweep runs until nothing is due
    result = sweep(batch_size=7)

    # Then every step of every chain fired and acted exactly once, and nothing is left
    assert (result.fired, result.skipped) == (30 * LAST_STEP, 0)
    assert_each_step_fired_and_acted_once(tenant_a, timer_ids)
    assert sweep().fired == 0


def test_a_timer_not_yet_due_does_not_fire(tenant_a):
    timer_ids = make_chains(tenant_a, 3, due_in=timedelta(minutes=5))

    assert sweep().fired == 0

    with rls.tenant_scope(tenant_a.pk):
        assert not TimerFiring.objects.filter(timer_id__in=timer_ids).exists()


def test_timers_of_an_unknown_kind_wait_for_a_process_that_knows_it(tenant_a):
    # Given a due timer whose kind no code in this process registered
    with rls.tenant_scope(tenant_a.pk):
        stranger = Timer.objects.create(
            tenant=tenant_a, kind="not_deployed_here", step=1, fire_at=timezone.now()
        )

    # When the sweep runs, it neither fires nor drops it
    assert sweep().fired == 0
    with rls.tenant_scope(tenant_a.pk):
        stranger.refresh_from_db()
        assert (stranger.step, stranger.fire_at is not None) == (1, True)
        assert not TimerFiring.objects.filter(timer=stranger).exists()


def test_busy_subjects_are_skipped_and_fire_on_the_next_sweep(tenant_a):
    # Given a chain whose counter another transaction holds
    [timer_id] = make_chains(tenant_a, 1)
    holding, release = threading.Event(), threading.Event()

    def hold() -> None:
        try:
            with rls.tenant_scope(tenant_a.pk):
                TenantCounter.objects.select_for_update().get(key=counter_key(timer_id))
                holding.set()
                release.wait(30)
        finally:
            connection.close()

    holder = threading.Thread(target=hold)
    holder.start()
    holding.wait(30)
    try:
        # When a sweep runs meanwhile, it skips the chain without waiting
        busy = sweep()
    finally:
        release.set()
        holder.join(30)

    assert (busy.fired, busy.skipped) == (0, 1)
    # Then the next sweep takes it
    assert sweep().fired == LAST_STEP
    assert_each_step_fired_and_acted_once(tenant_a, [timer_id])


def test_two_sweepers_at_once_fire_each_step_once(tenant_a, tenant_b):
    # Given 200 chains in each of two tenants: 2,000 steps to fire
    chains = {tenant_a: make_chains(tenant_a, 200), tenant_b: make_chains(tenant_b, 200)}
    # When two sweepers race, and then the sweep is delivered again
    results = sweep_in_parallel(batch_size=25)
    leftover = sweep(batch_size=25).fired

    # Then the sweepers shared the work without doubling any of it
    print(f"two sweepers fired {results} + {leftover} leftover of {2 * 200 * LAST_STEP} steps")  # noqa: T201
    assert sum(results) + leftover == 2 * 200 * LAST_STEP
    for tenant, timer_ids in chains.items():
        assert_each_step_fired_and_acted_once(tenant, timer_ids)
