"""The benchmark suite's cases and how each is measured in process.

A case names what it measures, how to prepare it (untimed) and what to time: an HTTP request
(`Call`), run in process through the whole Django stack with the test client and, with --http,
over gunicorn (benchmarks/server.py), or a background job run in process only (the SLA sweep,
a trend run, notification delivery). Writes act on fresh records, made beforehand through the
services in the state the action needs, so that every timed request really writes.

Each case gets one warm-up run, one run whose queries are counted, then R timed runs (jobs that
take seconds run once, counted and timed together). Figures are reported, never asserted.

The data: `tenant_for_size(size)` is the one place that chooses the tenant of a size.
"""

from __future__ import annotations

import io
import json
import statistics
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, ExitStack, contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Literal

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.signals import request_started
from django.db import connections, reset_queries
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from benchmarks.seeding import TenantSize, seed_scale
from benchmarks.urls import FLOOR_DETAIL, FLOOR_LIST
from incidents import services
from incidents.choices import HoldReason, ResolutionCode
from incidents.management.commands.benchmark_incident_list import Command as IncidentListCommand
from incidents.management.commands.benchmark_sla_sweep import Command as SlaSweepCommand
from incidents.management.commands.benchmark_sla_sweep import make_due
from incidents.management.commands.benchmark_workspace_pages import (
    Command as WorkspacePagesCommand,
)
from incidents.models import Incident
from itsm.accounts.services import api_token_issue, api_token_revoke_all
from itsm.notifications.choices import EMAIL, IN_APP
from itsm.notifications.delivery import deliveries_deliver_due
from itsm.notifications.management.commands.benchmark_notifications import EVENT
from itsm.notifications.management.commands.benchmark_notifications import (
    Command as NotificationsCommand,
)
from itsm.notifications.registry import register_event_type
from itsm.notifications.smtp_sink import SmtpSink
from itsm.tenancy import rls
from itsm.tenancy.choices import MembershipRole, TeamKind
from itsm.tenancy.models import Membership, Team, TeamMember, Tenant
from itsm.timers.models import Timer, TimerFiring
from itsm.timers.sweep import sweep
from problems import services as problem_services
from problems.management.commands.benchmark_trends import seed as seed_trends

Kind = Literal["floor", "read", "write", "job"]
Auth = Literal["token", "session", "none"]
# Trend analysis runs over at most this many incidents (its own tenant, benchmark_trends').
TREND_INCIDENTS = 100_000
SWEEP_DUE = 10_000
# The SLA sweep runs on benchmark_sla_sweep's tenant of running clocks, at most this many (its
# seeding goes through the ORM: 500,000 would take most of an hour). An idle sweep is one indexed
# query whatever the number of clocks (docs/sla.md measured it at 500,000).
SWEEP_CLOCKS = 10_000
NOTIFICATIONS_PER_DELIVERY = 10
QUERY_LOG_LIMIT = 1_000_000


@dataclass(frozen=True)
class Call:
    """One HTTP request of a case, as a path below the server's root."""

    path: str
    method: str = "GET"
    body: Mapping[str, Any] | None = None
    auth: Auth = "token"
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Case:
    """What is measured. `prepare(n)` makes n runs' inputs (untimed); each input is given to
    `before` (untimed) and then to `request` (an HTTP call) or `job` (in process), timed."""

    key: str
    name: str
    kind: Kind
    # Which floor the ratio is taken against: the list's or the detail's.
    floor: Literal["list", "detail"]
    prepare: Callable[[int], Sequence[Any]]
    request: Callable[[Any], Call] | None = None
    job: Callable[[Any], object] | None = None
    before: Callable[[Any], object] | None = None
    around: Callable[[], AbstractContextManager[object]] = nullcontext
    once: bool = False  # one run, counted and timed together (jobs that take seconds)


@dataclass
class Measurement:
    """A case's figures at one size; the HTTP ones only when it ran over HTTP."""

    case: Case
    size: int
    queries: int
    timings: list[float]  # ms
    cpu: list[float]  # ms of this process's CPU
    http: list[float] = field(default_factory=list)  # ms
    # In process, a request of the case's floor right after each timed run of a request case
    # (ms): the machine's speed drifts within a run, and these drift with the case's own.
    paired_floor: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.timings)

    @property
    def p95(self) -> float:
        return percentile(self.timings, 0.95)

    @property
    def cpu_median(self) -> float:
        return statistics.median(self.cpu)

    @property
    def http_median(self) -> float | None:
        return statistics.median(self.http) if self.http else None

    @property
    def paired_floor_median(self) -> float | None:
        return statistics.median(self.paired_floor) if self.paired_floor else None


def percentile(values: Sequence[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, int(len(ordered) * share + 0.5) - 1)]


# --- The data ------------------------------------------------------------------------------------


def tenant_for_size(size: int, *, analyze: bool = True, out: Any = None) -> Tenant:
    """The tenant `suite-<size>` holding `size` incidents with their history (seeded once by
    benchmarks/seeding.py; reused after, with the incidents the suite itself has created since
    on top): the one place that chooses the suite's data."""
    slug = f"suite-{size}"
    tenant = Tenant.objects.filter(slug=slug).first()
    if tenant is not None:
        with rls.tenant_scope(tenant.pk):
            if Incident.objects.for_tenant(tenant).count() >= size:
                return tenant
    return seed_scale([TenantSize(slug, size)], out=out, analyze=analyze)[0]


@dataclass
class Bench:
    """A size's tenant and what the cases share: the acting agent (in an L1 team), the teams
    they route to, an incident to read, the clients and their credentials."""

    size: int
    tenant: Tenant
    actor: Any
    first_tier: Team
    second_tier: Team
    reference: str
    token: str
    api: Client
    pages: Client
    search_word: str

    @property
    def session_cookie(self) -> str:
        name = settings.SESSION_COOKIE_NAME
        return f"{name}={self.pages.cookies[name].value}"

    def api_path(self, rest: str = "") -> str:
        return f"/api/v1/t/{self.tenant.slug}/{rest}"


def bench_for_size(size: int, *, analyze: bool = True, out: Any = None) -> Bench:
    tenant = tenant_for_size(size, analyze=analyze, out=out)
    actor, first_tier, second_tier = _actor(tenant)
    with rls.tenant_scope(tenant.pk):
        incidents = Incident.objects.for_tenant(tenant).order_by("-number")
        # The reads' incident shows all a detail can: SLA clocks and a problem (any, if none has).
        incident = (
            incidents.filter(sla_clocks__isnull=False, problem_link__isnull=False).first()
            or incidents.filter(number__lte=max(1, size // 2)).first()
        )
    assert incident is not None, f"tenant {tenant.slug} has no incidents"
    # The suite's own agent: the tokens of earlier runs go (a user may hold only so many).
    api_token_revoke_all(user=actor)
    token = api_token_issue(user=actor).key
    pages = Client()
    pages.force_login(actor)
    return Bench(
        size=size,
        tenant=tenant,
        actor=actor,
        first_tier=first_tier,
        second_tier=second_tier,
        reference=incident.reference,
        token=token,
        api=Client(headers={"authorization": f"Token {token}"}),
        pages=pages,
        search_word=_search_word(incident.title),
    )


def _search_word(title: str) -> str:
    """A word of the incident's title to search for: the tenant has incidents that match."""
    words = [word for word in title.lower().split() if word.isalpha() and len(word) > 3]
    return max(words, key=len, default="printer")


def _actor(tenant: Tenant) -> tuple[Any, Team, Team]:
    """The suite's own agent of the tenant, a member of its first L1 team (so it may resolve
    what that team holds), with that team and an L2 team to escalate to (made if missing)."""
    user, _ = get_user_model().objects.get_or_create(username=f"{tenant.slug}-benchmarker")
    with rls.tenant_scope(tenant.pk):
        teams = []
        for kind in (TeamKind.L1, TeamKind.L2):
            team = Team.objects.for_tenant(tenant).filter(kind=kind).order_by("pk").first()
            if team is None:
                team = Team.objects.create(
                    tenant=tenant, slug=f"bench-{kind}", name=f"Bench {kind}", kind=kind
                )
            teams.append(team)
        Membership.objects.get_or_create(
            tenant=tenant, user=user, defaults={"role": MembershipRole.AGENT}
        )
        TeamMember.objects.get_or_create(tenant=tenant, team=teams[0], user=user)
    return user, teams[0], teams[1]


# --- The cases ---------------------------------------------------------------------------------


def cases(bench: Bench) -> list[Case]:
    """Every case of the suite, floors first (the ratios need them)."""
    tenant, detail = bench.tenant, bench.api_path(f"incidents/{bench.reference}/")

    def same(call: Call) -> Callable[[int], list[Call]]:
        return lambda n: [call] * n

    def read(key: str, name: str, floor: Literal["list", "detail"], call: Call) -> Case:
        return Case(key, name, "read", floor, same(call), request=_identity)

    number = int(bench.reference.rpartition("-")[2])
    result = [
        Case(
            "floor",
            "floor: list (bare DRF)",
            "floor",
            "list",
            same(Call("/" + FLOOR_LIST.format(tenant_id=tenant.pk), auth="none")),
            request=_identity,
        ),
        Case(
            "floor",
            "floor: detail (bare DRF)",
            "floor",
            "detail",
            same(Call("/" + FLOOR_DETAIL.format(tenant_id=tenant.pk, number=number), auth="none")),
            request=_identity,
        ),
        read("list", "list: first page", "list", Call(bench.api_path("incidents/"))),
        Case(
            "deep-page",
            "list: page 20",
            "read",
            "list",
            lambda n: [_deep_page(bench)] * n,
            request=_identity,
        ),
        read("detail", "detail", "detail", Call(detail)),
        read(
            "search",
            f"search '{bench.search_word}'",
            "list",
            Call(bench.api_path(f"incidents/?search={bench.search_word}")),
        ),
        read("known-errors", "matching known errors", "detail", Call(f"{detail}knowledge/")),
        read("similar", "similar incidents", "detail", Call(f"{detail}similar/")),
        read("metrics", "metrics summary", "list", Call(bench.api_path("metrics/"))),
        read(
            "queue",
            "page: queue (open)",
            "list",
            Call(f"/t/{tenant.slug}/incidents/?queue=open", auth="session"),
        ),
        Case(
            "record",
            "page: record (30 events)",
            "read",
            "detail",
            lambda n: [_record_page(bench)] * n,
            request=_identity,
        ),
        Case(
            "create",
            "create",
            "write",
            "detail",
            lambda n: [
                Call(
                    bench.api_path("incidents/"),
                    "POST",
                    {"title": f"Benchmark create {i}", "description": "Measured.", "impact": 2},
                )
                for i in range(n)
            ],
            request=_identity,
        ),
    ]
    result += [_action(bench, *spec) for spec in _actions(bench)]
    result += _jobs(bench)
    return result


def _identity(call: Call) -> Call:
    return call


def _deep_page(bench: Bench) -> Call:
    """Page 20 of the list, by cursor (or the last page of a small tenant), as a path."""
    first = bench.api.get(bench.api_path("incidents/")).json()
    url = IncidentListCommand()._deep_page(bench.api, first, 19) if first["next"] else ""
    return Call(url.removeprefix("http://testserver") or bench.api_path("incidents/"))


def _record_page(bench: Bench) -> Call:
    record = WorkspacePagesCommand()._record_with_timeline(bench.tenant, bench.actor)
    return Call(f"/t/{bench.tenant.slug}/incidents/{record.reference}/", auth="session")


# An action: key, path segment, the steps that bring a new incident to the state it needs,
# and its input.
ActionSpec = tuple[str, str, Sequence[str], Mapping[str, Any]]


def _actions(bench: Bench) -> list[ActionSpec]:
    routed = ["assign", "acknowledge"]  # in progress, held by the actor's L1 team
    return [
        ("acknowledge", "acknowledge", [], {}),
        (
            "assign",
            "assign",
            [],
            {"team": bench.first_tier.slug, "assignee": bench.actor.get_username()},
        ),
        (
            "escalate",
            "escalate",
            routed,
            {"kind": "functional", "team": bench.second_tier.slug, "reason": "Needs L2."},
        ),
        ("hold", "hold", routed, {"hold_reason": HoldReason.AWAITING_CALLER}),
        ("resume", "resume", [*routed, "hold"], {"note": "Caller answered."}),
        (
            "resolve",
            "resolve",
            routed,
            {"resolution_code": ResolutionCode.FIXED, "resolution_notes": "Fixed."},
        ),
        ("close", "close", [*routed, "resolve"], {"note": "Confirmed."}),
        ("reopen", "reopen", [*routed, "resolve"], {"reason": "Back again."}),
        ("cancel", "cancel", [], {"reason": "Recorded in error."}),
        (
            "change-priority",
            "change-priority",
            [],
            {"impact": 1, "urgency": 1, "reason": "Wider than reported."},
        ),
        ("comment", "comment", [], {"body": "A public comment."}),
    ]


def _action(
    bench: Bench, key: str, segment: str, steps: Sequence[str], body: Mapping[str, Any]
) -> Case:
    def prepare(n: int) -> list[Call]:
        return [
            Call(bench.api_path(f"incidents/{reference}/{segment}/"), "POST", body)
            for reference in incident_pool(bench, n, steps)
        ]

    return Case(key, key.replace("-", " "), "write", "detail", prepare, request=_identity)


def incident_pool(bench: Bench, count: int, steps: Sequence[str]) -> list[str]:
    """`count` new incidents brought through the services to the state after `steps`."""
    tenant, actor = bench.tenant, bench.actor
    step_calls: dict[str, Callable[[int], object]] = {
        "assign": lambda pk: services.incident_assign(
            tenant=tenant, incident_id=pk, actor=actor, team=bench.first_tier, assignee=actor
        ),
        "acknowledge": lambda pk: services.incident_acknowledge(
            tenant=tenant, incident_id=pk, actor=actor
        ),
        "hold": lambda pk: services.incident_hold(
            tenant=tenant, incident_id=pk, actor=actor, hold_reason=HoldReason.AWAITING_CALLER
        ),
        "resolve": lambda pk: services.incident_resolve(
            tenant=tenant,
            incident_id=pk,
            actor=actor,
            resolution_code=ResolutionCode.FIXED,
            resolution_notes="Fixed.",
        ),
    }
    references = []
    for index in range(count):
        with rls.tenant_scope(tenant.pk):
            incident = services.incident_create(
                tenant=tenant,
                actor=actor,
                data={"title": f"Benchmark pool {index}", "description": "Prepared.", "impact": 2},
            )
            for step in steps:
                step_calls[step](incident.pk)
        references.append(incident.reference)
    return references


def _rearm(tenant: Tenant) -> None:
    """Put the sweep tenant's timers back as benchmark_sla_sweep seeded them (each clock's first
    threshold a month ahead, nothing fired), so that every run fires the same thresholds."""
    with rls.tenant_scope(tenant.pk):
        TimerFiring.objects.for_tenant(tenant).delete()
        Timer.objects.for_tenant(tenant).update(
            step=50, fire_at=timezone.now() + timedelta(days=30)
        )


def _jobs(bench: Bench) -> list[Case]:
    """The background work: the SLA sweep (idle, then with thresholds due), a trend run, and
    the delivery of notifications to an SMTP server."""
    quiet = io.StringIO()
    state: dict[str, Any] = {}

    def sweep_tenant() -> Tenant:
        if "sweep" not in state:
            state["sweep"] = SlaSweepCommand(stdout=quiet)._seed(min(SWEEP_CLOCKS, bench.size))
        return state["sweep"]  # type: ignore[no-any-return]

    def idle(n: int) -> list[None]:
        sweep_tenant()
        return [None] * n

    due = min(SWEEP_DUE, bench.size)

    def due_thresholds(n: int) -> list[None]:
        tenant = sweep_tenant()
        _rearm(tenant)
        make_due(tenant, due)
        return [None]

    def trend_run(n: int) -> list[tuple[Tenant, int]]:
        tenant, user = seed_trends(min(TREND_INCIDENTS, bench.size), quiet)
        with rls.tenant_scope(tenant.pk):
            run = problem_services.trend_run_request(tenant=tenant, actor=user)
        return [(tenant, run.pk)]

    def notifications(n: int) -> list[tuple[Tenant, list[Any]]]:
        register_event_type(EVENT, label="Benchmark", default_channels=(EMAIL, IN_APP))
        command = NotificationsCommand(stdout=quiet)
        tenant, users = command._seed(NOTIFICATIONS_PER_DELIVERY)
        state["notify"] = command
        return [(tenant, users)] * n

    def publish(item: tuple[Tenant, list[Any]]) -> None:
        state["notify"]._publish(*item, NOTIFICATIONS_PER_DELIVERY)

    return [
        Case(
            "sweep-idle",
            f"SLA sweep: idle ({min(SWEEP_CLOCKS, bench.size):,} running clocks)",
            "job",
            "detail",
            idle,
            job=lambda _: sweep(),
        ),
        Case(
            "sweep-due",
            f"SLA sweep: {due:,} due",
            "job",
            "detail",
            due_thresholds,
            job=lambda _: sweep(batch_size=500, max_batches=10_000),
            once=True,
        ),
        Case(
            "trends",
            f"trend run: {min(TREND_INCIDENTS, bench.size):,} incidents",
            "job",
            "detail",
            trend_run,
            job=lambda item: problem_services.trend_run_execute(tenant=item[0], run_id=item[1]),
            once=True,
        ),
        Case(
            "notifications",
            f"notification delivery ({NOTIFICATIONS_PER_DELIVERY} e-mails)",
            "job",
            "detail",
            notifications,
            before=publish,
            job=lambda item: deliveries_deliver_due(tenant_id=item[0].pk),
            around=_smtp_sink,
        ),
    ]


@contextmanager
def _smtp_sink() -> Iterator[SmtpSink]:
    """A local SMTP server the deliveries go to, for the duration of the case."""
    with (
        SmtpSink() as sink,
        override_settings(
            EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
            EMAIL_HOST="127.0.0.1",
            EMAIL_PORT=sink.port,
            EMAIL_USE_TLS=False,
            EMAIL_HOST_USER="",
            EMAIL_HOST_PASSWORD="",
        ),
    ):
        yield sink


# --- Measuring in process ------------------------------------------------------------------------


@contextmanager
def counted_queries() -> Iterator[Callable[[], int]]:
    """Count the statements run on the application's and the platform's connections; the
    count is read after the block."""
    aliases = [alias for alias in ("default", rls.PLATFORM_DB_ALIAS) if alias in connections]
    logs = {alias: connections[alias].queries_log for alias in aliases}
    counted: list[int] = []
    try:
        for alias in aliases:  # room for a job's many thousand statements (Django keeps 9000)
            connections[alias].queries_log = deque(maxlen=QUERY_LOG_LIMIT)
        with ExitStack() as stack:
            contexts = [
                stack.enter_context(CaptureQueriesContext(connections[alias])) for alias in aliases
            ]
            yield lambda: sum(counted)
        counted += [len(context) for context in contexts]
    finally:
        for alias, log in logs.items():
            connections[alias].queries_log = log


@contextmanager
def measuring() -> Iterator[None]:
    """The benchmark URLs in front of every request, and a query log that requests keep (Django
    empties it when a request starts)."""
    request_started.disconnect(reset_queries)
    try:
        with override_settings(ROOT_URLCONF="benchmarks.urls"):
            yield
    finally:
        request_started.connect(reset_queries)


def run_in_process(
    case: Case, bench: Bench, requests: int, floor: Case | None = None
) -> Measurement:
    """Warm up once, count queries once, then time `requests` runs (a `once` case: one run,
    counted and timed), each followed by a timed request of `floor` if given (a request case's
    floor). Call inside `measuring()`."""
    items = list(case.prepare(1 if case.once else requests + 2))
    floor_items = list(floor.prepare(len(items))) if floor is not None else []
    timings: list[float] = []
    cpu: list[float] = []
    paired: list[float] = []
    queries = 0
    with case.around():
        for index, item in enumerate(items):
            if case.before is not None:
                case.before(item)
            counting = case.once or index == 1
            with counted_queries() if counting else nullcontext(lambda: 0) as count:
                started, started_cpu = time.perf_counter(), time.process_time()
                _run(case, bench, item)
                elapsed = (time.perf_counter() - started) * 1000
                elapsed_cpu = (time.process_time() - started_cpu) * 1000
            if counting:
                queries = count()
            if case.once or index >= 2:
                timings.append(elapsed)
                cpu.append(elapsed_cpu)
                if floor is not None:
                    started = time.perf_counter()
                    _run(floor, bench, floor_items[index])
                    paired.append((time.perf_counter() - started) * 1000)
    return Measurement(case, bench.size, queries, timings, cpu, paired_floor=paired)


def _run(case: Case, bench: Bench, item: Any) -> None:
    if case.job is not None:
        case.job(item)
        return
    assert case.request is not None
    call = case.request(item)
    client = bench.pages if call.auth == "session" else bench.api
    response = client.generic(
        call.method,
        call.path,
        json.dumps(call.body) if call.body is not None else "",
        content_type="application/json",
        headers=dict(call.headers),
    )
    assert response.status_code in (200, 201), (case.name, response.status_code, response.content)
