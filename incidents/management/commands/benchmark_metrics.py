"""Measure the incident report over many incidents: the summary with and without the rollups.

    manage.py benchmark_metrics --incidents 1000000 --tenants 40 --runs 5

Seeds (once; later runs reuse it) N incidents over T tenants of skewed sizes (the largest holds
about 28 %), spread over two years, with the stored facts the figures read: channel, priority,
occurrence, acknowledgement, resolution and closure times, cancellations, escalations,
reassignments, reopenings, first-contact resolutions, services, teams and categories; the
largest tenant's incidents also get their response and resolution SLA clocks (and the clocks'
idle timers) under two policies. Then, for the largest tenant and periods of 30, 90 and 365
days, times `IncidentReport(...).summary()` computed from the incidents and read from the daily
rollups (after a full rebuild, itself timed), beside a floor measured in the same run: a bare
count of the tenant's incidents created in the period. Every read runs as the application role
inside the tenant's row-level-security scope, as in production. Reported, never asserted.

Seeding is bulk: rows are streamed with COPY into a temporary table (COPY cannot write a table
under row-level security) and moved with one INSERT … SELECT per tenant and week, inside the
tenant's scope, so the policies and the link guards still check every row. The audit triggers
are ignored and the search index is filled once at the end (`indexing_deferred`), as the other
benchmarks seed; benchmark_audit measures what the audit trail costs a write. VACUUM ANALYZE
follows, as autovacuum would after such a load.
"""

from __future__ import annotations

import bisect
import math
import random
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any

import pgtrigger
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser, OutputWrapper
from django.core.signals import request_started
from django.db import connection, reset_queries
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from incidents import sla
from incidents.choices import (
    SLA_NEVER_DUE,
    IncidentSource,
    IncidentStatus,
    ResolutionCode,
    SlaClockKind,
)
from incidents.metrics.provider import IncidentReport
from incidents.metrics.rollups import rollup_refresh
from incidents.models import Incident, SlaPolicy
from itsm.benchmarking import allocate_ids, copy_rows, vacuum_analyze
from itsm.calendars.selectors import tenant_time_zone
from itsm.catalog.models import Category, Service
from itsm.metrics.query import MetricQuery, Period
from itsm.search.sql import indexing_deferred
from itsm.tenancy import rls
from itsm.tenancy.choices import TeamKind
from itsm.tenancy.models import Team, Tenant, TenantCounter

AUDIT_TRIGGERS = [f"incidents.Incident:audit_{op}" for op in ("insert", "update", "delete")]
LARGEST_SHARE = 0.28
HISTORY_DAYS = 730
PERIODS = (30, 90, 365)
CUSTOMER_CHANNELS = (
    IncidentSource.USER,
    IncidentSource.PHONE,
    IncidentSource.PORTAL,
    IncidentSource.CHAT,
    IncidentSource.EMAIL,
)
# Priority mix (SEV1 … SEV4) and, per priority, the mean minutes to acknowledge and the median
# hours to resolve: majors are few and fast, most incidents are SEV3/SEV4 and take days.
PRIORITY_WEIGHTS = (0.02, 0.08, 0.40, 0.50)
ACKNOWLEDGE_MINUTES = {1: 4.0, 2: 10.0, 3: 45.0, 4: 120.0}
RESOLVE_HOURS = {1: 2.0, 2: 6.0, 3: 20.0, 4: 40.0}
# Two policies per tenant: (slug, priorities, response target, resolution target).
POLICIES = (
    ("major", [1, 2], timedelta(minutes=15), timedelta(hours=8)),
    ("standard", [3, 4], timedelta(hours=2), timedelta(days=3)),
)

INCIDENT_COLUMNS = (
    "id",
    "tenant_id",
    "number",
    "created_at",
    "updated_at",
    "title",
    "description",
    "source",
    "impact",
    "urgency",
    "priority",
    "status",
    "hold_reason",
    "is_major",
    "resolution_code",
    "resolution_notes",
    "occurred_at",
    "detected_at",
    "acknowledged_at",
    "first_assigned_at",
    "major_declared_at",
    "management_engaged_at",
    "resolved_at",
    "closed_at",
    "escalation_count",
    "functional_escalation_count",
    "hierarchical_escalation_count",
    "reassignment_count",
    "reopen_count",
    "first_contact_resolution",
    "version",
    "assignee_id",
    "assignment_team_id",
    "category_id",
    "commander_id",
    "reported_by_id",
    "service_id",
    "sla_breached",
    "sla_due_at",
)
TIMER_COLUMNS = ("id", "tenant_id", "created_at", "updated_at", "kind", "step", "fire_at")
CLOCK_COLUMNS = (
    "tenant_id",
    "created_at",
    "updated_at",
    "incident_id",
    "kind",
    "policy_id",
    "target",
    "started_at",
    "elapsed",
    "running_since",
    "paused_since",
    "paused_total",
    "due_at",
    "timer_id",
    "breached_at",
    "stopped_at",
)


@dataclass
class Fixtures:
    """What a bench tenant's incidents point at."""

    reporter: int
    agents: list[int]
    teams: list[int]
    services: list[int]
    categories: list[int]
    policies: dict[int, SlaPolicy]  # priority -> its policy


class Command(BaseCommand):
    help = "Benchmark the incident metrics summary with and without rollups."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--incidents", type=int, default=1_000_000)
        parser.add_argument("--tenants", type=int, default=40)
        parser.add_argument("--runs", type=int, default=5)
        parser.add_argument(
            "--periods", type=int, nargs="+", default=list(PERIODS), help="Days per period."
        )
        parser.add_argument(
            "--no-analyze",
            action="store_true",
            help="Skip VACUUM ANALYZE after seeding (tests: it cannot run in a transaction).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if connection.vendor != "postgresql":
            raise CommandError("The benchmark seeds with COPY: PostgreSQL only.")
        count, tenants, runs = options["incidents"], options["tenants"], options["runs"]
        if count < tenants or tenants < 1:
            raise CommandError("Give at least one incident per tenant.")
        request_started.disconnect(reset_queries)  # keep the log to count queries
        largest = seed(count, tenants, analyze=not options["no_analyze"], out=self.stdout)
        with rls.tenant_scope(largest.pk):
            size = Incident.objects.for_tenant(largest).count()
            zone = tenant_time_zone(tenant=largest)
        self.stdout.write(f"largest tenant {largest.slug}: {size} incidents ({zone.key})")

        started = time.perf_counter()
        with rls.tenant_scope(largest.pk):
            state = rollup_refresh(tenant=largest, full=True)
        self.stdout.write(
            f"rollup rebuild (full): {time.perf_counter() - started:.2f} s, {state.rows} rows"
        )

        now = timezone.now()
        today = now.astimezone(zone).date()
        self.stdout.write(
            f"{'period':<8}{'case':<18}{'queries':>8}{'median ms':>11}{'p95 ms':>9}{'× floor':>9}"
        )
        for days in options["periods"]:
            query = MetricQuery(period=Period(today - timedelta(days=days - 1), today, zone))
            cases: dict[str, Callable[[], Any]] = {
                "floor: count": partial(_floor, largest, query),
                "without rollups": partial(_summary, largest, query, rollups=False, now=now),
                "with rollups": partial(_summary, largest, query, rollups=True, now=now),
            }
            timings = {name: measure(largest, case, runs) for name, case in cases.items()}
            floor = timings["floor: count"].median
            for name, timing in timings.items():
                self.stdout.write(
                    f"{f'{days} d':<8}{name:<18}{timing.queries:>8}{timing.median:>11.1f}"
                    f"{timing.p95:>9.1f}{timing.median / floor:>9.1f}"
                )
            agree = _agree(timings["without rollups"].result, timings["with rollups"].result)
            self.stdout.write(f"{'':<8}figures agree: {'yes' if agree else 'NO'}")


@dataclass(frozen=True)
class Timing:
    result: Any  # of the first run
    queries: int
    median: float  # milliseconds
    p95: float


def measure(tenant: Tenant, case: Callable[[], Any], runs: int) -> Timing:
    """Run `case` once counting its queries (and warming the caches), then `runs` times timed,
    each in its own tenant scope as a request would."""
    reset_queries()
    with rls.tenant_scope(tenant.pk), CaptureQueriesContext(connection) as queries:
        result = case()  # the scope's own set_config ran before the capture
    count = len(queries)  # now: reset_queries() below empties what `queries` reads
    timings = []
    for _ in range(runs):
        with rls.tenant_scope(tenant.pk):
            started = time.perf_counter()
            case()
            timings.append((time.perf_counter() - started) * 1000)
        reset_queries()
    timings.sort()
    p95 = timings[math.ceil(len(timings) * 0.95) - 1]  # nearest rank: the slowest of 5 runs
    return Timing(result, count, statistics.median(timings), p95)


def _floor(tenant: Tenant, query: MetricQuery) -> int:
    """The least a report over the period could cost: counting the incidents created in it."""
    period = query.period
    rows = Incident.objects.for_tenant(tenant)
    return rows.filter(created_at__gte=period.start, created_at__lt=period.end).count()


def _summary(
    tenant: Tenant, query: MetricQuery, *, rollups: bool, now: datetime
) -> list[tuple[Any, ...]]:
    """The summary's figures; `now` fixed, so that both ways age the backlog alike."""
    report = IncidentReport(tenant, query, use_rollups=rollups, now=now)
    if rollups and report.state is None:
        raise CommandError("The rollup is not usable for this query.")
    return [
        (figure.definition.key, figure.count, figure.value, figure.median, figure.p90)
        for figure in report.summary()
    ]


def _agree(live: list[tuple[Any, ...]], rolled: list[tuple[Any, ...]]) -> bool:
    """Both ways give the same figures; means only up to float rounding (the rollup sums
    seconds per day, the live query over the whole period)."""

    def same(a: Any, b: Any) -> bool:
        if isinstance(a, float) and isinstance(b, float):
            return math.isclose(a, b, rel_tol=1e-9)
        return bool(a == b)

    return len(live) == len(rolled) and all(
        same(a, b)
        for left, right in zip(live, rolled, strict=True)
        for a, b in zip(left, right, strict=True)
    )


# --- seeding ------------------------------------------------------------------------------------


def tenant_sizes(count: int, tenants: int) -> list[int]:
    """The first tenant holds about LARGEST_SHARE; the others share the rest by 1/rank, none
    more than the first, which takes what rounding leaves."""
    if tenants == 1:
        return [count]
    largest = round(count * LARGEST_SHARE)
    weights = [1 / rank for rank in range(1, tenants)]
    rest = count - largest
    others = [min(largest, max(1, int(rest * w / sum(weights)))) for w in weights]
    return [count - sum(others), *others]


def seed(count: int, tenants: int, *, analyze: bool, out: OutputWrapper) -> Tenant:
    """The bench tenants `metrics-<N>-<i>` (made once), the largest first; returns it.

    Written a week of history at a time, every tenant's week in turn, so that the table holds
    the tenants' rows interleaved as incidents arriving over time would leave them: seeded one
    tenant after the other, each tenant's rows would sit together and the planner would rather
    read a tenant whole through the tenant index than a range through a time index."""
    sizes = tenant_sizes(count, tenants)
    bench = [
        Tenant.objects.get_or_create(
            slug=f"metrics-{count}-{index:02d}", defaults={"name": f"Metrics bench {index}"}
        )[0]
        for index in range(tenants)
    ]
    seeded = []
    for tenant in bench:
        with rls.tenant_scope(tenant.pk):
            seeded.append(Incident.objects.for_tenant(tenant).count())
    if seeded == sizes:
        return bench[0]
    if any(seeded):
        raise CommandError(f"The bench tenants metrics-{count}-* are half seeded: drop them.")
    out.write(f"Seeding {count} incidents over {tenants} tenants ...")
    now = timezone.now()
    started = time.perf_counter()
    streams = [
        _Stream(tenant, size, now=now, with_sla=tenant == bench[0])
        for tenant, size in zip(bench, sizes, strict=True)
    ]
    weeks = range(HISTORY_DAYS // 7, -1, -1)
    with indexing_deferred("incident"):
        with pgtrigger.ignore(*AUDIT_TRIGGERS):
            for weeks_ago in weeks:
                for stream in streams:
                    stream.write_until(now - timedelta(weeks=weeks_ago))
        for stream in streams:
            with rls.tenant_scope(stream.tenant.pk):
                TenantCounter.objects.update_or_create(
                    tenant=stream.tenant,
                    key=Incident.NUMBER_PREFIX,
                    defaults={"last_value": stream.size},
                )
        seconds = time.perf_counter() - started
        clocks = sum(stream.clocks for stream in streams)
        out.write(
            f"wrote {count} incidents and {clocks} SLA clocks (with their timers) in "
            f"{seconds:.1f} s: {count / seconds:,.0f} incidents/s"
        )
        if analyze:
            # Before the search index is filled (on leaving the block): that scan of freshly
            # loaded, never vacuumed rows took minutes where it takes seconds after a VACUUM.
            vacuum_analyze(("incidents_incident", "incidents_slaclock", "timers_timer"), out)
        indexed = time.perf_counter()
    out.write(f"search index filled once: {time.perf_counter() - indexed:.1f} s")
    out.write(f"seeding in all: {time.perf_counter() - started:.1f} s")
    return bench[0]


def _fixtures(tenant: Tenant) -> Fixtures:
    """A reporter, six agents, three teams, twelve services, eight categories, two policies."""
    users = get_user_model().objects
    prefix = tenant.slug
    names = [f"{prefix}-reporter", *(f"{prefix}-agent-{i}" for i in range(6))]
    people = [users.model(username=name) for name in names]
    for person in people:
        person.set_unusable_password()
    users.bulk_create(people, ignore_conflicts=True)
    ids = dict(users.filter(username__in=names).values_list("username", "pk"))
    teams = Team.objects.bulk_create(
        Team(tenant=tenant, slug=f"team-{kind}", name=f"Team {kind}", kind=kind)
        for kind in (TeamKind.L1, TeamKind.L2, TeamKind.L3)
    )
    services = Service.objects.bulk_create(
        Service(tenant=tenant, slug=f"service-{i}", name=f"Service {i}") for i in range(12)
    )
    categories = Category.objects.bulk_create(
        Category(tenant=tenant, slug=f"category-{i}", name=f"Category {i}") for i in range(8)
    )
    policies: dict[int, SlaPolicy] = {}
    for order, (slug, priorities, response, resolution) in enumerate(POLICIES):
        policy = SlaPolicy.objects.create(
            tenant=tenant,
            slug=slug,
            name=slug.title(),
            order=order,
            priorities=priorities,
            response_target=response,
            resolution_target=resolution,
        )
        policies |= dict.fromkeys(priorities, policy)
    return Fixtures(
        reporter=ids[names[0]],
        agents=[ids[name] for name in names[1:]],
        teams=[team.pk for team in teams],
        services=[service.pk for service in services],
        categories=[category.pk for category in categories],
        policies=policies,
    )


class _Stream:
    """One tenant's incidents, written oldest first, a slice of time per call."""

    def __init__(self, tenant: Tenant, size: int, *, now: datetime, with_sla: bool) -> None:
        self.tenant, self.size, self.now, self.with_sla = tenant, size, now, with_sla
        self.rng = random.Random(tenant.slug)  # noqa: S311 - test data, not security
        with rls.tenant_scope(tenant.pk):
            self.fixtures = _fixtures(tenant)
        # Creation times over the history, oldest first, so that numbers follow time.
        history = HISTORY_DAYS * 86400
        self.created = sorted(
            now - timedelta(seconds=self.rng.random() * history) for _ in range(size)
        )
        self.written = 0
        self.clocks = 0

    def write_until(self, end: datetime) -> None:
        """Write the incidents created before `end` not yet written, in one transaction."""
        first = self.written
        last = bisect.bisect_left(self.created, end) if end < self.now else self.size
        if last <= first:
            return
        batch = self.created[first:last]
        with rls.tenant_scope(self.tenant.pk), connection.cursor() as cursor:
            ids = allocate_ids(cursor, "incidents_incident", len(batch))
            incidents, clocks = [], []
            for offset, (pk, at) in enumerate(zip(ids, batch, strict=True)):
                number = first + offset + 1
                row = incident_row(
                    self.rng, self.fixtures, self.tenant.pk, pk, number, at, self.now
                )
                if self.with_sla:
                    rows = clock_rows(row, self.fixtures, self.now)
                    row["sla_breached"] = any(clock["breached_at"] for clock in rows)
                    running = [clock["due_at"] for clock in rows if clock["due_at"]]
                    row["sla_due_at"] = min(running, default=SLA_NEVER_DUE)
                    clocks.extend(rows)
                incidents.append(row)
            copy_rows(cursor, "incidents_incident", INCIDENT_COLUMNS, incidents)
            if clocks:
                timers = []
                for clock, timer_id in zip(
                    clocks, allocate_ids(cursor, "timers_timer", len(clocks)), strict=True
                ):
                    clock["timer_id"] = timer_id
                    timers.append(
                        {
                            "id": timer_id,
                            "tenant_id": self.tenant.pk,
                            "created_at": clock["created_at"],
                            "updated_at": clock["updated_at"],
                            "kind": sla.TIMER_KIND,
                            # Idle: no threshold left to fire, so a sweep leaves them alone.
                            "step": None,
                            "fire_at": None,
                        }
                    )
                copy_rows(cursor, "timers_timer", TIMER_COLUMNS, timers)
                copy_rows(cursor, "incidents_slaclock", CLOCK_COLUMNS, clocks)
        self.written = last
        self.clocks += len(clocks)


def _lognormal_hours(rng: random.Random, median: float) -> timedelta:
    return timedelta(hours=median * rng.lognormvariate(0, 1.0))


def incident_row(
    rng: random.Random,
    fixtures: Fixtures,
    tenant_id: int,
    pk: int,
    number: int,
    created: datetime,
    now: datetime,
) -> dict[str, Any]:
    """One incident's stored facts, as the services would have written them by `now` (also the
    generator of `benchmarks.seeding`, so both benchmarks see the same mix)."""
    roll = rng.random()
    source = (
        IncidentSource.MONITORING
        if roll < 0.40
        else IncidentSource.PROACTIVE
        if roll < 0.48
        else rng.choice(CUSTOMER_CHANNELS)
    )
    priority = rng.choices((1, 2, 3, 4), PRIORITY_WEIGHTS)[0]
    occurred = detected = None
    if rng.random() < 0.5:  # the fault's start is known for about half
        detected = created - timedelta(minutes=rng.uniform(0, 10))
        occurred = detected - timedelta(minutes=rng.expovariate(1 / 25))
    acknowledged = resolved = closed = None
    status = IncidentStatus.NEW
    cancelled = rng.random() < 0.03
    if rng.random() < 0.96:  # some are never acknowledged (cancelled, or still new)
        candidate = created + timedelta(minutes=rng.expovariate(1 / ACKNOWLEDGE_MINUTES[priority]))
        if candidate <= now:
            acknowledged, status = candidate, IncidentStatus.IN_PROGRESS
    functional = rng.choices((0, 1, 2), (0.72, 0.22, 0.06))[0]
    hierarchical = 1 if rng.random() < (0.25 if priority <= 2 else 0.04) else 0
    reassignments = rng.choices((0, 1, 2, 3), (0.75, 0.15, 0.07, 0.03))[0]
    reopens = rng.choices((0, 1, 2), (0.95, 0.045, 0.005))[0]
    first_contact = False
    updated = acknowledged or created
    if cancelled:
        status = IncidentStatus.CANCELLED
        updated = min(now, updated + _lognormal_hours(rng, 1))
    elif acknowledged is not None:
        candidate = acknowledged + _lognormal_hours(rng, RESOLVE_HOURS[priority]) * (1 + reopens)
        if candidate <= now:
            resolved, status, updated = candidate, IncidentStatus.RESOLVED, candidate
            first_contact = (
                source in CUSTOMER_CHANNELS
                and functional + hierarchical + reassignments == 0
                and rng.random() < 0.6
            )
            candidate = resolved + timedelta(days=3, minutes=rng.uniform(0, 30))
            if rng.random() < 0.3:  # closed by the caller before the automatic closure
                candidate = resolved + timedelta(hours=rng.uniform(1, 48))
            if candidate <= now:
                closed, status, updated = candidate, IncidentStatus.CLOSED, candidate
        elif rng.random() < 0.15:
            status = IncidentStatus.ON_HOLD
    return {
        "id": pk,
        "tenant_id": tenant_id,
        "number": number,
        "created_at": created,
        "updated_at": updated,
        "title": f"Bench incident {number}",
        "description": "",
        "source": source,
        "impact": 1 if priority <= 2 else rng.randint(2, 3),
        "urgency": 1 if priority == 1 else rng.randint(1, 3),
        "priority": priority,
        "status": status,
        "hold_reason": "awaiting_caller" if status == IncidentStatus.ON_HOLD else "",
        "is_major": priority == 1,
        "resolution_code": ResolutionCode.FIXED if resolved else "",
        "resolution_notes": "",
        "occurred_at": occurred,
        "detected_at": detected,
        "acknowledged_at": acknowledged,
        "first_assigned_at": acknowledged,
        "major_declared_at": acknowledged if priority == 1 else None,
        "management_engaged_at": acknowledged if hierarchical else None,
        "resolved_at": resolved,
        "closed_at": closed,
        "escalation_count": functional + hierarchical,
        "functional_escalation_count": functional,
        "hierarchical_escalation_count": hierarchical,
        "reassignment_count": reassignments,
        "reopen_count": reopens,
        "first_contact_resolution": first_contact,
        "version": 2 + reopens + functional + hierarchical + reassignments,
        "assignee_id": rng.choice(fixtures.agents) if acknowledged else None,
        "assignment_team_id": fixtures.teams[min(2, functional)],  # escalated: L2, L3
        "category_id": rng.choice(fixtures.categories),
        "commander_id": None,
        "reported_by_id": fixtures.reporter,
        "service_id": rng.choice(fixtures.services),
        "sla_breached": False,
        "sla_due_at": SLA_NEVER_DUE,
    }


def clock_rows(incident: dict[str, Any], fixtures: Fixtures, now: datetime) -> list[dict[str, Any]]:
    """The incident's response and resolution clocks (24×7): stopped when acknowledged and
    resolved (or cancelled), breached at the due time if they ran past it."""
    policy = fixtures.policies[incident["priority"]]
    created = incident["created_at"]
    cancelled = incident["status"] == IncidentStatus.CANCELLED
    end_of_work = incident["updated_at"] if cancelled else None
    rows = []
    for kind, target, stopped in (
        (SlaClockKind.RESPONSE, policy.response_target, incident["acknowledged_at"] or end_of_work),
        (SlaClockKind.RESOLUTION, policy.resolution_target, incident["resolved_at"] or end_of_work),
    ):
        due = created + target
        breached = due if (stopped or now) > due else None
        rows.append(
            {
                "tenant_id": incident["tenant_id"],
                "created_at": created,
                "updated_at": stopped or created,
                "incident_id": incident["id"],
                "kind": kind,
                "policy_id": policy.pk,
                "target": target,
                "started_at": created,
                "elapsed": (stopped - created) if stopped else timedelta(0),
                "running_since": None if stopped else created,
                "paused_since": None,
                "paused_total": timedelta(0),
                "due_at": None if stopped else due,
                "breached_at": breached,
                "stopped_at": stopped,
            }
        )
    return rows
