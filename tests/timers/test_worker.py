"""The timer engine through real workers, with the test-only kind: killed workers and a sweep
delivered many times lose no step and double none."""

import random
import signal
import time
from functools import partial

import pytest

from itsm.celery import app
from itsm.tenancy import rls
from itsm.timers.models import Timer, TimerFiring
from tests.markers import platform_db_committed
from tests.processes import celery_worker, child_process_env, wait_until
from tests.timers.kinds import LAST_STEP
from tests.timers.test_engine import assert_each_step_fired_and_acted_once, make_chains

pytestmark = [pytest.mark.slow, platform_db_committed]

SWEEP = "itsm.timers.tasks.sweep_timers_task"
KIND_MODULE = "tests.timers.kinds"


def _count(model, **filters) -> int:
    with rls.platform_scope():
        return int(model._default_manager.filter(**filters).count())


def _fired_more_than(before: int) -> bool:
    return _count(TimerFiring) > before


@pytest.fixture
def empty_broker():
    app.control.purge()
    yield
    app.control.purge()


def test_killed_workers_and_repeated_sweeps_fire_each_step_once(tenant_a, tmp_path, empty_broker):
    # Given 400 chains: 2,000 steps, swept in small batches so kills land mid-work
    timer_ids = make_chains(tenant_a, 400)
    expected = 400 * LAST_STEP
    env = child_process_env(TIMER_SWEEP_BATCH="10")
    rng = random.Random(11)  # noqa: S311 - timing jitter, not security
    fired_at_kills = []
    # When workers are SIGKILLed mid-sweep, several rounds, each sweep sent three times
    for round_ in range(4):
        before = _count(TimerFiring)
        worker = celery_worker(env, tmp_path / f"worker-{round_}.log", include=KIND_MODULE)
        try:
            for _ in range(3):
                app.send_task(SWEEP)
            wait_until(partial(_fired_more_than, before), 60, "progress", worker)
            time.sleep(rng.uniform(0.0, 0.2))
        finally:
            worker.signal(signal.SIGKILL)
            worker.process.wait(timeout=10)
        fired_at_kills.append(_count(TimerFiring))
        if fired_at_kills[-1] == expected:
            break
    # And a healthy worker gets the same sweep many times until all is done
    worker = celery_worker(env, tmp_path / "worker-final.log", include=KIND_MODULE)
    try:

        def done() -> bool:
            app.send_task(SWEEP)
            app.send_task(SWEEP)
            return _count(Timer, fire_at__isnull=False) == 0

        wait_until(done, 90, "every step fired", worker)
        time.sleep(1)
    finally:
        worker.stop()

    # Then a worker died with work half done, and yet each step fired and acted once
    print(f"test-only kind: {expected} steps; fired when workers were killed: {fired_at_kills}")  # noqa: T201
    assert any(0 < fired < expected for fired in fired_at_kills), fired_at_kills
    assert_each_step_fired_and_acted_once(tenant_a, timer_ids)
