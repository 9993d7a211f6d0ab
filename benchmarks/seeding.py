"""Data at scale: many tenants of skewed sizes, each with a working service desk's history.

    seed_scale([TenantSize("scale-a", 500_000), TenantSize("scale-b", 2_000)])

Each tenant seeded gets people who can sign in (agents in L1/L2/L3 teams, a problem and a
change manager, an administrator, requesters; password BENCH_PASSWORD), services, categories,
two SLA policies (majors and the rest; the priority matrix is the default one a new tenant
reads), and about two years of history: incidents in a realistic mix of channels, priorities
and statuses (the generator of `benchmark_metrics`, so both benchmarks see the same kind of
data), each with its timeline (created, status changes, comments and work notes: 3 to 6
entries), SLA clocks (and their idle timers) for the open incidents and those of the last 90
days; one problem per 200 incidents, raised after one of them and linked to it and to a few
more of its service, a known error for about a third of them; one change per 100 incidents and
one published knowledge article per 500.

Why it is fast: rows are generated in Python and streamed with COPY into a temporary table,
then moved with one INSERT … SELECT inside the tenant's row-level-security scope, so the
policies and the link triggers still check every row (`itsm.benchmarking.copy_rows`). The
history is written a slice of time at a time, every tenant's slice in turn, so the tables hold
the tenants' rows interleaved as arriving work would leave them. Audit triggers are ignored
(history, not live writes) and the search index is filled once at the end
(`indexing_deferred`), after VACUUM ANALYZE: the backfill's scan of a freshly loaded, never
vacuumed table took minutes where it takes seconds after one.

Idempotent per tenant: a tenant that exists with the planned number of incidents is reused; one
with any other number (a run that stopped half way) is an error: drop it and run again.
"""

from __future__ import annotations

import bisect
import functools
import io
import json
import math
import random
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pgtrigger
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.core.management.base import CommandError, OutputWrapper
from django.db import connection, models
from django.utils import timezone
from psycopg.types.json import Jsonb

from changes.management.commands.seed_demo_changes import change_facts
from changes.models import Change, ChangeService
from incidents import sla
from incidents.choices import (
    DEFAULT_PRIORITY_MATRIX,
    SLA_NEVER_DUE,
    EventKind,
    IncidentStatus,
)
from incidents.management.commands.benchmark_metrics import (
    CLOCK_COLUMNS,
    HISTORY_DAYS,
    INCIDENT_COLUMNS,
    POLICIES,
    TIMER_COLUMNS,
    Fixtures,
    clock_rows,
    incident_row,
)
from incidents.management.commands.seed_demo_history import People
from incidents.models import Incident, SlaPolicy
from itsm.benchmarking import allocate_ids, copy_rows, vacuum_analyze
from itsm.catalog.models import Category, Service
from itsm.search.sql import indexing_deferred
from itsm.tenancy import rls
from itsm.tenancy.choices import MembershipRole, TeamKind
from itsm.tenancy.models import Membership, Team, TeamMember, Tenant
from itsm.tenancy.services import allocate_numbers, tenant_create
from knowledgebase.choices import ArticleAudience, ArticleStatus
from knowledgebase.models import Article, ArticleVersion
from knowledgebase.rendering import render_markdown
from problems.choices import REVIEW_TIMER_KIND, KnownErrorStatus
from problems.management.commands.seed_demo_problem_history import problem_facts
from problems.models import KnownError, Problem, ProblemIncident, ProblemService

# Every seeded person signs in with this password (bench data only; one hash for all of them,
# since hashing hundreds of passwords would take minutes).
BENCH_PASSWORD = "bench-password-2026"  # noqa: S105 - bench data, documented
SEED_MARK = "Seeded at scale (benchmarks.seeding)."
SLICE = timedelta(days=28)  # the history written per tenant and transaction
MIN_BATCH = 2_000  # fewer incidents wait for the next slice (small tenants: few transactions)
RECENT = timedelta(days=90)  # incidents this young keep their SLA clocks, as open ones do
INCIDENTS_PER_PROBLEM = 200
PROBLEMS_PER_KNOWN_ERROR = 3
INCIDENTS_PER_CHANGE = 100
INCIDENTS_PER_ARTICLE = 500
STALE = timedelta(days=30)  # a new incident nobody took by then was cancelled
LINK_WINDOW = timedelta(days=14)  # a problem takes incidents of its service this recent
OPEN_STATUSES = (IncidentStatus.NEW, IncidentStatus.IN_PROGRESS, IncidentStatus.ON_HOLD)
AUDITED = ("incidents.Incident", "problems.Problem", "problems.KnownError")
AUDIT_TRIGGERS = [
    f"{model}:audit_{op}"
    for model in (*AUDITED, "changes.Change", "knowledgebase.Article")
    for op in ("insert", "update", "delete")
]
VACUUMED = (
    "incidents_incident",
    "incidents_incidentevent",
    "incidents_slaclock",
    "timers_timer",
    "problems_problem",
    "problems_problemincident",
    "problems_knownerror",
    "changes_change",
    "knowledgebase_article",
)
SERVICES = (
    "Email",
    "VPN",
    "Payroll",
    "CRM",
    "Wi-Fi",
    "Printing",
    "Laptops",
    "HR portal",
    "ERP",
    "Telephony",
    "File shares",
    "Intranet",
)
CATEGORIES = ("Access", "Hardware", "Software", "Network", "Performance", "Data", "Security")
SYMPTOMS = (
    "{} is down",
    "Cannot log in to {}",
    "{} very slow since this morning",
    "Error 500 when saving in {}",
    "{} not reachable from the office",
    "Password reset for {} fails",
    "{} shows wrong data",
    "Timeouts on {} during peak hours",
    "{} crashes on start",
    "Missing permissions in {}",
)
NOTES = (
    "Asked the caller for a screenshot of the error.",
    "Reproduced on a test account; looking at the logs.",
    "Restarted the service on the first node, watching.",
    "Caller confirms it happens on every attempt.",
    "Checked the monitoring: error rate up since 08:10.",
    "Escalation considered; the workaround holds for now.",
)
# The impact × urgency cells that give each priority in the matrix a new tenant reads (it keeps
# the default: no overrides are seeded), so that every incident's rating agrees with it.
CELLS = {
    priority: [cell for cell, given in DEFAULT_PRIORITY_MATRIX.items() if given == priority]
    for priority in set(DEFAULT_PRIORITY_MATRIX.values())
}
EVENT_COLUMNS = (
    "tenant_id",
    "created_at",
    "updated_at",
    "incident_id",
    "kind",
    "is_public",
    "from_status",
    "to_status",
    "body",
    "data",
    "actor_id",
)


@dataclass(frozen=True)
class TenantSize:
    """One tenant of a plan: its slug and how many incidents it holds."""

    slug: str
    incidents: int
    name: str = ""  # the slug, titled, when empty


def scale_plan(total: int, tenants: int, largest: int) -> list[TenantSize]:
    """`tenants` tenants `scale-<total>-<i>`: the first holds `largest` incidents, the others
    share the rest by 1/rank (the second takes what rounding leaves), none more than the first."""
    if tenants < 1 or not 0 < largest <= total or (tenants == 1 and largest != total):
        raise CommandError("Give a largest tenant within the total, and the rest to the others.")
    if total - largest < tenants - 1:
        raise CommandError("Give at least one incident to every other tenant.")
    sizes = [largest]
    if tenants > 1:
        rest = total - largest
        weights = [1 / rank for rank in range(1, tenants)]
        others = [min(largest, max(1, int(rest * w / sum(weights)))) for w in weights]
        others[0] += rest - sum(others)
        sizes += others
    return [
        TenantSize(f"scale-{total}-{index:03d}", size, f"Scale {total} tenant {index}")
        for index, size in enumerate(sizes)
    ]


@dataclass(frozen=True)
class Expected:
    """How many records of each kind a tenant of `incidents` incidents gets (at least one)."""

    incidents: int
    problems: int
    changes: int
    articles: int

    @classmethod
    def of(cls, incidents: int) -> Expected:
        def share(per: int) -> int:
            return max(1, round(incidents / per))

        return cls(
            incidents,
            share(INCIDENTS_PER_PROBLEM),
            share(INCIDENTS_PER_CHANGE),
            share(INCIDENTS_PER_ARTICLE),
        )


def seed_scale(
    plan: Sequence[TenantSize], *, out: OutputWrapper | None = None, analyze: bool = True
) -> list[Tenant]:
    """The plan's tenants, seeded if new (see the module); returned in the plan's order.

    Enter outside any transaction for the fast path (deferred indexing, VACUUM); inside one (a
    test's), the search triggers index row by row and `analyze` must be False.
    """
    out = out or OutputWrapper(io.StringIO())
    tenants, todo = _resolve(plan)
    if not todo:
        return tenants
    count = sum(size.incidents for _tenant, size in todo)
    out.write(f"Seeding {count:,} incidents over {len(todo)} tenants ...")
    phases = _Phases(out)
    now = timezone.now()
    with phases.run("tenants, people, services, SLA policies"):
        streams = [_Stream(tenant, size, now=now) for tenant, size in todo]
    with indexing_deferred("incident", "known_error", "article"):
        with pgtrigger.ignore(*AUDIT_TRIGGERS):
            with phases.run("incidents, timelines, SLA clocks, problems, known errors"):
                for end in _slice_ends(now):
                    for stream in streams:
                        stream.write_until(end)
            totals = _Totals.of(streams)
            out.write(
                f"  {totals.incidents:,} incidents, {totals.events:,} events, "
                f"{totals.clocks:,} SLA clocks, {totals.problems:,} problems "
                f"({totals.links:,} incidents linked), {totals.known_errors:,} known errors"
            )
            with phases.run("changes"):
                changes = sum(stream.write_changes() for stream in streams)
            out.write(f"  {changes:,} changes")
            with phases.run("knowledge articles"):
                articles = sum(stream.write_articles() for stream in streams)
            out.write(f"  {articles:,} articles")
        if analyze:
            vacuum_analyze(VACUUMED, out)
        indexing = time.perf_counter()
    if connection.vendor == "postgresql" and not connection.in_atomic_block:
        out.write(f"search index filled once: {time.perf_counter() - indexing:.1f} s")
    phases.total()
    return tenants


def _slice_ends(now: datetime) -> list[datetime]:
    """The ends of the slices of history written in turn, the last one `now`."""
    start = now - timedelta(days=HISTORY_DAYS)
    return [start + SLICE * k for k in range(1, math.ceil(HISTORY_DAYS / SLICE.days))] + [now]


# --- Plan and tenants ---------------------------------------------------------------------------


class _Phases:
    """Wall time per phase, written as each ends, and in all."""

    def __init__(self, out: OutputWrapper) -> None:
        self.out, self.started = out, time.perf_counter()

    @contextmanager
    def run(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        yield
        self.out.write(f"{name}: {time.perf_counter() - started:.1f} s")

    def total(self) -> None:
        self.out.write(f"seeding in all: {time.perf_counter() - self.started:.1f} s")


def _resolve(plan: Sequence[TenantSize]) -> tuple[list[Tenant], list[tuple[Tenant, TenantSize]]]:
    """Each planned tenant, made if new; and those still to seed."""
    if len({size.slug for size in plan}) != len(plan):
        raise CommandError("A plan names each tenant once.")
    tenants, todo = [], []
    for size in plan:
        if size.incidents < 1:
            raise CommandError(f"{size.slug}: give it at least one incident.")
        tenant = Tenant.objects.filter(slug=size.slug).first()
        if tenant is None:
            tenant = tenant_create(name=size.name or size.slug.title(), slug=size.slug)
            todo.append((tenant, size))
        else:
            with rls.tenant_scope(tenant.pk):
                held = Incident.objects.for_tenant(tenant).count()
            if held != size.incidents:
                raise CommandError(
                    f"Tenant {size.slug} exists with {held} incidents, not {size.incidents}: "
                    "half seeded, or another plan's. Drop it (or the database) and run again."
                )
        tenants.append(tenant)
    return tenants, todo


@functools.cache
def _password_hash() -> str:
    return make_password(BENCH_PASSWORD)


def _people(tenant: Tenant, size: int) -> tuple[People, dict[int, SlaPolicy], list[int]]:
    """The tenant's people, teams, services, categories and SLA policies (as an administrator
    would set them up); returns them as the generators take them, the policies by priority
    and the requesters."""
    agents_per_team = {
        TeamKind.L1: min(30, 3 + size // 20_000),
        TeamKind.L2: min(15, 2 + size // 50_000),
        TeamKind.L3: min(8, 1 + size // 100_000),
    }
    users = get_user_model()
    password = _password_hash()
    slug = tenant.slug
    roles: dict[str, str] = {f"{slug}-admin": MembershipRole.TENANT_ADMIN}
    roles |= {f"{slug}-problem-manager": MembershipRole.PROBLEM_MANAGER}
    roles |= {f"{slug}-change-manager": MembershipRole.CHANGE_MANAGER}
    by_team: dict[str, list[str]] = {}
    for kind, count in agents_per_team.items():
        by_team[kind] = [f"{slug}-{kind}-agent-{i}" for i in range(count)]
        roles |= dict.fromkeys(by_team[kind], MembershipRole.AGENT)
    roles |= {f"{slug}-requester-{i}": MembershipRole.REQUESTER for i in range(8)}
    users.objects.bulk_create(
        [users(username=name, email=f"{name}@bench.example", password=password) for name in roles]
    )
    ids = dict(users.objects.filter(username__in=roles).values_list("username", "pk"))
    Membership.objects.bulk_create(
        Membership(tenant=tenant, user_id=ids[name], role=role) for name, role in roles.items()
    )
    teams: dict[str, Team] = {}
    for kind in (TeamKind.L3, TeamKind.L2, TeamKind.L1):  # each escalates to the one above
        teams[kind] = Team.objects.create(
            tenant=tenant,
            slug=f"team-{kind}",
            name=str(TeamKind(kind).label),
            kind=kind,
            escalation_team=teams.get(TeamKind.L3 if kind == TeamKind.L2 else TeamKind.L2),
        )
    TeamMember.objects.bulk_create(
        TeamMember(tenant=tenant, team=teams[kind], user_id=ids[name], is_lead=index == 0)
        for kind, names in by_team.items()
        for index, name in enumerate(names)
    )
    services = Service.objects.bulk_create(
        Service(tenant=tenant, slug=f"service-{i}", name=name) for i, name in enumerate(SERVICES)
    )
    categories = Category.objects.bulk_create(
        Category(tenant=tenant, slug=f"category-{i}", name=name)
        for i, name in enumerate(CATEGORIES)
    )
    policies: dict[int, SlaPolicy] = {}
    for order, (policy_slug, priorities, response, resolution) in enumerate(POLICIES):
        policy = sla.sla_policy_create(
            tenant=tenant,
            data={
                "slug": policy_slug,
                "name": policy_slug.title(),
                "order": order,
                "priorities": priorities,
                "response_target": response,
                "resolution_target": resolution,
            },
        )
        policies |= dict.fromkeys(priorities, policy)
    agents = [ids[name] for names in by_team.values() for name in names]
    people = People(
        requesters=[ids[name] for name, role in roles.items() if role == MembershipRole.REQUESTER],
        agents=agents,
        first_line=teams[TeamKind.L1].pk,
        escalation_teams=[teams[TeamKind.L2].pk, teams[TeamKind.L3].pk],
        members={teams[kind].pk: [ids[name] for name in by_team[kind]] for kind in by_team},
        services=[(service.pk, service.name) for service in services],
        categories=[category.pk for category in categories],
    )
    return people, policies, people.requesters


# --- Writing a tenant's history -----------------------------------------------------------------


@contextmanager
def _bulk_scope(tenant: Tenant) -> Iterator[Any]:
    """A transaction in the tenant's scope whose commit does not wait for the disk: bench data,
    and a crash loses at most the last transactions, which the next run reports as half seeded.
    """
    with rls.tenant_scope(tenant.pk), connection.cursor() as cursor:
        cursor.execute("SET LOCAL synchronous_commit = off")
        yield cursor


def _row(model: type[models.Model], values: dict[str, Any]) -> dict[str, Any]:
    """A full row of the model's table by column: the values given, the fields' defaults for
    the rest (the id left to the sequence unless given)."""
    row: dict[str, Any] = {}
    for model_field in model._meta.concrete_fields:
        column = str(model_field.column)
        if column in values:
            value = values[column]
        elif model_field.primary_key:
            continue
        else:
            value = model_field.get_default()
        if isinstance(model_field, models.JSONField):
            value = Jsonb(value)
        row[column] = value
    return row


def _copy_model(cursor: Any, model: type[models.Model], rows: list[dict[str, Any]]) -> None:
    if rows:
        copy_rows(cursor, model._meta.db_table, list(rows[0]), rows)


@dataclass
class _Totals:
    incidents: int = 0
    events: int = 0
    clocks: int = 0
    problems: int = 0
    links: int = 0
    known_errors: int = 0

    @classmethod
    def of(cls, streams: Sequence[_Stream]) -> _Totals:
        totals = cls()
        for stream in streams:
            for name in ("incidents", "events", "clocks", "problems", "links", "known_errors"):
                setattr(totals, name, getattr(totals, name) + getattr(stream.totals, name))
        return totals


@dataclass
class _Slice:
    """What one transaction writes for a tenant."""

    incidents: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    clocks: list[dict[str, Any]] = field(default_factory=list)
    timers: list[dict[str, Any]] = field(default_factory=list)
    problems: list[dict[str, Any]] = field(default_factory=list)
    services: list[dict[str, Any]] = field(default_factory=list)
    links: list[dict[str, Any]] = field(default_factory=list)
    known_errors: list[dict[str, Any]] = field(default_factory=list)


class _Stream:
    """One tenant's history, written oldest first, a slice of time per call."""

    def __init__(self, tenant: Tenant, size: TenantSize, *, now: datetime) -> None:
        self.tenant, self.size, self.now = tenant, size.incidents, now
        self.expected = Expected.of(size.incidents)
        self.rng = random.Random(tenant.slug)  # noqa: S311 - test data, not security
        with rls.tenant_scope(tenant.pk):
            self.people, self.policies, self.requesters = _people(tenant, self.size)
        self.fixtures = Fixtures(
            reporter=self.requesters[0],
            agents=self.people.agents,
            teams=[self.people.first_line or 0, *self.people.escalation_teams],
            services=[pk for pk, _name in self.people.services],
            categories=self.people.categories,
            policies=self.policies,
        )
        self.service_names = dict(self.people.services)
        # Creation times over the history, oldest first, so that numbers follow time; the
        # incidents after which a problem is raised, spread over them.
        history = HISTORY_DAYS * 86400
        self.created = sorted(
            now - timedelta(seconds=self.rng.random() * history) for _ in range(self.size)
        )
        self.anchors = sorted(self.rng.sample(range(self.size), self.expected.problems))
        self.written = 0
        self.linked: set[int] = set()  # incident ids a problem took
        self.totals = _Totals()

    # Incidents, their timelines and clocks, and the problems raised after them.

    def write_until(self, end: datetime) -> None:
        """Write the incidents created before `end` not yet written, in one transaction."""
        first = self.written
        last = bisect.bisect_left(self.created, end) if end < self.now else self.size
        if last <= first or (last - first < MIN_BATCH and last < self.size):
            return
        work = _Slice()
        with _bulk_scope(self.tenant) as cursor:
            ids = allocate_ids(cursor, "incidents_incident", last - first)
            numbers = allocate_numbers(
                tenant=self.tenant, key=Incident.NUMBER_PREFIX, count=last - first
            )
            for pk, number, at in zip(ids, numbers, self.created[first:last], strict=True):
                self._incident(work, pk, number, at)
            anchors = self.anchors[
                bisect.bisect_left(self.anchors, first) : bisect.bisect_left(self.anchors, last)
            ]
            if anchors:
                self._problems(cursor, work, [index - first for index in anchors])
            timer_ids = allocate_ids(cursor, "timers_timer", len(work.timers))
            for timer, pk in zip(work.timers, timer_ids, strict=True):
                timer["id"] = pk
            # The clocks and problems held their timers' rows until the ids were drawn.
            for clock in work.clocks:
                clock["timer_id"] = clock.pop("timer")["id"]
            for problem in work.problems:
                problem["review_timer_id"] = problem.pop("timer")["id"]
            for table, columns, rows in (
                ("incidents_incident", INCIDENT_COLUMNS, work.incidents),
                ("incidents_incidentevent", EVENT_COLUMNS, work.events),
                ("timers_timer", TIMER_COLUMNS, work.timers),
                ("incidents_slaclock", CLOCK_COLUMNS, work.clocks),
            ):
                if rows:
                    copy_rows(cursor, table, columns, rows)
            _copy_model(cursor, Problem, [_row(Problem, row) for row in work.problems])
            _copy_model(cursor, ProblemService, work.services)
            _copy_model(cursor, ProblemIncident, work.links)
            _copy_model(cursor, KnownError, work.known_errors)
        self.written = last
        totals = self.totals
        totals.incidents += len(work.incidents)
        totals.events += len(work.events)
        totals.clocks += len(work.clocks)
        totals.problems += len(work.problems)
        totals.links += len(work.links)
        totals.known_errors += len(work.known_errors)

    def _timer(self, work: _Slice, kind: str, at: datetime, updated: datetime) -> dict[str, Any]:
        # Idle: no threshold left to fire (or no review date), so a sweep leaves them alone.
        timer = {
            "id": None,
            "tenant_id": self.tenant.pk,
            "created_at": at,
            "updated_at": updated,
            "kind": kind,
            "step": None,
            "fire_at": None,
        }
        work.timers.append(timer)
        return timer

    def _incident(self, work: _Slice, pk: int, number: int, at: datetime) -> None:
        rng, now = self.rng, self.now
        row = incident_row(rng, self.fixtures, self.tenant.pk, pk, number, at, now)
        service = self.service_names[row["service_id"]]
        row["title"] = rng.choice(SYMPTOMS).format(service)
        row["description"] = f"Reported through {row['source']}. {SEED_MARK}"
        row["reported_by_id"] = rng.choice(self.requesters)
        row["impact"], row["urgency"] = rng.choice(CELLS[row["priority"]])
        if row["status"] == IncidentStatus.NEW and at < now - STALE:
            # Never taken: a desk cancels such calls within days, it does not keep them for years.
            row["status"] = IncidentStatus.CANCELLED
            row["updated_at"] = at + timedelta(days=rng.uniform(1, 14))
        held = None
        if row["status"] == IncidentStatus.ON_HOLD:
            held = min(now, row["acknowledged_at"] + timedelta(hours=rng.uniform(0.5, 24)))
            row["updated_at"] = held
        if row["status"] in OPEN_STATUSES or at >= now - RECENT:
            clocks = clock_rows(row, self.fixtures, now)
            if (
                held is not None
                and row["hold_reason"] in self.policies[row["priority"]].pause_hold_reasons
            ):
                self._pause(clocks[1], held)
            row["sla_breached"] = any(clock["breached_at"] for clock in clocks)
            row["sla_due_at"] = min(
                (clock["due_at"] for clock in clocks if clock["running_since"]),
                default=SLA_NEVER_DUE,
            )
            for clock in clocks:
                clock["timer"] = self._timer(
                    work, sla.TIMER_KIND, clock["created_at"], clock["updated_at"]
                )
            work.clocks.extend(clocks)
        work.incidents.append(row)
        self._timeline(work, row, held)

    def _pause(self, clock: dict[str, Any], held: datetime) -> None:
        """The resolution clock of an incident on hold for a reason that pauses it: paused since
        then, with the time used before."""
        if clock["stopped_at"] is not None:
            return
        due = clock["started_at"] + clock["target"]
        clock |= {
            "elapsed": held - clock["started_at"],
            "running_since": None,
            "paused_since": held,
            "due_at": None,
            "breached_at": due if held > due else None,
            "updated_at": held,
        }

    def _timeline(self, work: _Slice, row: dict[str, Any], held: datetime | None) -> None:
        """Created, each status change, and comments and work notes between: 3 to 6 entries."""
        rng, status = self.rng, IncidentStatus
        created = row["created_at"]
        worker = row["assignee_id"] or rng.choice(self.people.agents)
        steps: list[tuple[datetime, str, str, int]] = []  # when, from, to, actor
        previous = status.NEW
        for at, to in (
            (row["acknowledged_at"], status.IN_PROGRESS),
            (held, status.ON_HOLD),
            (row["resolved_at"], status.RESOLVED),
            (row["closed_at"], status.CLOSED),
        ):
            if at is not None:
                steps.append((at, previous, to, worker))
                previous = to
        if row["status"] == status.CANCELLED:
            steps.append((row["updated_at"], previous, status.CANCELLED, worker))
        events = [
            self._event(row, created, EventKind.CREATED, row["reported_by_id"], to=status.NEW)
        ]
        events[0]["data"] = json.dumps({"priority": row["priority"], "source": row["source"]})
        events += [
            self._event(row, at, EventKind.STATUS, actor, before=before, to=to)
            for at, before, to, actor in steps
        ]
        last = steps[-1][0] if steps else min(self.now, created + timedelta(days=3))
        for _ in range(max(0, rng.randint(3, 6) - len(events))):
            public = rng.random() < 0.4
            at = created + (last - created) * rng.random()
            actor = row["reported_by_id"] if public and rng.random() < 0.5 else worker
            kind = EventKind.COMMENT if public else EventKind.WORK_NOTE
            events.append(self._event(row, at, kind, actor, body=rng.choice(NOTES)))
        work.events += events

    def _event(
        self,
        row: dict[str, Any],
        at: datetime,
        kind: str,
        actor: int,
        *,
        before: str = "",
        to: str = "",
        body: str = "",
    ) -> dict[str, Any]:
        return {
            "tenant_id": self.tenant.pk,
            "created_at": at,
            "updated_at": at,
            "incident_id": row["id"],
            "kind": kind,
            "is_public": kind != EventKind.WORK_NOTE,
            "from_status": before,
            "to_status": to,
            "body": body,
            "data": "{}",
            "actor_id": actor,
        }

    def _problems(self, cursor: Any, work: _Slice, anchors: list[int]) -> None:
        """A problem raised after each anchor incident, on its service, taking it and a few
        incidents of that service from the days before; a known error for about a third."""
        rng, now = self.rng, self.now
        ids = allocate_ids(cursor, "problems_problem", len(anchors))
        numbers = allocate_numbers(
            tenant=self.tenant, key=Problem.NUMBER_PREFIX, count=len(anchors)
        )
        known: list[dict[str, Any]] = []
        for pk, number, index in zip(ids, numbers, anchors, strict=True):
            anchor = work.incidents[index]
            at = min(anchor["created_at"] + timedelta(hours=rng.uniform(1, 48)), now)
            service = (anchor["service_id"], self.service_names[anchor["service_id"]])
            facts = problem_facts(rng, replace(self.people, services=[service]), at, now)
            service_id = facts.pop("service_id")
            updated = facts.pop("updated_at")
            problem = facts | {
                "id": pk,
                "tenant_id": self.tenant.pk,
                "number": number,
                "created_at": at,
                "updated_at": max(updated, at),
                "description": SEED_MARK,
            }
            problem["timer"] = self._timer(work, REVIEW_TIMER_KIND, at, problem["updated_at"])
            work.problems.append(problem)
            work.services.append(
                _row(
                    ProblemService,
                    {
                        "tenant_id": self.tenant.pk,
                        "created_at": at,
                        "updated_at": at,
                        "problem_id": pk,
                        "service_id": service_id,
                    },
                )
            )
            self._link(work, problem, index)
            if facts["root_cause_identified_at"] is not None:
                known.append(problem)
        # About one known error per PROBLEMS_PER_KNOWN_ERROR problems, from those whose root
        # cause is known, so that the tenant's running share stays near it.
        made = self.totals.problems + len(work.problems)
        owed = math.ceil(made / PROBLEMS_PER_KNOWN_ERROR) - self.totals.known_errors
        for problem in known[: max(0, owed)]:
            self._known_error(cursor, work, problem)

    def _link(self, work: _Slice, problem: dict[str, Any], index: int) -> None:
        """The anchor incident and up to three earlier ones of its service, not yet taken."""
        anchor = work.incidents[index]
        wanted, taken = self.rng.randint(1, 4), 0
        for incident in reversed(work.incidents[max(0, index - 200) : index + 1]):
            if taken == wanted:
                break
            if (
                incident["service_id"] != anchor["service_id"]
                or incident["id"] in self.linked
                or incident["created_at"] < problem["created_at"] - LINK_WINDOW
            ):
                continue
            self.linked.add(incident["id"])
            taken += 1
            work.links.append(
                _row(
                    ProblemIncident,
                    {
                        "tenant_id": self.tenant.pk,
                        "created_at": problem["created_at"],
                        "updated_at": problem["created_at"],
                        "problem_id": problem["id"],
                        "incident_id": incident["id"],
                        "linked_by_id": problem["problem_manager_id"],
                    },
                )
            )

    def _known_error(self, cursor: Any, work: _Slice, problem: dict[str, Any]) -> None:
        (number,) = allocate_numbers(tenant=self.tenant, key=KnownError.NUMBER_PREFIX, count=1)
        published = problem["root_cause_identified_at"]
        work.known_errors.append(
            _row(
                KnownError,
                {
                    "tenant_id": self.tenant.pk,
                    "created_at": published,
                    "updated_at": published,
                    "number": number,
                    "problem_id": problem["id"],
                    "title": f"Known error: {problem['title']}"[:200],
                    "symptoms": problem["title"],
                    "workaround": problem["workaround"] or "Restart the affected component.",
                    "root_cause": problem["root_cause"],
                    "status": KnownErrorStatus.PUBLISHED,
                    "published_at": published,
                    "version": 2,  # recorded, then published
                },
            )
        )

    # Changes and articles: a few per tenant, written in one transaction each.

    def write_changes(self) -> int:
        """Past changes over the history (most closed, some in review or cancelled), each on a
        service; drawn by the demo history's generator."""
        rng, now = self.rng, self.now
        facts: list[dict[str, Any]] = []
        for _ in range(self.expected.changes * 20):  # a day too recent for the work: retry
            if len(facts) == self.expected.changes:
                break
            day = now - timedelta(days=rng.randint(1, HISTORY_DAYS))
            day = datetime(day.year, day.month, day.day, tzinfo=UTC)
            found = change_facts(rng, self.people, day, now)
            if found is not None:
                found["description"] = SEED_MARK
                facts.append(found)
        facts.sort(key=lambda found: found["created_at"])
        with _bulk_scope(self.tenant) as cursor:
            ids = allocate_ids(cursor, "changes_change", len(facts))
            numbers = allocate_numbers(
                tenant=self.tenant, key=Change.NUMBER_PREFIX, count=len(facts)
            )
            changes, services = [], []
            for pk, number, found in zip(ids, numbers, facts, strict=True):
                service_id = found.pop("service_id")
                changes.append(
                    _row(Change, found | {"id": pk, "tenant_id": self.tenant.pk, "number": number})
                )
                services.append(
                    _row(
                        ChangeService,
                        {
                            "tenant_id": self.tenant.pk,
                            "created_at": found["created_at"],
                            "updated_at": found["created_at"],
                            "change_id": pk,
                            "service_id": service_id,
                        },
                    )
                )
            _copy_model(cursor, Change, changes)
            _copy_model(cursor, ChangeService, services)
        return len(changes)

    def write_articles(self) -> int:
        """Published how-to articles on the services, for agents or requesters too, each with
        its first version."""
        rng, now = self.rng, self.now
        count = self.expected.articles
        created = sorted(
            now - timedelta(seconds=rng.random() * HISTORY_DAYS * 86400) for _ in range(count)
        )
        with _bulk_scope(self.tenant) as cursor:
            ids = allocate_ids(cursor, "knowledgebase_article", count)
            numbers = allocate_numbers(tenant=self.tenant, key=Article.NUMBER_PREFIX, count=count)
            articles, versions = [], []
            for pk, number, at in zip(ids, numbers, created, strict=True):
                service_id, service = rng.choice(self.people.services)
                symptom = rng.choice(SYMPTOMS).format(service)
                title = f"How to fix: {symptom}"[:200]
                summary = f"What to check and do when {symptom[0].lower()}{symptom[1:]}."
                body = (
                    f"## Symptoms\n\n{symptom}.\n\n## Steps\n\n"
                    f"1. Check the {service} status page.\n"
                    f"2. {rng.choice(NOTES)}\n"
                    "3. If it persists, raise an incident with the error message.\n"
                )
                author = rng.choice(self.people.agents)
                published = min(now, at + timedelta(days=rng.uniform(0.1, 7)))
                text = {"title": title, "summary": summary, "body": body}
                articles.append(
                    _row(
                        Article,
                        text
                        | {
                            "id": pk,
                            "tenant_id": self.tenant.pk,
                            "number": number,
                            "created_at": at,
                            "updated_at": published,
                            "body_html": render_markdown(body),
                            "status": ArticleStatus.PUBLISHED,
                            "audience": rng.choice(ArticleAudience.values),
                            "service_id": service_id,
                            "category_id": rng.choice(self.people.categories),
                            "author_id": author,
                            "owner_id": author,
                            "published_at": published,
                            "version": 3,  # created, submitted, published
                        },
                    )
                )
                versions.append(
                    _row(
                        ArticleVersion,
                        text
                        | {
                            "tenant_id": self.tenant.pk,
                            "created_at": at,
                            "updated_at": at,
                            "article_id": pk,
                            "number": 1,
                            "author_id": author,
                            "status": ArticleStatus.DRAFT,
                        },
                    )
                )
            _copy_model(cursor, Article, articles)
            _copy_model(cursor, ArticleVersion, versions)
        return len(articles)
