"""Query budgets: the helpers both sweeps (pages and API routes) share.

Each sweep measures every request twice in one tenant: with "small" data (one record of each
kind) and with "large" data (the same plus GROWTH more of each kind, spread over statuses), and
compares the two counts with each other and with a budget pinned in the test module.

The data are built once per module, inside a transaction that is rolled back at the end (as a
regular, non-transactional test's are); each request runs in a savepoint of its own, rolled
back too, so a page that writes (a "seen" mark, a session) leaves nothing for the next one.
"""

import json
import re
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext, override_settings
from django.utils import timezone

from changes.choices import ChangeStatus, ChangeType
from changes.models import ChangeService
from incidents.choices import OPEN_STATUSES, IncidentStatus
from incidents.models import Incident
from incidents.services import incident_comment
from itsm.notifications.registry import channels, event_types
from itsm.tenancy import rls
from itsm.tenancy.choices import MembershipRole
from itsm.tenancy.models import Tenant
from knowledgebase.choices import ArticleAudience, ArticleStatus
from problems.choices import OPEN_PROBLEM_STATUSES, KnownErrorStatus, ProblemStatus
from problems.models import Problem
from problems.services import problem_link_incidents
from tests.factories import (
    FACTORIES,
    ArticleFactory,
    BlackoutWindowFactory,
    ChangeFactory,
    DeliveryFactory,
    IncidentFactory,
    KnownErrorFactory,
    MembershipFactory,
    NotificationPreferenceFactory,
    ProblemFactory,
    SavedViewFactory,
    ServiceFactory,
    TeamFactory,
    TenantFactory,
    UserFactory,
)

# How many more records of each kind the large data set has than the small one.
GROWTH = 15

# What the autouse `_test_settings` fixture sets for each test; module-scoped data need it too
# (the real password hasher costs ~0.5 s a user).
TEST_SETTINGS: dict[str, Any] = {
    "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
    "PASSWORD_HASHERS": ["django.contrib.auth.hashers.MD5PasswordHasher"],
}


@dataclass(frozen=True)
class Measurement:
    """One request's answer: its status, the SQL it sent and (for API lists) how many rows
    it holds in all."""

    status: int
    queries: tuple[str, ...]
    rows: int | None = None
    full: bool = False  # a page with a next one: more rows would not show on it
    error: str | None = None  # what the request raised instead of answering

    @property
    def count(self) -> int:
        return len(self.queries)


@dataclass(frozen=True)
class Sizes:
    small: Measurement
    large: Measurement


@contextmanager
def rolled_back() -> Iterator[None]:
    """A transaction (a savepoint inside another) whose writes are undone on leaving."""
    with transaction.atomic():
        yield
        transaction.set_rollback(True)


@contextmanager
def module_data(django_db_blocker: Any) -> Iterator[None]:
    """Database access for a module-scoped fixture, everything undone at the end."""
    with django_db_blocker.unblock(), override_settings(**TEST_SETTINGS), rolled_back():
        yield


def measure(client: Any, url: str) -> Measurement:
    """The queries of one request, once caches that outlive a request are warm.

    A first, uncounted request fills what the process keeps between requests (content types,
    permissions): their queries are paid once per process, not once per request. An error is
    recorded, not raised: one page's failure must not hide every other page's count.
    """
    try:
        with rolled_back():
            _consume(client.get(url))
        with rolled_back(), CaptureQueriesContext(connection) as captured:
            response = client.get(url)
            body = _consume(response)
    except Exception as error:
        return Measurement(0, (), error=f"{url}: {type(error).__name__}: {error}")
    rows, full = None, False
    if response.get("Content-Type", "").startswith("application/json"):
        data = _json(body)
        if isinstance(data, dict) and isinstance(data.get("results"), list):
            # The total, not the page: a page may be full at both sizes.
            rows = data["count"] if isinstance(data.get("count"), int) else len(data["results"])
            full = bool(data.get("next"))
    return Measurement(
        response.status_code,
        tuple(query["sql"] for query in captured.captured_queries),
        rows,
        full,
    )


def _consume(response: Any) -> bytes:
    # A streamed file runs its queries while it is read.
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content)
    content: bytes = response.content
    return content


def _json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        return None


# --- The two data sizes ---------------------------------------------------------------------


@dataclass(frozen=True)
class Members:
    tenant: Tenant
    admin: Any
    agent: Any
    requester: Any


def members() -> Members:
    """A tenant with an admin, an agent and a requester."""
    tenant = TenantFactory()

    def member(role: str) -> Any:
        return MembershipFactory(tenant=tenant, role=role, user=UserFactory()).user

    return Members(
        tenant,
        member(MembershipRole.TENANT_ADMIN),
        member(MembershipRole.AGENT),
        member(MembershipRole.REQUESTER),
    )


def one_of_each(people: Members) -> None:
    """The small data set: one record of every tenant-owned kind a route serves."""
    add_records(people, 1, first=0)


def add_records(people: Members, count: int = GROWTH, *, first: int = 1) -> None:
    """`count` more of each kind: the main records spread over statuses, owners and the
    members who see them (so that what a requester's or a user's own list shows grows too),
    and one more of every other kind per round, made by its factory. Rounds are numbered from
    `first`, so that a later call adds rows where a round's are unique (a preference)."""
    tenant = people.tenant
    team = TeamFactory(tenant=tenant)
    service = ServiceFactory(tenant=tenant, owner_team=team)
    now = timezone.now()
    for n in range(first, first + count):
        incident_status = list(IncidentStatus)[n % len(IncidentStatus)]
        finished = incident_status in {IncidentStatus.RESOLVED, IncidentStatus.CLOSED}
        IncidentFactory(
            tenant=tenant,
            status=incident_status,
            priority=1 + n % 4,
            reported_by=(people.requester, people.agent, people.admin)[n % 3],
            assignee=(None, people.agent)[n % 2],
            assignment_team=team,
            service=service,
            resolved_at=now if finished else None,
            closed_at=now if incident_status == IncidentStatus.CLOSED else None,
        )
        problem = ProblemFactory(
            tenant=tenant,
            status=list(ProblemStatus)[n % len(ProblemStatus)],
            assignment_team=team,
        )
        KnownErrorFactory(
            tenant=tenant,
            problem=problem,
            status=list(KnownErrorStatus)[n % len(KnownErrorStatus)],
        )
        change_status = CHANGE_STATUSES[n % len(CHANGE_STATUSES)]
        # Changes on a service, overlapping each other and a blackout: the calendar and the
        # conflict checks run all their queries at both sizes.
        change = ChangeFactory(
            tenant=tenant,
            status=change_status,
            change_type=(ChangeType.NORMAL, ChangeType.EMERGENCY)[n % 2],
            planned_start=now + timedelta(hours=n),
            planned_end=now + timedelta(hours=n + 2),
        )
        BlackoutWindowFactory(
            tenant=tenant, starts_at=now + timedelta(hours=n), ends_at=now + timedelta(hours=n + 1)
        )
        with rls.tenant_scope(tenant.pk):
            ChangeService.objects.create(tenant=tenant, change=change, service=service)
        ArticleFactory(
            tenant=tenant,
            status=(ArticleStatus.PUBLISHED, ArticleStatus.DRAFT)[n % 3 == 2],
            audience=(ArticleAudience.REQUESTERS, ArticleAudience.AGENTS)[n % 2],
        )
        # What a user's own lists show: their notifications, saved views and preferences.
        for user in (people.admin, people.requester):
            DeliveryFactory(tenant=tenant, user=user)
            SavedViewFactory(tenant=tenant, user=user)
        kinds = [(kind.name, channel.name) for kind in event_types() for channel in channels()]
        if n < len(kinds):
            event_type, channel = kinds[n]
            NotificationPreferenceFactory(
                tenant=tenant, user=people.admin, event_type=event_type, channel=channel
            )
        for factory in FACTORIES.values():
            factory(tenant=tenant)


def add_history(people: Members, count: int = 3) -> None:
    """Rows under the records already there, so that what a record's own page shows grows
    too: comments and work notes on each open incident, incidents linked to each open
    problem. Made by the services, as the application records them."""
    tenant = people.tenant
    with rls.tenant_scope(tenant.pk):
        incidents = list(
            Incident.objects.for_tenant(tenant)
            .filter(status__in=OPEN_STATUSES)
            .values_list("pk", flat=True)
        )
        problems = list(
            Problem.objects.for_tenant(tenant)
            .filter(status__in=OPEN_PROBLEM_STATUSES)
            .values_list("pk", flat=True)
        )
    for incident_id in incidents:
        for n in range(count):
            with rls.tenant_scope(tenant.pk):
                incident_comment(
                    tenant=tenant,
                    incident_id=incident_id,
                    actor=people.agent,
                    body=f"Looked at it, take {n}.",
                    is_public=n % 2 == 0,
                )
    for problem_id in problems:
        references = [
            str(IncidentFactory(tenant=tenant, reported_by=people.requester).reference)
            for _ in range(count)
        ]
        with rls.tenant_scope(tenant.pk):
            problem_link_incidents(
                tenant=tenant, problem_id=problem_id, actor=people.admin, incidents=references
            )


# The first is the small set's: a change that holds its window shows on the calendar with its
# conflicts, so the small set runs every query the calendar has (it skips them with none).
CHANGE_STATUSES = [
    ChangeStatus.SCHEDULED,
    *(status for status in ChangeStatus if status != ChangeStatus.SCHEDULED),
]


# --- Budgets ----------------------------------------------------------------------------------

_LITERALS = re.compile(r"'(?:[^']|'')*'|\b\d+\b|\bs\d+_x\d+\b")
# A batch's IN list (of values, or of 1-tuples): one query whatever its length.
_IN_LIST = re.compile(r"IN \((?:\?|\(\?\))(?:, (?:\?|\(\?\)))*\)")


def repeating_queries(sizes: Sizes, limit: int = 3) -> list[str]:
    """The statements the large data set sends more often than the small one (literals
    blanked, so that the same query for another row counts as the same)."""
    small = Counter(_normalised(sql) for sql in sizes.small.queries)
    large = Counter(_normalised(sql) for sql in sizes.large.queries)
    grown = (large - small).most_common(limit)
    return [f"{times}x more: {sql[:400]}" for sql, times in grown]


def _normalised(sql: str) -> str:
    return _IN_LIST.sub("IN (...)", _LITERALS.sub("?", sql))


def check_budget(
    name: str, sizes: Sizes | None, budgets: dict[str, int], not_flat: dict[str, int]
) -> None:
    """Fail, naming `name`, if it has no budget, goes over it, or (when pinned as flat) sends
    more queries for more rows."""
    assert sizes is not None, f"{name} was not measured"
    small, large = sizes.small, sizes.large
    for size, measured in (("small", small), ("large", large)):
        assert measured.error is None, f"{name} ({size}) raised {measured.error}"
        assert measured.status == 200, f"{name} ({size}) answered {measured.status}, not 200"
    counts = f"{small.count} queries with 1 of each record, {large.count} with {1 + GROWTH}"
    assert name in budgets or name in not_flat, (
        f"{name} has no query budget ({counts}): add it to BUDGETS (or, if it grows with "
        f"rows, to NOT_FLAT with the reason), pinned at the count this test measures"
    )
    if name in budgets:
        budget = budgets[name]
        assert large.count == small.count, (
            f"{name}: {counts} (budget {budget}): a query per row; repeating: "
            + " | ".join(repeating_queries(sizes))
        )
        assert small.count <= budget, (
            f"{name}: {counts}, over its budget of {budget}: remove the new query, or raise "
            f"the budget in BUDGETS if it is needed"
        )
    else:
        budget = not_flat[name]
        assert large.count <= budget, (
            f"{name}: {counts}, over its budget of {budget} (NOT_FLAT); repeating: "
            + " | ".join(repeating_queries(sizes))
        )
