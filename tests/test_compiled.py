"""itsm/compiled.py: a read compiled to SQL once, run with each call's values."""

import pytest
from django.db import connection
from django.db.models import QuerySet
from django.test.utils import CaptureQueriesContext

from incidents.models import Incident
from itsm.compiled import CompiledRead
from itsm.inline import Inline, attach, with_inline
from itsm.tenancy import rls
from tests.factories import IncidentFactory, TenantFactory

pytestmark = pytest.mark.django_db

REPORTER = Inline("reported_by", ("username",))


class CountingBuild:
    """The read's queryset, counting how often it was built."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, tenant_id: int, number: int) -> QuerySet[Incident]:
        self.calls += 1
        incidents = Incident.objects.for_tenant(tenant_id).filter(number=number).order_by()
        return with_inline(incidents, REPORTER)[:1]


def test_each_call_runs_the_once_compiled_sql_with_its_own_values():
    tenant, other = TenantFactory(), TenantFactory()
    build = CountingBuild()
    read = CompiledRead(build, "tenant_id", "number")
    with rls.tenant_scope(tenant.pk):
        first, second = IncidentFactory(tenant=tenant), IncidentFactory(tenant=tenant)
    with rls.tenant_scope(other.pk):
        elsewhere = IncidentFactory(tenant=other)

    with rls.tenant_scope(tenant.pk):
        with CaptureQueriesContext(connection) as queries:
            found_first = read.first(tenant_id=tenant.pk, number=first.number)
            found_second = read.first(tenant_id=tenant.pk, number=second.number)
        # Another tenant's number, asked of this tenant, is absent.
        assert read.first(tenant_id=tenant.pk, number=elsewhere.number + 1000) is None

    assert build.calls == 1
    assert len(queries) == 2
    assert queries[0]["sql"].split("WHERE")[-1] != queries[1]["sql"].split("WHERE")[-1]
    assert found_first is not None
    assert found_second is not None
    assert (found_first.pk, found_second.pk) == (first.pk, second.pk)
    assert (found_first.title, found_first.version) == (first.title, first.version)
    # A column that is no field comes as an attribute: the inline reporter attaches as ever.
    attach(found_first, REPORTER)
    with CaptureQueriesContext(connection) as queries:
        assert found_first.reported_by.username == first.reported_by.username
    assert len(queries) == 0


def test_a_read_that_joins_relations_is_refused():
    read = CompiledRead(
        lambda tenant_id, number: Incident.objects.select_related("service").filter(
            tenant_id=tenant_id, number=number
        ),
        "tenant_id",
        "number",
    )
    with pytest.raises(ValueError, match="inline"):
        read.compile()


def test_a_value_the_read_does_not_use_is_refused():
    read = CompiledRead(
        lambda tenant_id, number: Incident.objects.filter(tenant_id=tenant_id),
        "tenant_id",
        "number",
    )
    with pytest.raises(ValueError, match="number"):
        read.compile()


class CountingRouter:
    """Sends every read to the default database, counting the incident reads it routed."""

    incident_reads = 0

    def db_for_read(self, model: type[Incident], **hints: object) -> str | None:
        if model is Incident:
            CountingRouter.incident_reads += 1
        return "default"


def test_each_call_is_routed_as_a_querysets_read_would_be(settings):
    tenant = TenantFactory()
    read = CompiledRead(CountingBuild(), "tenant_id", "number")
    with rls.tenant_scope(tenant.pk):
        incident = IncidentFactory(tenant=tenant)
        read.compile()  # compiled before the router changes: the call still asks it
        settings.DATABASE_ROUTERS = [f"{__name__}.CountingRouter"]
        CountingRouter.incident_reads = 0

        for _ in range(2):
            found = read.first(tenant_id=tenant.pk, number=incident.number)
            assert found is not None

    assert CountingRouter.incident_reads == 2
