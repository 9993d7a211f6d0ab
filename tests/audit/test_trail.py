"""The audit trail is written by the database: every road that changes a row leaves a record
with the tenant, who or what changed it, and each field's old and new value."""

from datetime import timedelta
from typing import Any

import psycopg
import pytest
from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.test import Client
from django.utils import timezone

from incidents.models import Incident, IncidentEvent, SlaClock
from incidents.tasks import close_resolved_incidents_task
from itsm.audit.models import AuditEvent
from itsm.audit.tracking import audited_models
from itsm.catalog.models import Service
from itsm.tenancy import rls
from itsm.tenancy.models import TenantCounter
from itsm.timers.models import Timer
from tests.factories import ServiceFactory, UserFactory
from tests.incidents.conftest import make_incident
from tests.markers import platform_db_committed

pytestmark = pytest.mark.django_db


def _events(tenant: Any, obj: Any, action: str = "update") -> list[AuditEvent]:
    with rls.tenant_scope(tenant.pk):
        return list(
            AuditEvent.objects.filter(
                tenant=tenant, model=obj._meta.label_lower, object_id=obj.pk, action=action
            ).order_by("created_at")
        )


def _changes(event: AuditEvent) -> dict[str, list[Any]]:
    return dict(event.changes or {})


# --- What is audited ---------------------------------------------------------------------------


def test_the_records_people_and_tasks_change_are_audited_and_engine_rows_are_not():
    labels = {audited.label for audited in audited_models()}

    assert labels == {
        "tenancy.tenant",
        "tenancy.membership",
        "tenancy.team",
        "tenancy.teammember",
        "catalog.service",
        "catalog.category",
        "calendars.businesscalendar",
        "calendars.workingperiod",
        "calendars.holiday",
        "notifications.notificationpreference",
        "incidents.incident",
        "incidents.prioritymatrixcell",
        "incidents.prioritylabel",
        "incidents.incidentsettings",
        "incidents.slapolicy",
        "knowledgebase.tag",
        "knowledgebase.article",
        "knowledgebase.articletag",
        "knowledgebase.articlerestriction",
        "knowledgebase.articlefeedback",
        "problems.problem",
        "problems.knownerror",
        "problems.problemsuggestion",
        "problems.trendsettings",
        "changes.change",
        "changes.changetemplate",
        "changes.cabmember",
        "changes.approvalrule",
        "changes.changeapproval",
        "changes.blackoutwindow",
        "changes.changefix",
        "changes.changeincident",
    }
    # Append-only or derived rows keep no second history.
    for model in (IncidentEvent, SlaClock, Timer, TenantCounter):
        assert model._meta.label_lower not in labels


# --- Every road --------------------------------------------------------------------------------


def test_an_api_update_records_the_token_user_the_request_and_each_field(desk, api_client):
    # Given an incident (created and routed by the services: two events so far)
    incident = make_incident(desk)
    before = len(_events(desk.tenant, incident))

    # When an agent renames it through the API with a token
    response = api_client(desk.l1_agent).patch(
        desk.url(f"{incident.reference}/"), {"title": "Mail is down for everyone"}, format="json"
    )

    # Then one update event names the agent, the request and the field with old and new
    assert response.status_code == 200, response.content
    *earlier, event = _events(desk.tenant, incident)
    assert len(earlier) == before
    assert event.context == {
        "source": "api",
        "user_id": desk.l1_agent.pk,
        "username": "lena-l1",
        "method": "PATCH",
        "path": f"/api/v1/t/acme/incidents/{incident.reference}/",
    }
    assert _changes(event) == {"title": ["Mail is down", "Mail is down for everyone"]}
    assert event.tenant_id == desk.tenant.pk
    assert event.object_ref == incident.reference


@platform_db_committed  # the admin view on its own connection keeps the request's context
def test_an_admin_change_records_the_staff_user_and_the_admin_source(desk):
    # Given a new incident and a platform administrator
    incident = make_incident(desk)
    root = UserFactory(username="root", is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(root)
    url = f"/admin/incidents/incident/{incident.pk}/act/"
    before = len(_events(desk.tenant, incident))

    # When they acknowledge it on the admin's act page
    response = client.post(url, {"action": "acknowledge"})

    # Then the status change is recorded as theirs, from the admin
    assert response.status_code == 302
    *earlier, event = _events(desk.tenant, incident)
    assert len(earlier) == before
    assert event.context == {
        "source": "admin",
        "user_id": root.pk,
        "username": "root",
        "method": "POST",
        "path": url,
    }
    assert _changes(event)["status"] == ["new", "in_progress"]


def test_a_celery_task_records_its_name_and_no_user(desk):
    # Given an incident resolved four days ago
    incident = make_incident(desk, "resolved")
    with rls.tenant_scope(desk.tenant.pk):
        Incident.objects.filter(pk=incident.pk).update(
            resolved_at=timezone.now() - timedelta(days=4)
        )

    # When the auto-close task runs as a worker runs it (with Celery's task signals)
    result = close_resolved_incidents_task.apply(kwargs={"tenant_id": desk.tenant.pk})

    # Then the closing is recorded as the task's
    assert result.get() == 1
    closing = _events(desk.tenant, incident)[-1]
    assert closing.context == {
        "source": "task",
        "task": "incidents.tasks.close_resolved_incidents_task",
        "user_id": None,
        "username": None,
    }
    assert _changes(closing)["status"] == ["resolved", "closed"]


def test_a_bulk_queryset_update_records_every_row_with_the_database_role(tenant_a):
    # Given three services
    services = [ServiceFactory(tenant=tenant_a, name=f"Service {n}") for n in range(3)]

    # When code outside any request or task updates them in one statement
    with rls.tenant_scope(tenant_a.pk):
        updated = Service.objects.filter(tenant=tenant_a).update(is_active=False)

    # Then each row has its event, made by SQL as the application's role
    assert updated == 3
    for service in services:
        [event] = _events(tenant_a, service)
        assert event.context == {"source": "sql", "db_role": settings.DATABASE_APP_ROLE}
        assert _changes(event) == {"is_active": [True, False]}


def test_a_raw_sql_update_is_recorded(tenant_a):
    # Given a service
    service = ServiceFactory(tenant=tenant_a, name="Mail")

    # When someone renames it in raw SQL
    with rls.tenant_scope(tenant_a.pk), connection.cursor() as cursor:
        cursor.execute(
            "UPDATE catalog_service SET name = 'E-mail', criticality = 'high' WHERE id = %s",
            [service.pk],
        )

    # Then the database recorded the change, field by field, in the service's tenant
    [event] = _events(tenant_a, service)
    assert event.tenant_id == tenant_a.pk
    assert event.context == {"source": "sql", "db_role": settings.DATABASE_APP_ROLE}
    assert _changes(event) == {
        "criticality": [service.criticality, "high"],
        "name": ["Mail", "E-mail"],
    }


def test_creation_and_deletion_are_recorded_with_the_values(tenant_a):
    service = ServiceFactory(tenant=tenant_a, name="Mail", description="")

    with rls.tenant_scope(tenant_a.pk):
        Service.objects.filter(pk=service.pk).delete()

    [created] = _events(tenant_a, service, "insert")
    [deleted] = _events(tenant_a, service, "delete")
    assert _changes(created)["name"] == [None, "Mail"]
    assert _changes(deleted)["name"] == ["Mail", None]
    # Fields that never change (id, tenant, creation time) are in the snapshot, not the diff.
    assert not {"id", "tenant_id", "created_at"} & set(_changes(created))


def test_a_write_that_changes_no_audited_field_leaves_no_event(desk):
    # Given an incident
    incident = make_incident(desk)
    before = _events(desk.tenant, incident)

    # When only its version (the ETag counter) and updated_at move
    with rls.tenant_scope(desk.tenant.pk):
        Incident.objects.filter(pk=incident.pk).update(
            version=incident.version + 1, updated_at=timezone.now()
        )

    # Then nothing more is recorded
    assert _events(desk.tenant, incident) == before


# --- Nobody rewrites history -------------------------------------------------------------------


def _audit_tables() -> list[str]:
    return [audited.event_model._meta.db_table for audited in audited_models()]


def test_the_application_role_may_only_read_and_add_to_the_audit_tables():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT t, has_table_privilege(current_user, t, 'SELECT'),"
            " has_table_privilege(current_user, t, 'INSERT'),"
            " has_table_privilege(current_user, t, 'UPDATE'),"
            " has_table_privilege(current_user, t, 'DELETE'),"
            " has_table_privilege(current_user, t, 'TRUNCATE')"
            " FROM unnest(%s::text[]) AS t",
            [_audit_tables()],
        )
        rows = cursor.fetchall()

    assert len(rows) == len(audited_models()) >= 15
    assert {tuple(row[1:]) for row in rows} == {(True, True, False, False, False)}


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE catalog_serviceaudit SET name = 'forged'",
        "DELETE FROM catalog_serviceaudit",
        "TRUNCATE catalog_serviceaudit",
    ],
)
def test_the_application_role_cannot_rewrite_or_erase_an_audit_row(tenant_a, statement):
    # Given a recorded service creation
    service = ServiceFactory(tenant=tenant_a, name="Mail")

    # When the application's role tries to change the trail in raw SQL
    with (
        pytest.raises(DatabaseError, match="permission denied"),
        rls.tenant_scope(tenant_a.pk),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(statement)

    # Then the record is still there as written
    [event] = _events(tenant_a, service, "insert")
    assert _changes(event)["name"] == [None, "Mail"]


def test_the_trigger_refuses_changes_even_to_the_schema_owner():
    # Given the schema owner, who has every privilege on its tables, on its own connection
    database = connection.settings_dict
    owner = settings.DATABASE_OWNER_CREDENTIALS
    with psycopg.connect(
        dbname=database["NAME"],
        host=database["HOST"],
        port=database["PORT"] or 5432,
        user=owner["USER"],
        password=owner["PASSWORD"] or None,
    ) as conn:
        with conn.cursor() as cursor:
            # and a recorded tenant creation
            cursor.execute(
                "INSERT INTO tenancy_tenant (name, slug, is_active, created_at)"
                " VALUES ('Owner test', 'owner-test', true, now())"
            )
            # When the owner tries to rewrite or erase the record
            for statement in (
                "UPDATE tenancy_tenantaudit SET pgh_label = 'forged'",
                "DELETE FROM tenancy_tenantaudit",
            ):
                cursor.execute("SAVEPOINT attempt")
                # Then pghistory's append-only trigger refuses
                with pytest.raises(psycopg.errors.RaiseException, match="Cannot"):
                    cursor.execute(statement)
                cursor.execute("ROLLBACK TO SAVEPOINT attempt")
        conn.rollback()
