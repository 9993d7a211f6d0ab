"""The search structure: kept in step by the database, out of the application role's reach,
answering for the transaction's tenant only; prefix and stem matching; ranking."""

import pytest
from django.db import DatabaseError, connection, transaction

from incidents.models import Incident
from itsm.search import selectors
from itsm.search.registry import registered
from itsm.tenancy import rls
from tests.factories import CategoryFactory, IncidentFactory, ServiceFactory

pytestmark = pytest.mark.django_db


def _ids(tenant, text: str) -> list[int]:
    with rls.tenant_scope(tenant.pk):
        matching = selectors.filter_matching(
            Incident.objects.for_tenant(tenant), tenant_id=tenant.pk, kind="incident", text=text
        )
        return sorted(matching.values_list("pk", flat=True))


def test_words_match_by_prefix_and_stem_and_all_must_appear(tenant_a):
    printer = IncidentFactory(tenant=tenant_a, title="Printer jams", description="Floor 3")
    mail = IncidentFactory(tenant=tenant_a, title="Mail is down", description="Since 9:00")
    slow = IncidentFactory(tenant=tenant_a, title="Mail is slow", description="")
    assert _ids(tenant_a, "print") == [printer.pk]
    assert _ids(tenant_a, "printers") == [printer.pk]
    assert _ids(tenant_a, "MAIL IS DOWN") == [mail.pk]  # "down" is no stop word here
    assert _ids(tenant_a, "mail") == sorted([mail.pk, slow.pk])
    assert _ids(tenant_a, "floor") == [printer.pk]  # the description counts
    assert _ids(tenant_a, "the is of") == []  # nothing searchable left
    assert _ids(tenant_a, "'); DROP TABLE x; --") == []


def test_the_database_keeps_entries_in_step_even_for_raw_sql(tenant_a):
    incident = IncidentFactory(tenant=tenant_a, title="Printer jams")
    with rls.tenant_scope(tenant_a.pk), connection.cursor() as cursor:
        cursor.execute(
            "UPDATE incidents_incident SET title = 'VPN drops' WHERE id = %s", [incident.pk]
        )
    assert _ids(tenant_a, "printer") == []
    assert _ids(tenant_a, "vpn") == [incident.pk]


def test_another_tenants_rows_are_never_found(tenant_a, tenant_b):
    IncidentFactory(tenant=tenant_b, title="Secret printer of B")
    assert _ids(tenant_a, "printer") == []
    # Naming B while the transaction is A's answers nothing either (the function checks).
    with rls.tenant_scope(tenant_a.pk), connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM itsm_search_ids(%s, 'incident', 'printer')", [tenant_b.pk]
        )
        assert cursor.fetchone() == (0,)
        cursor.execute(
            "SELECT count(*) FROM itsm_search_ranked(%s, ARRAY['incident'], 'printer', 10)",
            [tenant_b.pk],
        )
        assert cursor.fetchone() == (0,)


def test_the_application_role_cannot_read_the_search_table(tenant_a):
    IncidentFactory(tenant=tenant_a, title="Printer jams")
    with connection.cursor() as cursor:
        cursor.execute("SELECT has_schema_privilege('itsm_search', 'USAGE')")
        assert cursor.fetchone() == (False,)
        with pytest.raises(DatabaseError, match="permission denied"), transaction.atomic():
            cursor.execute("SELECT count(*) FROM itsm_search.entry")


def test_ranked_prefers_more_words_then_the_same_service(tenant_a):
    email, vpn = ServiceFactory(tenant=tenant_a), ServiceFactory(tenant=tenant_a)
    category = CategoryFactory(tenant=tenant_a)
    both = IncidentFactory(tenant=tenant_a, title="Outlook cannot connect to Exchange")
    one = IncidentFactory(tenant=tenant_a, title="Outlook crashes on start")
    same_service = IncidentFactory(
        tenant=tenant_a, title="Exchange mailbox full", service=email, category=category
    )
    other_service = IncidentFactory(tenant=tenant_a, title="Exchange mailbox full", service=vpn)
    with rls.tenant_scope(tenant_a.pk):
        hits = selectors.ranked(
            tenant_id=tenant_a.pk,
            kinds=["incident"],
            text="Outlook cannot connect to Exchange",
            service_id=email.pk,
        )
        by_service = selectors.ranked(
            tenant_id=tenant_a.pk, kinds=["incident"], text="exchange mailbox", service_id=email.pk
        )
    assert hits[0].object_id == both.pk
    assert {hit.object_id for hit in hits} == {both.pk, one.pk, same_service.pk, other_service.pk}
    assert [hit.object_id for hit in by_service[:2]] == [same_service.pk, other_service.pk]


def test_the_embedded_default_ranks_the_same_best_match(tenant_a):
    """SQLite has no search structure: the Python ranking must agree on the best match."""
    email = ServiceFactory(tenant=tenant_a)
    best = IncidentFactory(
        tenant=tenant_a, title="Outlook cannot connect to Exchange", service=email
    )
    IncidentFactory(tenant=tenant_a, title="Outlook crashes on start")
    IncidentFactory(tenant=tenant_a, title="Exchange mailbox full")
    with rls.tenant_scope(tenant_a.pk):
        in_python = selectors._rank_in_python(
            registered()["incident"],
            tenant_a.pk,
            "Outlook cannot connect to Exchange",
            None,
            None,
            email.pk,
            None,
            False,
        )
        in_postgres = selectors.ranked(
            tenant_id=tenant_a.pk,
            kinds=["incident"],
            text="Outlook cannot connect to Exchange",
            service_id=email.pk,
        )
    assert max(in_python, key=lambda hit: hit.rank).object_id == best.pk
    assert in_postgres[0].object_id == best.pk
