"""Schema invariants over every tenant table, read from PostgreSQL's catalogue: a tenant table
added later is checked without anyone editing this file."""

from typing import Any

import pytest
from django.db import DatabaseError, connection, transaction

from incidents.models import Incident
from itsm.tenancy import rls
from tests.factories import FACTORIES, IncidentFactory, TeamFactory
from tests.markers import platform_db

pytestmark = pytest.mark.django_db


def _rows(sql: str, params: list[str] | None = None) -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params or [])
        return list(cursor.fetchall())


def _tenant_tables() -> set[str]:
    return {model._meta.db_table for model in rls.tenant_models()}


def _tenant_foreign_keys() -> list[tuple[str, str, str]]:
    """(table, column, referenced table) of every single-column foreign key between tenant
    tables, other than the tenant key itself."""
    tables = _tenant_tables()
    found = _rows(
        "SELECT child.relname, a.attname, parent.relname FROM pg_constraint k "
        "JOIN pg_class child ON child.oid = k.conrelid "
        "JOIN pg_class parent ON parent.oid = k.confrelid "
        "JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = k.conkey[1] "
        "WHERE k.contype = 'f' AND array_length(k.conkey, 1) = 1"
    )
    return [
        (table, column, parent)
        for table, column, parent in found
        if table in tables and parent in tables and column != "tenant_id"
    ]


def test_the_tenant_column_is_never_null_and_leads_an_index():
    for table in _tenant_tables():
        [(not_null,)] = _rows(
            "SELECT a.attnotnull FROM pg_attribute a WHERE a.attrelid = %s::regclass "
            "AND a.attname = 'tenant_id'",
            [table],
        )
        leading = _rows(
            "SELECT 1 FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid "
            "AND a.attnum = i.indkey[0] WHERE i.indrelid = %s::regclass "
            "AND a.attname = 'tenant_id'",
            [table],
        )
        assert not_null, f"{table}.tenant_id may be null"
        assert leading, f"no index of {table} starts with tenant_id: per-tenant reads scan"


def test_every_uniqueness_holds_within_one_tenant():
    """A unique index names the tenant, or a row of a tenant table that implies it (a team's
    members are unique per team, and the team is one tenant's); never a bare global value."""
    tenant_keys = {(table, column) for table, column, _parent in _tenant_foreign_keys()}
    for table in _tenant_tables():
        indexes = _rows(
            "SELECT c.relname, array_agg(a.attname) FROM pg_index i "
            "JOIN pg_class c ON c.oid = i.indexrelid "
            "JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) "
            "WHERE i.indrelid = %s::regclass AND i.indisunique AND NOT i.indisprimary "
            "GROUP BY c.relname",
            [table],
        )
        for index, columns in indexes:
            assert "tenant_id" in columns or any(
                (table, column) in tenant_keys for column in columns
            ), f"{index} on {table} {columns} is unique across tenants"


@platform_db
def test_links_between_tenant_tables_stay_inside_the_tenant(tenant_a, tenant_b):
    # Given one of everything in each of two tenants, made as the services and factories make it
    for tenant in (tenant_a, tenant_b):
        for factory in FACTORIES.values():
            factory(tenant=tenant)
    links = _tenant_foreign_keys()
    assert len(links) > 10  # the check below looks at something
    qn = connection.ops.quote_name
    # Then no row points at another tenant's row, through any foreign key
    with rls.platform_scope():
        for table, column, parent in links:
            [(crossing,)] = _rows(
                f"SELECT count(*) FROM {qn(table)} c JOIN {qn(parent)} p "  # noqa: S608
                f"ON p.id = c.{qn(column)} WHERE p.tenant_id <> c.tenant_id"
            )
            assert crossing == 0, f"{table}.{column} crosses tenants"


def test_every_link_between_tenant_tables_has_a_database_guard():
    guards = _rows(
        "SELECT c.relname, t.tgname, t.tgtype & 4 <> 0, t.tgtype & 16 <> 0, "  # insert, update
        "ARRAY(SELECT a.attname FROM pg_attribute a "
        "WHERE a.attrelid = t.tgrelid AND a.attnum = ANY(t.tgattr)) "
        "FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid WHERE t.tgname LIKE %s",
        [rls.LINK_GUARD_PREFIX + "%"],
    )
    links = _tenant_foreign_keys()
    tables = {table for table, _column, _parent in links}
    # Each linking table is guarded after an INSERT, and after an UPDATE of any of its links
    assert {table for table, _name, on_insert, _u, _c in guards if on_insert} == tables
    updated = {
        (table, column)
        for table, _name, _i, on_update, columns in guards
        if on_update
        for column in columns
    }
    assert {(table, column) for table, column, _parent in links} <= updated


@platform_db
def test_the_database_refuses_a_link_to_another_tenants_row(tenant_a, tenant_b):
    # Given an incident of A and a team of B
    incident = IncidentFactory(tenant=tenant_a)
    team_b = TeamFactory(tenant=tenant_b)

    # When even platform code (which sees both) or raw SQL tries to link them
    refused = pytest.raises(DatabaseError, match="names a row of another tenant")
    with rls.platform_scope(), refused, transaction.atomic():
        Incident.objects.filter(pk=incident.pk).update(assignment_team_id=team_b.pk)
    refused = pytest.raises(DatabaseError, match="names a row of another tenant")
    with (
        rls.tenant_scope(tenant_a.pk),
        connection.cursor() as cursor,
        refused,
        transaction.atomic(),
    ):
        cursor.execute(
            "UPDATE incidents_incident SET assignment_team_id = %s WHERE id = %s",
            [team_b.pk, incident.pk],
        )

    # Then the incident keeps its own team
    with rls.tenant_scope(tenant_a.pk):
        incident.refresh_from_db()
    assert incident.assignment_team_id != team_b.pk


@platform_db
def test_the_database_refuses_a_new_row_linked_to_another_tenants_row(tenant_a, tenant_b):
    # Given an incident of B
    incident_b = IncidentFactory(tenant=tenant_b)

    # When platform code inserts an event of A on it
    refused = pytest.raises(DatabaseError, match="names a row of another tenant")
    with rls.platform_scope(), refused, transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO incidents_incidentevent (tenant_id, incident_id, kind, is_public, body, "
            "data, from_status, to_status, created_at, updated_at) "
            "VALUES (%s, %s, 'comment', false, '', '{}', '', '', now(), now())",
            [tenant_a.pk, incident_b.pk],
        )

    # Then B's incident has no event of A
    with rls.platform_scope():
        assert not incident_b.events.filter(tenant_id=tenant_a.pk).exists()
