"""The second wall: row-level security on every tenant table, as the application's role."""

import pytest
from django.conf import settings
from django.db import DatabaseError, connection, connections, transaction

from itsm.catalog.models import Service
from itsm.tenancy import rls
from tests.factories import FACTORIES, ServiceFactory
from tests.markers import platform_db, platform_db_committed


def _tables_with_tenant_column() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "JOIN pg_attribute a ON a.attrelid = c.oid "
            "WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') "
            "AND a.attname = 'tenant_id' AND NOT a.attisdropped ORDER BY 1"
        )
        return [row[0] for row in cursor.fetchall()]


@pytest.mark.django_db
def test_runs_as_an_application_role_that_owns_nothing_and_bypasses_nothing():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT current_user, rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user"
        )
        user, is_superuser, bypasses_rls = cursor.fetchone()
        cursor.execute(
            "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = 'public' AND pg_get_userbyid(c.relowner) = current_user"
        )
        (owned,) = cursor.fetchone()
    assert user == settings.DATABASE_APP_ROLE
    assert (is_superuser, bypasses_rls, owned) == (False, False, 0)


@pytest.mark.django_db
def test_every_tenant_table_has_forced_rls_and_a_policy_on_the_tenant_setting():
    tables = _tables_with_tenant_column()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity, p.qual, p.with_check "
            "FROM pg_class c JOIN pg_policies p ON p.tablename = c.relname "
            "WHERE p.policyname = %s AND c.relname = ANY(%s)",
            [rls.POLICY_NAME, tables],
        )
        rows = {name: rest for name, *rest in cursor.fetchall()}
    assert set(rows) == set(tables)
    for table, (enabled, forced, using, check) in rows.items():
        assert (enabled, forced) == (True, True), table
        assert rls.TENANT_SETTING in using, table
        assert rls.TENANT_SETTING in check, table
        assert f"pg_has_role('{settings.DATABASE_PLATFORM_ROLE}'" in using, table
        assert f"pg_has_role('{settings.DATABASE_PLATFORM_ROLE}'" in check, table
    # Every tenant model of the project is among them (and so gets a factory for the sweep).
    assert {model._meta.db_table for model in rls.tenant_models()} == set(tables)
    # (Unmanaged models are views over tenant tables, such as the audit trail's feed.)
    assert {model._meta.db_table for model in FACTORIES if model._meta.managed} <= set(tables)


@pytest.mark.django_db
def test_without_a_tenant_setting_every_tenant_table_reads_empty(tenant_a, tenant_b):
    for tenant in (tenant_a, tenant_b):
        for factory in FACTORIES.values():
            factory(tenant=tenant)
    qn = connection.ops.quote_name
    with connection.cursor() as cursor:
        for table in _tables_with_tenant_column():
            cursor.execute(f"SELECT count(*) FROM {qn(table)}")  # noqa: S608
            assert cursor.fetchone() == (0,), table
    with rls.tenant_scope(tenant_a.pk):
        assert Service.objects.count() == 1  # no filter: RLS alone keeps B's out
    # Nor does the platform setting open anything on the application's connection, set by
    # plain SQL as an injection would: the policy wants membership of the platform role too.
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL app.platform = 'on'")
        for table in _tables_with_tenant_column():
            cursor.execute(f"SELECT count(*) FROM {qn(table)}")  # noqa: S608
            assert cursor.fetchone() == (0,), table


@pytest.mark.django_db
def test_the_application_role_cannot_become_the_platform_role():
    platform_role = settings.DATABASE_PLATFORM_ROLE
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_has_role(%s, 'MEMBER')", [platform_role])
        assert cursor.fetchone() == (False,)
        with pytest.raises(DatabaseError, match="permission denied"), transaction.atomic():
            cursor.execute(f"SET ROLE {connection.ops.quote_name(platform_role)}")


@platform_db
def test_the_platform_role_sees_every_tenant_only_in_the_platform_scope(tenant_a, tenant_b):
    ServiceFactory(tenant=tenant_a)
    ServiceFactory(tenant=tenant_b)
    assert connection.settings_dict["USER"] == settings.DATABASE_PLATFORM_ROLE
    assert Service.objects.count() == 0  # no setting: nothing, as for the application
    with rls.tenant_scope(tenant_a.pk):
        assert Service.objects.count() == 1
    with rls.platform_scope():
        assert Service.objects.count() == 2


@pytest.mark.django_db
def test_a_write_with_another_tenants_id_is_refused(tenant_a, tenant_b):
    service_b = ServiceFactory(tenant=tenant_b)
    with rls.tenant_scope(tenant_a.pk):
        with pytest.raises(DatabaseError, match="row-level security"), transaction.atomic():
            Service.objects.create(tenant=tenant_b, name="Sneaky", slug="sneaky")
        # Another tenant's rows are invisible to updates and deletes: nothing happens.
        assert Service.objects.filter(pk=service_b.pk).update(name="Hijacked") == 0
        assert Service.objects.filter(pk=service_b.pk).delete()[0] == 0
    with rls.tenant_scope(tenant_b.pk):
        service_b.refresh_from_db()
        assert service_b.name != "Hijacked"


@pytest.mark.django_db
def test_moving_a_row_into_another_tenant_is_refused(tenant_a, tenant_b):
    service_a = ServiceFactory(tenant=tenant_a, owner_team=None)
    with rls.tenant_scope(tenant_a.pk):
        with pytest.raises(DatabaseError, match="row-level security"), transaction.atomic():
            Service.objects.filter(pk=service_a.pk).update(tenant_id=tenant_b.pk)
        service_a.refresh_from_db()
        assert service_a.tenant_id == tenant_a.pk


@pytest.mark.django_db
def test_scope_restores_the_outer_setting_after_a_nested_scope(tenant_a, tenant_b):
    ServiceFactory(tenant=tenant_a)
    ServiceFactory(tenant=tenant_b)
    with rls.tenant_scope(tenant_a.pk):
        with rls.tenant_scope(tenant_b.pk):
            assert list(Service.objects.values_list("tenant_id", flat=True)) == [tenant_b.pk]
        assert list(Service.objects.values_list("tenant_id", flat=True)) == [tenant_a.pk]
        with pytest.raises(ZeroDivisionError), rls.tenant_scope(tenant_b.pk):
            1 / 0  # noqa: B018
        assert list(Service.objects.values_list("tenant_id", flat=True)) == [tenant_a.pk]
    assert Service.objects.count() == 0


@platform_db_committed
def test_platform_scope_runs_on_the_platform_connection_and_gives_the_default_back(
    tenant_a, tenant_b
):
    ServiceFactory(tenant=tenant_a)
    ServiceFactory(tenant=tenant_b)
    app = connections["default"]
    with rls.platform_scope():
        assert connections["default"] is connections[rls.PLATFORM_DB_ALIAS]
        with connection.cursor() as cursor:
            cursor.execute("SELECT current_user")
            assert cursor.fetchone() == (settings.DATABASE_PLATFORM_ROLE,)
        assert Service.objects.count() == 2
    assert connections["default"] is app
    assert Service.objects.count() == 0  # the application's connection, no scope


@pytest.mark.django_db
def test_platform_scope_refuses_to_start_inside_an_application_transaction(tenant_a):
    # Its own connection could not see this transaction's rows: a loud error, not an empty page
    with pytest.raises(RuntimeError, match="platform connection"), rls.platform_scope():
        pass
