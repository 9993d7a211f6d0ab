"""Changes and their configuration in admin: read-mostly, writes through the services."""

from typing import Any

import pytest
from django.test import Client

from changes.models import Change, ChangeEvent
from itsm.tenancy import rls
from tests.factories import (
    ApprovalRuleFactory,
    CabMemberFactory,
    ChangeFactory,
    ChangeTemplateFactory,
    UserFactory,
)
from tests.markers import platform_db

pytestmark = platform_db


@pytest.fixture
def root() -> Any:
    return UserFactory(username="root", is_staff=True, is_superuser=True)


@pytest.fixture
def platform_client(root: Any) -> Client:
    client = Client()
    client.force_login(root)
    return client


def test_the_platform_admin_sees_every_tenants_changes_and_configuration(
    platform_client, tenant_a, tenant_b
):
    ours, theirs = ChangeFactory(tenant=tenant_a), ChangeFactory(tenant=tenant_b)
    template = ChangeTemplateFactory(tenant=tenant_a)
    CabMemberFactory(tenant=tenant_a)
    ApprovalRuleFactory(tenant=tenant_a)

    changes = platform_client.get("/admin/changes/change/")
    page = platform_client.get(f"/admin/changes/change/{ours.pk}/change/")

    assert changes.status_code == page.status_code == 200
    assert ours.reference in changes.content.decode()
    assert theirs.title in changes.content.decode()
    for path in (
        "/admin/changes/changetemplate/",
        f"/admin/changes/changetemplate/{template.pk}/change/",
        "/admin/changes/cabmember/",
        "/admin/changes/approvalrule/",
        "/admin/changes/blackoutwindow/",
        "/admin/changes/changetemplate/add/",
        "/admin/changes/change/add/",
    ):
        assert platform_client.get(path).status_code == 200, path


def test_a_change_added_in_admin_goes_through_the_service(platform_client, tenant_a, admin_a):
    response = platform_client.post(
        "/admin/changes/change/add/",
        {
            "tenant": tenant_a.pk,
            "title": "Upgrade the relay",
            "description": "",
            "change_type": "normal",
            "owner": admin_a.pk,
            "implementation_plan": "",
            "backout_plan": "",
            "test_plan": "",
        },
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    with rls.platform_scope():
        change = Change.objects.get(tenant=tenant_a)
        kinds = list(ChangeEvent.objects.filter(change=change).values_list("kind", flat=True))
    assert (change.reference, change.status, kinds) == ("CHG-000001", "draft", ["created"])


def test_a_tenant_admin_reads_their_changes_only(tenant_a, tenant_b, admin_a):
    ours, theirs = ChangeFactory(tenant=tenant_a), ChangeFactory(tenant=tenant_b)
    client = Client()
    client.force_login(admin_a)

    listed = client.get("/admin/changes/change/")

    assert listed.status_code == 200
    assert ours.title in listed.content.decode()
    assert theirs.title not in listed.content.decode()
    assert client.get(f"/admin/changes/change/{theirs.pk}/change/").status_code in (302, 404)
    assert client.get("/admin/changes/change/add/").status_code == 403
    assert client.get("/admin/changes/changetemplate/add/").status_code == 200
