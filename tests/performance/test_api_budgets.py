"""Every tenant API route that reads (GET: list, retrieve, detail actions, reports) answers in
a pinned number of queries, the same with 16 records of each kind as with 1: no query per row.

The routes come from the sweep in tests/test_tenant_isolation.py (objects from
tests/factories.py, report URLs from REPORT_ROUTES), so a route added later is measured without
editing this module; it fails until the route's budget is added to BUDGETS. A tenant admin
sends every request, with an API token.

The counts are those of a regular (non-transactional) test: each request's transaction is a
savepoint inside the test's (SAVEPOINT and RELEASE: +2), and leaving a nested row-level-security
scope restores the outer settings (+1). In production a request sends 3 fewer. Each count is
taken after one uncounted request, once the per-process caches are warm.

The data are built once for the module and rolled back after it (tests/performance/__init__.py).
Budgets are upper bounds pinned at today's counts: a reduction passes; lower the budget with it.
"""

from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import pytest
from django.db.models import Model
from django.urls import reverse
from django.utils import timezone
from knox.models import AuthToken
from rest_framework.test import APIClient

from itsm.api.views import TENANT_URL_KWARG
from itsm.tenancy.models import Tenant
from tests.factories import FACTORIES
from tests.performance import (
    Sizes,
    add_history,
    add_records,
    check_budget,
    measure,
    members,
    module_data,
    one_of_each,
)
from tests.test_tenant_isolation import REQUIRED_QUERY, ROUTES, Route

# The data are built by a module-scoped fixture; the marker has the test database set up.
pytestmark = pytest.mark.django_db

# Queries per route, at both sizes (see the module docstring for what a count includes).
BUDGETS: dict[str, int] = {
    "audit-api:audit-event-list": 5,
    "calendars-api:calendar-detail": 7,
    "calendars-api:calendar-list": 7,
    "catalog-api:category-detail": 5,
    "catalog-api:category-list": 5,
    "catalog-api:service-detail": 5,
    "catalog-api:service-list": 5,
    "changes-api:approval-rule-detail": 5,
    "changes-api:approval-rule-list": 5,
    "changes-api:cab-member-detail": 5,
    "changes-api:cab-member-list": 5,
    "changes-api:change-approvals": 9,
    "changes-api:change-conflicts": 8,
    "changes-api:change-detail": 8,
    "changes-api:change-list": 8,
    "changes-api:change-template-detail": 6,
    "changes-api:change-template-list": 6,
    "changes-api:change-timeline": 9,
    "changes-api:incident-changes-changes": 7,
    "changes-api:known-error-changes-changes": 6,
    "changes-api:problem-changes-changes": 7,
    "changes-schedule-api:blackout-window-detail": 6,
    "changes-schedule-api:blackout-window-list": 6,
    "changes-schedule-api:change-calendar-list": 14,
    "incidents-api:incident-detail": 8,
    "incidents-api:incident-history": 6,
    "incidents-api:incident-list": 6,
    "incidents-api:incident-timeline": 6,
    "incidents-api:sla-policy-compliance": 6,
    "incidents-api:sla-policy-detail": 5,
    "incidents-api:sla-policy-list": 5,
    "knowledgebase-api:article-compare": 8,
    "knowledgebase-api:article-detail": 7,
    "knowledgebase-api:article-history": 8,
    "knowledgebase-api:article-list": 7,
    "knowledgebase-api:article-versions": 8,
    "metrics-api:metric-detail": 10,
    "metrics-api:metric-export": 11,
    "metrics-api:metric-summary": 20,
    "notifications-api:notification-list": 6,
    "notifications-api:notification-preference-list": 5,
    "problems-api:incident-knowledge-knowledge": 10,
    "problems-api:incident-knowledge-similar": 9,
    "problems-api:known-error-articles": 6,
    "problems-api:known-error-detail": 5,
    "problems-api:known-error-list": 5,
    "problems-api:problem-articles": 7,
    "problems-api:problem-detail": 6,
    "problems-api:problem-incidents": 7,
    "problems-api:problem-list": 6,
    "problems-api:problem-timeline": 7,
    "problems-api:suggestion-detail": 5,
    "problems-api:suggestion-incidents": 6,
    "problems-api:suggestion-list": 5,
    "problems-api:trend-run-detail": 5,
    "problems-api:trend-run-list": 5,
    "tenancy-api:membership-detail": 5,
    "tenancy-api:membership-list": 5,
    "tenancy-api:team-detail": 6,
    "tenancy-api:team-list": 6,
}

# Routes whose count grows with the rows they answer: the budget holds at 16 of each record.
NOT_FLAT: dict[str, int] = {}

# Lists whose rows do not depend on the records stored (by namespaced URL name), and why.
FIXED_ROWS: dict[str, str] = {
    "notifications-api:notification-preference-list": "a row per event type and channel",
}

READS = [route for route in ROUTES if "get" in route.actions]

# Query parameters a read needs to answer (by namespaced URL name), beyond REQUIRED_QUERY: the
# calendar's window must hold the changes of both sets (planned over the next hours).
QUERY: dict[str, dict[str, str]] = {
    "changes-schedule-api:change-calendar-list": {
        "start": (timezone.now() - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "end": (timezone.now() + timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%SZ"),
    },
    "incidents-api:sla-policy-compliance": {
        "since": "2000-01-01T00:00:00Z",
        "until": "2100-01-01T00:00:00Z",
    },
    "knowledgebase-api:article-compare": {"from_version": "1", "to_version": "1"},
}


def _url(route: Route, tenant: Tenant, objects: dict[type[Model], Model]) -> str:
    if route.is_report:
        return route.report_url(tenant)
    lookup = {}
    if route.lookup_kwarg:
        assert route.viewset is not None, route.name
        lookup = {route.lookup_kwarg: route.viewset.lookup_value_of(objects[route.model])}
    url = reverse(route.name, kwargs={TENANT_URL_KWARG: tenant.slug, **lookup})
    query = QUERY.get(route.name) or REQUIRED_QUERY.get(route.name.rpartition(":")[2])
    return f"{url}?{urlencode(query)}" if query else url


@pytest.fixture(scope="module")
def counts(django_db_setup: None, django_db_blocker: Any) -> dict[str, Sizes]:
    """Each route's queries with the small data set, then with the large one."""
    with module_data(django_db_blocker):
        people = members()
        one_of_each(people)
        # The object each detail route reads: one of each routed model, part of the small set.
        objects: dict[type[Model], Model] = {}
        for route in READS:
            if not route.is_report and route.model not in objects:
                factory = FACTORIES.get(route.model)
                assert factory, f"add a factory for {route.model.__name__} to tests/factories.py"
                objects[route.model] = factory(tenant=people.tenant)
        client = APIClient()
        _, key = AuthToken.objects.create(user=people.admin)
        client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
        urls = {route.name: _url(route, people.tenant, objects) for route in READS}
        small = {route.name: measure(client, urls[route.name]) for route in READS}
        add_records(people)
        add_history(people)
        return {
            route.name: Sizes(small[route.name], measure(client, urls[route.name]))
            for route in READS
        }


def test_the_sweep_finds_the_routes() -> None:
    names = {route.name for route in READS}
    assert {"incidents-api:incident-list", "incidents-api:incident-detail"} <= names
    assert "metrics-api:metric-summary" in names


@pytest.mark.parametrize("route", READS, ids=lambda route: route.name)
def test_a_route_keeps_to_its_query_budget(route: Route, counts: dict[str, Sizes]) -> None:
    check_budget(route.name, counts.get(route.name), BUDGETS, NOT_FLAT)


def test_list_routes_answer_more_rows_with_more_records(counts: dict[str, Sizes]) -> None:
    """A list that answers the same rows at both sizes would prove nothing about growth.

    Only the tenant-wide lists are checked: what one object's own lists hold (its history, say)
    depends on what was done to it. A list already a full page at the small size (the audit
    trail) shows as many rows at both; an unpaginated one is not counted here."""
    lists = {route.name for route in READS if not route.lookup_kwarg and not route.is_report}
    same = sorted(
        (name, sizes.small.rows)
        for name, sizes in counts.items()
        if name in lists
        and name not in FIXED_ROWS
        and sizes.small.rows is not None
        and sizes.large.rows == sizes.small.rows
        and not sizes.small.full
    )
    assert not same, f"lists that did not grow (name, rows): {same}"


def test_every_budget_names_a_route() -> None:
    names = {route.name for route in READS}
    stale = (set(BUDGETS) | set(NOT_FLAT)) - names
    assert not stale, f"budgets for routes that no longer exist: {sorted(stale)}"
    assert not set(BUDGETS) & set(NOT_FLAT)
