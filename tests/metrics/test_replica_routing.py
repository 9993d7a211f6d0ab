"""Reports read from the read replica when there is one (itsm/metrics/routing.py).

The replica here is the test database itself, reached through an alias "replica" of its own: a
second connection, as the application role, as a hot standby would be. The tests commit their
rows (a transactional test), so that connection sees them; which connection ran which query is
told by capturing each connection's queries. Tenant A has two incidents in the period and
tenant B three; A's figures must count A's two, on the replica, with nothing of B.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from typing import Any

import pytest
from django.db import DEFAULT_DB_ALIAS, connections
from django.http import StreamingHttpResponse
from django.test import Client
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from incidents.models import Incident
from itsm.calendars.selectors import tenant_time_zone
from itsm.metrics.routing import REPLICA_DB_ALIAS, ReportsRouter, replica_alias, reports_database
from itsm.tenancy import rls
from itsm.tenancy.choices import MembershipRole
from itsm.tenancy.models import Tenant
from tests.factories import IncidentFactory, TenantFactory

FIRST, LAST = date(2026, 3, 2), date(2026, 3, 15)
PERIOD = {"from": FIRST.isoformat(), "to": LAST.isoformat(), "interval": "day"}
FACTS = '"incidents_incident"'  # the table every incident figure is read from


def _make_incidents(tenant: Tenant, count: int, reporter: Any) -> None:
    """`count` SEV3 incidents created on Tuesday 3 March at noon, the tenant's time."""
    created = datetime.combine(FIRST + timedelta(days=1), time(12), tenant_time_zone(tenant=tenant))
    made = [IncidentFactory(tenant=tenant, reported_by=reporter, priority=3) for _ in range(count)]
    with rls.tenant_scope(tenant.pk):
        Incident.objects.filter(pk__in=[found.pk for found in made]).update(created_at=created)


def _facts(captured: CaptureQueriesContext) -> list[str]:
    return [query["sql"] for query in captured.captured_queries if FACTS in query["sql"]]


def _csv(response: Any) -> list[list[str]]:
    assert isinstance(response, StreamingHttpResponse)
    text = b"".join(response.streaming_content).decode()  # type: ignore[arg-type]
    return list(csv.reader(text.splitlines()))


# The replica tests commit their rows and declare the second alias.
replica_db = pytest.mark.django_db(transaction=True, databases=[DEFAULT_DB_ALIAS, REPLICA_DB_ALIAS])


@pytest.fixture
def _replica_alias(request: pytest.FixtureRequest) -> Iterator[None]:
    """For a test that declares it, the alias "replica": the test database through a
    connection of its own, as the application role.

    Added before pytest-django's test case is made (so the test may use it) and removed after it
    is torn down; a mirror of the default database, so it is neither created nor flushed.
    """
    marker = request.node.get_closest_marker("django_db")
    if REPLICA_DB_ALIAS not in ((marker.kwargs.get("databases") if marker else None) or ()):
        yield
        return
    default = connections[DEFAULT_DB_ALIAS].settings_dict
    connections.settings[REPLICA_DB_ALIAS] = {
        **default,
        "TEST": {**default["TEST"], "MIRROR": DEFAULT_DB_ALIAS},
    }
    try:
        yield
    finally:
        connections[REPLICA_DB_ALIAS].close()
        del connections[REPLICA_DB_ALIAS]
        del connections.settings[REPLICA_DB_ALIAS]


@pytest.fixture
def _django_db_helper(_replica_alias: None, _django_db_helper: None) -> None:
    """pytest-django's test case, made after the alias above (and torn down before it goes)."""


@pytest.fixture
def tenants(make_member: Any) -> dict[str, Any]:
    """Tenant A with two incidents in the period and its administrator; tenant B with three."""
    tenant_a, tenant_b = TenantFactory(slug="tenant-a"), TenantFactory(slug="tenant-b")
    admin_a = make_member(tenant_a, MembershipRole.TENANT_ADMIN)
    _make_incidents(tenant_a, 2, admin_a)
    _make_incidents(tenant_b, 3, make_member(tenant_b, MembershipRole.TENANT_ADMIN))
    return {"a": tenant_a, "b": tenant_b, "admin_a": admin_a}


def _api(tenant: Tenant, path: str = "") -> str:
    return f"/api/v1/t/{tenant.slug}/metrics/{path}"


def _client(api_client: Any, user: Any) -> APIClient:
    client: APIClient = api_client(user)
    return client


@replica_db
def test_the_metrics_api_reads_its_figures_on_the_replica(tenants, api_client):
    tenant_a = tenants["a"]
    client = _client(api_client, tenants["admin_a"])

    with (
        CaptureQueriesContext(connections[REPLICA_DB_ALIAS]) as on_replica,
        CaptureQueriesContext(connections[DEFAULT_DB_ALIAS]) as on_default,
    ):
        summary = client.get(_api(tenant_a), PERIOD)
        detail = client.get(_api(tenant_a, "volume/"), PERIOD)

    assert summary.status_code == 200, summary.content
    assert detail.status_code == 200, detail.content
    # Tenant A's two incidents, none of B's three
    volume = next(figure for figure in summary.json()["metrics"] if figure["key"] == "volume")
    assert volume["value"] == 2
    assert detail.json()["value"] == 2
    assert sum(row["sev3"] for row in detail.json()["rows"]) == 2
    # Every fact was read on the replica, in a transaction there that sees tenant A alone
    assert _facts(on_replica)
    assert _facts(on_default) == []
    scopes = [query["sql"] for query in on_replica.captured_queries if "set_config" in query["sql"]]
    assert scopes
    assert all(f"'{tenant_a.pk}'" in sql for sql in scopes)
    # The request itself (who, which tenant) still ran on the default database
    assert on_default.captured_queries


@replica_db
def test_the_export_and_the_dashboard_read_on_the_replica(tenants, api_client):
    tenant_a, admin_a = tenants["a"], tenants["admin_a"]
    page = Client()
    page.force_login(admin_a)

    with (
        CaptureQueriesContext(connections[REPLICA_DB_ALIAS]) as on_replica,
        CaptureQueriesContext(connections[DEFAULT_DB_ALIAS]) as on_default,
    ):
        # The export's rows are read as the response streams, after the view has returned
        rows = _csv(_client(api_client, admin_a).get(_api(tenant_a, "volume/export/"), PERIOD))
        dashboard = page.get(f"/t/{tenant_a.slug}/metrics/", PERIOD)

    header, *incidents = rows
    assert header[0] == "reference"
    assert len(incidents) == 2  # A's, not B's
    assert dashboard.status_code == 200
    assert "Incident volume" in dashboard.content.decode()
    assert len(_facts(on_replica)) > 1  # the export's rows and the dashboard's figures
    assert _facts(on_default) == []


@replica_db
def test_the_replica_sees_one_tenant_and_takes_no_write(tenants):
    tenant_a = tenants["a"]
    replica = connections[REPLICA_DB_ALIAS]

    # Inside a tenant scope on the default database that already sees A (a task's, say): the
    # replica's transaction is its own and must be scoped too
    with rls.tenant_scope(tenant_a.pk), reports_database(tenant_a.pk) as alias:
        assert alias == REPLICA_DB_ALIAS
        with CaptureQueriesContext(replica) as read:
            everything = list(Incident.objects.order_by("id"))  # no tenant filter: RLS alone
        assert len(read.captured_queries) == 1
        assert [found.tenant_id for found in everything] == [tenant_a.pk, tenant_a.pk]
        assert {found._state.db for found in everything} == {REPLICA_DB_ALIAS}
        # A row read on the replica is saved on the default database, even inside the report
        found = everything[0]
        found.title = "Saved on the primary"
        with (
            CaptureQueriesContext(replica) as written_on_replica,
            CaptureQueriesContext(connections[DEFAULT_DB_ALIAS]) as written_on_default,
        ):
            found.save(update_fields=["title"])
        assert written_on_replica.captured_queries == []
        assert any("UPDATE" in query["sql"] for query in written_on_default.captured_queries)

    with rls.tenant_scope(tenant_a.pk):
        assert Incident.objects.get(pk=found.pk).title == "Saved on the primary"
    router = ReportsRouter()
    assert router.allow_migrate(REPLICA_DB_ALIAS, "incidents") is False
    assert router.allow_migrate(DEFAULT_DB_ALIAS, "incidents") is None


@pytest.mark.django_db
def test_without_a_replica_reports_read_the_default_database(api_client, make_member):
    assert replica_alias() is None
    tenant_a, tenant_b = TenantFactory(slug="tenant-a"), TenantFactory(slug="tenant-b")
    admin_a = make_member(tenant_a, MembershipRole.TENANT_ADMIN)
    _make_incidents(tenant_a, 2, admin_a)
    _make_incidents(tenant_b, 3, make_member(tenant_b, MembershipRole.TENANT_ADMIN))

    with CaptureQueriesContext(connections[DEFAULT_DB_ALIAS]) as on_default:
        summary = _client(api_client, admin_a).get(_api(tenant_a), PERIOD)

    assert summary.status_code == 200, summary.content
    volume = next(figure for figure in summary.json()["metrics"] if figure["key"] == "volume")
    assert volume["value"] == 2
    assert _facts(on_default)
