"""The SLA sweep through real processes: a Celery worker and beat on Redis and PostgreSQL,
including workers killed mid-sweep, redelivered sweeps and sweepers running side by side."""

import random
import signal
import time
from datetime import timedelta
from functools import partial
from typing import Any

import pytest
from django.db.models import Model
from django.utils import timezone

from incidents.choices import SlaClockKind
from incidents.models import Incident, IncidentEvent, SlaClock, SlaPolicy
from itsm.celery import app
from itsm.tenancy import rls
from itsm.tenancy.models import Tenant
from itsm.tenancy.services import allocate_number
from itsm.timers.models import Timer, TimerFiring
from itsm.timers.sweep import sweep
from tests.factories import MembershipFactory, SlaPolicyFactory
from tests.incidents.conftest import make_incident
from tests.markers import platform_db_committed
from tests.processes import (
    celery_beat,
    celery_worker,
    child_process_env,
    free_port,
    redis_answers,
    redis_server,
    wait_until,
)
from tests.timers.sweepers import sweep_in_parallel

pytestmark = [pytest.mark.slow, platform_db_committed]


def _count(model: type[Model], **filters: Any) -> int:
    with rls.platform_scope():
        return model._default_manager.filter(**filters).count()


def _fired_more_than(before: int) -> bool:
    return _count(TimerFiring) > before


@pytest.fixture
def empty_broker():
    app.control.purge()
    yield
    app.control.purge()


def test_worker_and_beat_fire_warnings_and_breach_once_and_escalate(desk, tmp_path, empty_broker):
    # Given a policy whose response target is 3 s, escalating on breach, for SEV4 incidents
    SlaPolicyFactory(
        tenant=desk.tenant,
        slug="fast",
        order=1,
        priorities=[4],
        response_target=timedelta(seconds=3),
        resolution_target=timedelta(hours=8),
        warning_thresholds=[50, 75, 90],
        breach_action="escalate",
    )
    incidents = [make_incident(desk, "new") for _ in range(3)]
    env = child_process_env(TIMER_SWEEP_INTERVAL="0.5")
    worker = celery_worker(env, tmp_path / "worker.log")
    beat = celery_beat(env, tmp_path)
    try:
        # When the clocks run out while nobody looks
        wait_until(
            lambda: _count(TimerFiring, step=100) == 3,
            45,
            "three breaches",
            worker,
            beat,
        )
        time.sleep(2)  # a few more sweeps: nothing may fire twice
    finally:
        beat.stop()
        worker.stop()

    # Then each response clock fired 50, 75, 90 and the breach exactly once
    with rls.tenant_scope(desk.tenant.pk):
        for incident in incidents:
            clock = SlaClock.objects.get(incident=incident, kind=SlaClockKind.RESPONSE)
            fired = list(
                TimerFiring.objects.filter(timer_id=clock.timer_id).values_list("step", flat=True)
            )
            assert fired == [50, 75, 90, 100]
            assert clock.breached_at == clock.due_at
            assert clock.timer.fire_at is None
            incident.refresh_from_db()
            # and the breach action escalated L1 -> L2
            assert (incident.assignment_team_id, incident.escalation_count) == (desk.l2.pk, 1)
            sla_events = IncidentEvent.objects.filter(incident=incident, kind="sla")
            assert sla_events.count() == 4
        resolution = SlaClock.objects.filter(kind=SlaClockKind.RESOLUTION)
        assert not TimerFiring.objects.filter(timer_id__in=resolution.values("timer_id")).exists()


def _due_clocks(tenant: Tenant, count: int) -> int:
    """`count` incidents whose response clocks have two thresholds due now: 2 × count."""
    now = timezone.now()
    with rls.tenant_scope(tenant.pk):
        policy = SlaPolicy.objects.create(
            tenant=tenant,
            name="Due",
            slug="due",
            order=1,
            response_target=timedelta(hours=1),
            resolution_target=timedelta(hours=8),
            warning_thresholds=[50],
            breach_action="notify",
        )
        reporter = MembershipFactory(tenant=tenant).user
        first = allocate_number(tenant=tenant, key="INC")
        incidents = Incident.objects.bulk_create(
            Incident(
                tenant=tenant, number=first + index, title=f"Due {index}", reported_by=reporter
            )
            for index in range(count)
        )
        timers = Timer.objects.bulk_create(
            Timer(tenant=tenant, kind="sla", step=50, fire_at=now - timedelta(hours=1, minutes=30))
            for _ in incidents
        )
        SlaClock.objects.bulk_create(
            SlaClock(
                tenant=tenant,
                incident=incident,
                kind=SlaClockKind.RESPONSE,
                policy=policy,
                target=timedelta(hours=1),
                started_at=now - timedelta(hours=2),
                running_since=now - timedelta(hours=2),
                due_at=now - timedelta(hours=1),
                timer=timer,
            )
            for incident, timer in zip(incidents, timers, strict=True)
        )
    return 2 * count


def _assert_each_fired_once(expected: int) -> None:
    assert _count(TimerFiring) == expected
    assert _count(IncidentEvent, kind="sla") == expected  # side effects written once, too
    assert _count(Timer, fire_at__isnull=False) == 0
    with rls.platform_scope():
        per_clock = set(
            TimerFiring.objects.filter(
                timer_id__in=SlaClock.objects.filter(kind=SlaClockKind.RESPONSE).values("timer_id")
            ).values_list("step", flat=True)
        )
    assert per_clock == {50, 100}


def test_killed_workers_lose_no_threshold_and_double_none(tenant_a, tmp_path, empty_broker):
    expected = _due_clocks(tenant_a, 500)  # 1,000 due thresholds
    # Small batches: many short transactions, so a kill lands in the middle of the work.
    env = child_process_env(TIMER_SWEEP_BATCH="10")
    rng = random.Random(7)  # noqa: S311 - timing jitter, not security
    fired_at_kills = []
    for round_ in range(5):
        before = _count(TimerFiring)
        worker = celery_worker(env, tmp_path / f"worker-{round_}.log")
        try:
            for _ in range(3):
                app.send_task("itsm.timers.tasks.sweep_timers_task")
            # Once this worker has made progress, kill it within a fraction of a second.
            wait_until(
                partial(_fired_more_than, before),
                60,
                "the worker to start sweeping",
                worker,
            )
            time.sleep(rng.uniform(0.0, 0.3))
        finally:
            worker.signal(signal.SIGKILL)  # no warning, no cleanup: mid-sweep
            worker.process.wait(timeout=10)
        fired_at_kills.append(_count(TimerFiring))
        if fired_at_kills[-1] == expected:
            break
    # Then a healthy worker finishes what is left (redelivered and new sweeps alike).
    worker = celery_worker(env, tmp_path / "worker-final.log")
    try:

        def done() -> bool:
            app.send_task("itsm.timers.tasks.sweep_timers_task")
            return _count(Timer, fire_at__isnull=False) == 0

        wait_until(done, 90, "all thresholds fired", worker)
        time.sleep(1)
    finally:
        worker.stop()
    # Some worker died with the work half done (so sweeps were under way when killed) ...
    assert any(0 < fired < expected for fired in fired_at_kills), fired_at_kills
    # ... and yet every threshold fired exactly once.
    _assert_each_fired_once(expected)


def test_two_sweepers_at_once_and_a_repeated_sweep_fire_each_threshold_once(tenant_a):
    expected = _due_clocks(tenant_a, 500)
    results = sweep_in_parallel(batch_size=50)
    # Thresholds a sweeper skipped (locked by the other) are still due: sweep the rest.
    leftover = sweep(batch_size=50).fired
    assert sum(results) + leftover == expected
    assert sweep().fired == 0  # the same sweep delivered again: nothing left to fire
    _assert_each_fired_once(expected)


def test_a_broker_restart_mid_sweep_loses_nothing_and_doubles_nothing(tenant_a, tmp_path):
    # Given a broker of this test's own (so restarting it disturbs nobody else)
    port = free_port()
    broker = redis_server(port, tmp_path, tmp_path / "redis-1.log")
    url = f"redis://127.0.0.1:{port}/0"
    expected = _due_clocks(tenant_a, 500)
    env = child_process_env(
        CELERY_BROKER_URL=url, TIMER_SWEEP_BATCH="10", TIMER_SWEEP_INTERVAL="0.5"
    )
    worker = beat = None
    try:
        wait_until(lambda: redis_answers(port), 10, "the test broker to start", broker)
        worker = celery_worker(env, tmp_path / "worker.log")
        beat = celery_beat(env, tmp_path)
        wait_until(lambda: _count(TimerFiring) > 0, 60, "sweeping to begin", worker, beat)

        # When the broker dies mid-sweep, losing every queued message, and comes back
        broker.signal(signal.SIGKILL)
        broker.process.wait(timeout=10)
        fired_while_down = _count(TimerFiring)
        time.sleep(2)
        broker = redis_server(port, tmp_path, tmp_path / "redis-2.log")
        wait_until(lambda: redis_answers(port), 10, "the test broker to restart", broker)

        # Then beat and the worker reconnect and finish the work, each threshold once
        wait_until(
            lambda: _count(Timer, fire_at__isnull=False) == 0,
            90,
            "all thresholds fired after the restart",
            worker,
            beat,
        )
        time.sleep(1)
    finally:
        for process in (beat, worker, broker):
            if process is not None:
                process.stop()
    assert fired_while_down < expected  # the restart really came in the middle
    _assert_each_fired_once(expected)


def test_the_same_sweep_delivered_twice_to_parallel_worker_processes_fires_once(
    tenant_a, tmp_path, empty_broker
):
    expected = _due_clocks(tenant_a, 500)
    env = child_process_env(TIMER_SWEEP_BATCH="10")
    worker = celery_worker(env, tmp_path / "worker.log")
    try:
        # The very same message (one task id) delivered several times, as a broker may,
        # picked up by two worker processes at once.
        for _ in range(4):
            app.send_task("itsm.timers.tasks.sweep_timers_task", task_id="one-sweep")
        wait_until(
            lambda: _count(Timer, fire_at__isnull=False) == 0,
            60,
            "the duplicated sweeps to finish",
            worker,
        )
        wait_until(
            lambda: worker.output().count("succeeded in") >= 4,
            30,
            "all four deliveries to run",
            worker,
        )
    finally:
        worker.stop()
    _assert_each_fired_once(expected)
