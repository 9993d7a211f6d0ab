"""Measure the timer sweep on SLA clocks: idle cost against N running clocks, and the cost of D
due thresholds.

    manage.py benchmark_sla_sweep --clocks 10000 --due 10000
    manage.py benchmark_sla_sweep --clocks 500000 --due 0

Seeds (once per N) a tenant `sla-bench-<N>` with N running clocks whose thresholds lie in the
future, times sweeps that find nothing (and shows their plan), then makes D clocks due and
times the sweep that fires them. Reported, never asserted.
"""

from __future__ import annotations

import statistics
import time
from datetime import timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandParser
from django.core.signals import request_started
from django.db import connection, reset_queries
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from incidents import sla
from incidents.choices import SlaClockKind
from incidents.models import Incident, SlaClock, SlaPolicy
from itsm.tenancy import rls
from itsm.tenancy.models import Membership, Tenant, TenantCounter
from itsm.timers.kinds import registered
from itsm.timers.models import Timer
from itsm.timers.sweep import sweep

BATCH = 5000


def make_due(tenant: Tenant, due: int) -> None:
    """Move `due` of the tenant's armed timers into the past, for the next sweep to fire."""
    now = timezone.now()
    with rls.tenant_scope(tenant.pk):
        ids = list(
            Timer.objects.for_tenant(tenant)
            .filter(fire_at__isnull=False)
            .values_list("pk", flat=True)[:due]
        )
        Timer.objects.filter(pk__in=ids).update(fire_at=now - timedelta(seconds=1))


class Command(BaseCommand):
    help = "Benchmark the SLA sweep (idle and with due thresholds)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--clocks", type=int, default=10_000)
        parser.add_argument("--due", type=int, default=10_000)
        parser.add_argument("--idle-runs", type=int, default=50)
        parser.add_argument("--batch-size", type=int, default=500)

    def handle(self, *args: Any, **options: Any) -> None:
        request_started.disconnect(reset_queries)
        clocks, due = options["clocks"], options["due"]
        tenant = self._seed(clocks)
        self.stdout.write(f"{clocks} running clocks in tenant {tenant.slug}")
        self._idle(options["idle_runs"])
        if due:
            self._due(tenant, due, options["batch_size"])

    def _idle(self, runs: int) -> None:
        timings = []
        for _ in range(runs):
            reset_queries()
            with CaptureQueriesContext(rls.platform_connection()) as queries:
                started = time.perf_counter()
                result = sweep()
                timings.append((time.perf_counter() - started) * 1000)
            assert result.fired == 0
        selects = [q["sql"] for q in queries.captured_queries if q["sql"].startswith("SELECT")]
        self.stdout.write(
            f"idle sweep: median {statistics.median(timings):.2f} ms, "
            f"max {max(timings):.2f} ms; statements: "
            f"{[q['sql'][:40] for q in queries.captured_queries]}"
        )
        with rls.platform_scope():
            plan = (
                (
                    Timer.objects.filter(fire_at__lte=timezone.now(), kind__in=list(registered()))
                    .order_by("fire_at")
                    .select_for_update(skip_locked=True)[:500]
                    .explain(analyze=True)
                )
                if connection.vendor == "postgresql"
                else "(plan: PostgreSQL only)"
            )
        self.stdout.write(f"idle sweep selects: {len(selects)}; plan:\n{plan}")

    def _due(self, tenant: Tenant, due: int, batch_size: int) -> None:
        make_due(tenant, due)
        started = time.perf_counter()
        result = sweep(batch_size=batch_size, max_batches=10_000)
        seconds = time.perf_counter() - started
        self.stdout.write(
            f"due sweep: {result.fired} thresholds fired in {seconds:.2f} s "
            f"({result.fired / seconds:.0f}/s, batch {batch_size})"
        )

    def _seed(self, count: int) -> Tenant:
        slug = f"sla-bench-{count}"
        tenant, _ = Tenant.objects.get_or_create(slug=slug, defaults={"name": f"SLA bench {count}"})
        with rls.tenant_scope(tenant.pk):
            existing = SlaClock.objects.for_tenant(tenant).count()
            if existing >= count:
                return tenant
            self.stdout.write(f"Seeding {count} incidents with running clocks ...")
            reporter, _ = get_user_model().objects.get_or_create(username=f"{slug}-reporter")
            Membership.objects.get_or_create(
                tenant=tenant, user=reporter, defaults={"role": "requester"}
            )
            policy, _ = SlaPolicy.objects.for_tenant(tenant).get_or_create(
                slug="bench",
                defaults={
                    "tenant": tenant,
                    "name": "Bench",
                    "response_target": timedelta(days=30),
                    "resolution_target": timedelta(days=60),
                },
            )
            now = timezone.now()
            for first in range(existing + 1, count + 1, BATCH):
                numbers = range(first, min(first + BATCH, count + 1))
                incidents = Incident.objects.bulk_create(
                    Incident(
                        tenant=tenant, number=number, title=f"Bench {number}", reported_by=reporter
                    )
                    for number in numbers
                )
                timers = Timer.objects.bulk_create(
                    Timer(
                        tenant=tenant,
                        kind=sla.TIMER_KIND,
                        step=50,
                        fire_at=now + timedelta(days=30, seconds=incident.number),
                    )
                    for incident in incidents
                )
                SlaClock.objects.bulk_create(
                    SlaClock(
                        tenant=tenant,
                        incident=incident,
                        kind=SlaClockKind.RESOLUTION,
                        policy=policy,
                        target=timedelta(days=60),
                        started_at=now,
                        running_since=now,
                        due_at=now + timedelta(days=60),
                        timer=timer,
                    )
                    for incident, timer in zip(incidents, timers, strict=True)
                )
            TenantCounter.objects.update_or_create(
                tenant=tenant, key="INC", defaults={"last_value": count}
            )
        if connection.vendor == "postgresql":
            with rls.owner_connection(), connection.cursor() as cursor:
                cursor.execute("ANALYZE incidents_slaclock")
                cursor.execute("ANALYZE timers_timer")
                cursor.execute("ANALYZE incidents_incident")
        return tenant
