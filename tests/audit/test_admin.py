"""The audit trail in the platform admin: every tenant's events, filtered, read-only."""

from typing import Any

import pytest
from django.test import Client

from itsm.audit.models import AuditEvent
from itsm.catalog.models import Service
from itsm.tenancy import rls
from tests.factories import ServiceFactory, UserFactory
from tests.markers import platform_db

pytestmark = platform_db

CHANGELIST = "/admin/audit/auditevent/"


@pytest.fixture
def admin_client() -> Client:
    client = Client()
    client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))
    return client


def _renamed_service(tenant: Any, old: str, new: str) -> Any:
    service = ServiceFactory(tenant=tenant, name=old)
    with rls.tenant_scope(tenant.pk):
        Service.objects.filter(pk=service.pk).update(name=new)
    return service


def test_the_list_filters_by_tenant_and_model(admin_client, tenant_a, tenant_b):
    _renamed_service(tenant_a, "Mail", "E-mail")
    _renamed_service(tenant_b, "Print", "Printing")

    response = admin_client.get(
        CHANGELIST, {"tenant__id__exact": tenant_a.pk, "model": "catalog.service"}
    )

    assert response.status_code == 200
    events = list(response.context["cl"].result_list)
    assert [(event.tenant_id, event.action) for event in events] == [
        (tenant_a.pk, "update"),
        (tenant_a.pk, "insert"),
    ]


def test_an_event_page_shows_each_field_with_old_and_new_and_cannot_be_changed(
    admin_client, tenant_a
):
    service = _renamed_service(tenant_a, "Mail", "E-mail")
    with rls.tenant_scope(tenant_a.pk):
        event = AuditEvent.objects.get(
            model="catalog.service", object_id=service.pk, action="update"
        )

    response = admin_client.get(f"{CHANGELIST}{event.pk}/change/")

    assert response.status_code == 200
    content = response.content.decode()
    assert "<tr><td>name</td><td>Mail</td><td>E-mail</td></tr>" in content
    assert 'name="_save"' not in content
    assert admin_client.post(f"{CHANGELIST}{event.pk}/delete/").status_code == 403
    assert admin_client.get(f"{CHANGELIST}add/").status_code == 403


def test_a_tenant_admin_reads_their_tenants_trail_only(tenant_a, tenant_b, admin_a):
    # Given a change in each tenant
    ours = _renamed_service(tenant_a, "Mail", "E-mail")
    theirs = _renamed_service(tenant_b, "Print", "Printing")
    with rls.platform_scope():
        their_event = AuditEvent.objects.get(
            model="catalog.service", object_id=theirs.pk, action="update"
        )
    client = Client()
    client.force_login(admin_a)

    # When A's administrator opens the trail
    response = client.get(CHANGELIST, {"model": "catalog.service"})
    other = client.get(f"{CHANGELIST}{their_event.pk}/change/")

    # Then they see A's events only, without a tenant column or filter, and cannot change them
    assert response.status_code == 200
    cl = response.context["cl"]
    assert {(event.tenant_id, event.object_id) for event in cl.result_list} == {
        (tenant_a.pk, ours.pk)
    }
    assert "tenant" not in cl.list_display
    assert (other.status_code, other["Location"]) == (302, "/admin/")
    assert client.get(f"{CHANGELIST}add/").status_code == 403
