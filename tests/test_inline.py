"""itsm/inline.py: related rows read in their record's own statement, as scalar subqueries."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from incidents.models import Incident, SlaClock
from itsm.inline import Inline, attach, with_inline
from itsm.tenancy import rls
from itsm.timers.models import Timer
from problems.models import ProblemIncident
from tests.factories import IncidentFactory, ProblemFactory, SlaPolicyFactory, TenantFactory

pytestmark = pytest.mark.django_db

REPORTER = Inline("reported_by", ("username",))
COMMANDER = Inline("commander", ("username",))
PROBLEM = Inline("problem_link", ("problem_id",), nested=(Inline("problem", ("title",)),))
CLOCKS = Inline(
    "sla_clocks",
    tuple(field.attname for field in SlaClock._meta.concrete_fields),
    order_by=("-kind",),
)


def _read(incident: Incident, *inlines: Inline) -> tuple[Incident, int]:
    """The incident read with `inlines` and attached, and how many statements that took."""
    queryset = with_inline(Incident.objects.filter(pk=incident.pk), *inlines)
    with CaptureQueriesContext(connection) as queries:
        found = queryset.get()
        attach(found, *inlines)
    return found, len(queries)


def test_a_foreign_key_and_a_one_to_one_come_in_the_records_own_statement():
    tenant = TenantFactory()
    with rls.tenant_scope(tenant.pk):
        incident = IncidentFactory(tenant=tenant)
        problem = ProblemFactory(tenant=tenant, title="Relay pool too small")
        ProblemIncident.objects.create(tenant=tenant, problem=problem, incident=incident)

        found, statements = _read(incident, REPORTER, COMMANDER, PROBLEM)

        assert statements == 1
        with CaptureQueriesContext(connection) as queries:
            assert found.reported_by.username == incident.reported_by.username
            assert found.commander is None
            assert found.problem_link.problem.title == "Relay pool too small"
            assert found.problem_link.problem.pk == problem.pk
            assert found.problem_link.incident is found  # the way back, without a query
        assert len(queries) == 0


def test_an_absent_reverse_one_to_one_is_none_without_a_query():
    tenant = TenantFactory()
    with rls.tenant_scope(tenant.pk):
        found, _statements = _read(IncidentFactory(tenant=tenant), PROBLEM)

        with CaptureQueriesContext(connection) as queries:
            assert getattr(found, "problem_link", None) is None
        assert len(queries) == 0


def test_a_field_not_read_inline_is_loaded_on_first_use():
    tenant = TenantFactory()
    with rls.tenant_scope(tenant.pk):
        incident = IncidentFactory(tenant=tenant)
        found, _statements = _read(incident, REPORTER)

        reporter = found.reported_by
        assert reporter.get_deferred_fields() >= {"email", "first_name"}
        with CaptureQueriesContext(connection) as queries:
            assert reporter.email == incident.reported_by.email
        assert len(queries) == 1


def test_attach_leaves_alone_a_relation_the_query_did_not_read_inline():
    tenant = TenantFactory()
    with rls.tenant_scope(tenant.pk):
        incident = IncidentFactory(tenant=tenant)
        found, _statements = _read(incident, REPORTER)

        attach(found, COMMANDER)  # not read inline: nothing cached, nothing raised
        assert not Incident._meta.get_field("commander").is_cached(found)


def _clock(incident: Incident, kind: str, **values: object) -> SlaClock:
    timer = Timer.objects.create(tenant_id=incident.tenant_id, kind="incidents.sla")
    policy = SlaPolicyFactory(tenant=incident.tenant)
    started = datetime(2026, 3, 1, 9, 30, 15, 250000, tzinfo=UTC)
    return SlaClock.objects.create(
        tenant_id=incident.tenant_id,
        incident=incident,
        kind=kind,
        policy=policy,
        timer=timer,
        target=timedelta(hours=4),
        started_at=started,
        **values,
    )


def test_a_reverse_foreign_key_comes_as_its_rows_in_order_with_every_value_as_stored():
    tenant = TenantFactory()
    with rls.tenant_scope(tenant.pk):
        incident = IncidentFactory(tenant=tenant)
        resolution = _clock(
            incident,
            "resolution",
            elapsed=timedelta(days=2, hours=3, microseconds=5),
            paused_total=timedelta(minutes=90),
            paused_since=datetime(2026, 3, 2, 23, 59, 59, 999999, tzinfo=UTC),
        )
        response = _clock(incident, "response", stopped_at=datetime(2026, 3, 1, 10, tzinfo=UTC))

        found, statements = _read(incident, CLOCKS)

        assert statements == 1
        with CaptureQueriesContext(connection) as queries:
            clocks = list(found.sla_clocks.all())
            assert [clock.pk for clock in clocks] == [response.pk, resolution.pk]  # -kind
            assert all(clock.incident is found for clock in clocks)  # the way back
        assert len(queries) == 0
        stored = {clock.pk: clock for clock in SlaClock.objects.filter(incident=incident)}
        for clock in clocks:
            for field in SlaClock._meta.concrete_fields:
                assert getattr(clock, field.attname) == getattr(stored[clock.pk], field.attname), (
                    field.name
                )


def test_a_reverse_foreign_key_without_rows_is_empty_without_a_query():
    tenant = TenantFactory()
    with rls.tenant_scope(tenant.pk):
        found, _statements = _read(IncidentFactory(tenant=tenant), CLOCKS)

        with CaptureQueriesContext(connection) as queries:
            assert list(found.sla_clocks.all()) == []
        assert len(queries) == 0
