"""The incident API's query budgets, pinned: what one request sends to PostgreSQL, at two data
sizes (the count must not grow with the tenant).

The tests are transactional so each request's transaction is the outermost one, as in
production: the counts are the statements production sends (no savepoints of a test's own
transaction). A change that adds a query fails here with the request and its statements; a
change that removes one fails too, until the pin is lowered: the pins are the record of what a
request costs (docs/benchmarks.md has the times).
"""

from collections.abc import Callable
from functools import partial
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from incidents import services
from incidents.models import Incident
from itsm.tenancy import rls
from tests.factories import SlaPolicyFactory
from tests.incidents.conftest import Desk, make_incident

pytestmark = pytest.mark.django_db(transaction=True)

# Every request: BEGIN and COMMIT of its transaction, and one statement that reads the API token
# with its user and enters the tenant (sets row-level security, reads the member's membership
# and teams). Then its own:
READ_BUDGETS = {
    "list": 5,  # the page of incidents; their reporters
    "detail": 4,  # the incident with its people, problem link and SLA clocks inline (the
    # clocks' policies are the tenant's cached ones)
}

# The incident with its number, its clocks with their timers and its first event: one statement
# (itsm/bulk.py). The service named in the input, the matrix, the SLA policies and the
# priority labels come from the tenant's cached configuration, and the answer is built from what
# was written: nothing is read back.
CREATE_BUDGET = 4

# The service's locking read by the URL's number (with the relations the answer shows); the SLA
# clocks with their timers and fired steps; its writes (the incident, its event, clocks and
# timers). The answer is built from what was read and written. The tenant's configuration
# (matrix, policies, reopen window, teams, services, notification preferences) is cached.
ACTION_BUDGETS = {
    "acknowledge": 9,
    "assign": 8,  # the agent named with their role and teams, a notification; the clocks
    # come inline with the lock, for the answer (as for escalate, declare-major and patch)
    "escalate": 8,  # the next tier's team members, a notification
    "hold": 9,
    "resume": 9,
    "resolve": 9,
    "close": 7,  # the clocks stopped at resolution: nothing to follow
    "reopen": 9,
    "cancel": 9,
    "change-priority": 9,
    "declare-major": 9,  # the commander named with their role, management's members, a
    # notification with its deliveries (one statement)
    "comment": 6,  # appends only: the event is the answer
    "work-note": 6,
    "patch": 7,  # the incident and its event
}

SIZES = [3, 40]


def _other_incidents(desk: Desk, count: int) -> None:
    """`count` more incidents in the tenant, as agents record them."""
    with rls.tenant_scope(desk.tenant.pk):
        for index in range(count):
            services.incident_create(
                tenant=desk.tenant,
                actor=desk.l1_agent,
                data={"title": f"Printer {index} jams", "assignment_team": desk.l1},
            )


class Budgets:
    """Counts the queries of each request and reports every request off its pin at once."""

    def __init__(self) -> None:
        self.misses: list[str] = []

    def check(self, name: str, budget: int, call: Callable[[], Any], status: int) -> None:
        with CaptureQueriesContext(connection) as queries:
            response = call()
        assert response.status_code == status, (name, response.content[:500])
        if len(queries) != budget:
            statements = "\n  ".join(query["sql"][-300:] for query in queries.captured_queries)
            self.misses.append(
                f"{name}: {len(queries)} queries, pinned at {budget}:\n  {statements}"
            )

    def assert_kept(self) -> None:
        if self.misses:
            pytest.fail(
                "Lower a pin if you removed queries; otherwise find the new ones:\n"
                + "\n".join(self.misses),
                pytrace=False,
            )


# Each action: the state its incident starts in, the input, and who acts.
ACTIONS: dict[str, tuple[str, Callable[[Desk], dict[str, Any]]]] = {
    "acknowledge": ("new", lambda desk: {}),
    "assign": ("in_progress", lambda desk: {"team": "l2", "assignee": "leo-l2"}),
    "escalate": ("in_progress", lambda desk: {"kind": "functional", "reason": "Needs L2."}),
    "hold": ("in_progress", lambda desk: {"hold_reason": "awaiting_caller"}),
    "resume": ("on_hold", lambda desk: {"note": "Caller is back."}),
    "resolve": (
        "in_progress",
        lambda desk: {"resolution_code": "fixed", "resolution_notes": "Restarted it."},
    ),
    "close": ("resolved", lambda desk: {}),
    "reopen": ("resolved", lambda desk: {"reason": "It broke again."}),
    "cancel": ("new", lambda desk: {"reason": "Duplicate."}),
    "change-priority": (
        "in_progress",
        lambda desk: {"impact": 1, "urgency": 1, "reason": "Whole floor affected."},
    ),
    "declare-major": (
        "in_progress",
        lambda desk: {"commander": "mia-manager", "reason": "Many customers."},
    ),
    "comment": ("in_progress", lambda desk: {"body": "Looking into it."}),
    "work-note": ("in_progress", lambda desk: {"body": "Checked the relay."}),
}


@pytest.mark.parametrize("size", SIZES)
def test_reads_cost_a_pinned_number_of_queries_at_any_size(desk, api_client, size):
    SlaPolicyFactory(tenant=desk.tenant)
    _other_incidents(desk, size)
    incident = make_incident(desk, "in_progress")
    client, budgets = api_client(desk.l1_agent), Budgets()
    url = desk.url(f"{incident.reference}/")
    # The tenant's configuration (priority labels, SLA policies) is cached from here.
    client.get(desk.url())
    client.get(url)

    budgets.check("list", READ_BUDGETS["list"], lambda: client.get(desk.url()), 200)
    budgets.check("detail", READ_BUDGETS["detail"], lambda: client.get(url), 200)
    budgets.assert_kept()


@pytest.mark.parametrize("size", SIZES)
def test_a_create_costs_a_pinned_number_of_queries_at_any_size(desk, api_client, size):
    SlaPolicyFactory(tenant=desk.tenant)
    _other_incidents(desk, size)
    client = api_client(desk.l1_agent)
    body = {"title": "Mail is down", "service": "email", "impact": 2, "urgency": 2}

    # A process that has served the tenant before: its configuration is cached.
    assert client.post(desk.url(), {**body, "title": "Warm-up"}, format="json").status_code == 201
    budgets = Budgets()
    budgets.check(
        "create", CREATE_BUDGET, lambda: client.post(desk.url(), body, format="json"), 201
    )
    budgets.assert_kept()
    with rls.tenant_scope(desk.tenant.pk):
        incident = Incident.objects.for_tenant(desk.tenant).get(title="Mail is down")
        # Everything was written in that one request: number, clocks, first event.
        assert incident.number > size
        assert incident.sla_clocks.count() == 2
        assert incident.events.count() == 1


@pytest.mark.parametrize("size", SIZES)
def test_each_action_costs_a_pinned_number_of_queries_at_any_size(desk, api_client, size):
    SlaPolicyFactory(tenant=desk.tenant)
    _other_incidents(desk, size)
    client, budgets = api_client(desk.admin), Budgets()
    # A process that has served the tenant's writes before: its configuration is cached.
    rating: dict[str, Any] = {"impact": 1, "urgency": 1, "reason": "Warm-up."}
    warm_ups: list[tuple[str, str, dict[str, Any]]] = [
        ("new", "acknowledge", {}),
        ("in_progress", "change-priority", rating),
        ("resolved", "reopen", {"reason": "Warm-up."}),
    ]
    for state, action, warm_body in warm_ups:
        warm = desk.url(f"{make_incident(desk, state).reference}/{action}/")
        assert client.post(warm, warm_body, format="json").status_code == 200, action
    # The first rating at P1 made the default P1 policy, a change of configuration: the
    # incidents made below read the tenant as it is now (as every request does).
    desk.tenant.refresh_from_db()
    for action, (state, body) in ACTIONS.items():
        url = desk.url(f"{make_incident(desk, state).reference}/{action}/")
        budgets.check(
            action,
            ACTION_BUDGETS[action],
            partial(client.post, url, body(desk), format="json"),
            201 if action in ("comment", "work-note") else 200,
        )
    url = desk.url(f"{make_incident(desk, 'in_progress').reference}/")
    patch = partial(client.patch, url, {"title": "Mail is slow"}, format="json")
    budgets.check("patch", ACTION_BUDGETS["patch"], patch, 200)
    budgets.assert_kept()


@pytest.mark.parametrize("size", SIZES)
def test_an_agents_own_teams_cost_no_query_of_their_own(desk, api_client, size):
    # The agent's teams come with their membership: taking an unrouted incident (which routes
    # it to their team) and resolving one of their team's cost what the admin's actions cost.
    SlaPolicyFactory(tenant=desk.tenant)
    _other_incidents(desk, size)
    client, budgets = api_client(desk.l1_agent), Budgets()
    resolution = {"resolution_code": "fixed", "resolution_notes": "Restarted it."}
    # A process that has served these requests before: the tenant's configuration is cached.
    for state, action, body in [("new", "acknowledge", {}), ("in_progress", "resolve", resolution)]:
        warm = make_incident(desk, state, assignment_team=None if state == "new" else desk.l1)
        url = desk.url(f"{warm.reference}/{action}/")
        assert client.post(url, body, format="json").status_code == 200, action
    unrouted = make_incident(desk, "new", assignment_team=None)
    ours = make_incident(desk, "in_progress")

    url = desk.url(f"{unrouted.reference}/acknowledge/")
    budgets.check(
        "acknowledge, unrouted",
        ACTION_BUDGETS["acknowledge"],
        partial(client.post, url, {}, format="json"),
        200,
    )
    url = desk.url(f"{ours.reference}/resolve/")
    budgets.check(
        "resolve, by a member of the team",
        ACTION_BUDGETS["resolve"],
        partial(client.post, url, resolution, format="json"),
        200,
    )
    budgets.assert_kept()
    with rls.tenant_scope(desk.tenant.pk):
        unrouted.refresh_from_db()
        assert (unrouted.assignment_team, unrouted.assignee) == (desk.l1, desk.l1_agent)
