"""The outbox in the platform admin: every tenant's deliveries, filtered, read-only, with the
reason of a failure, and a retry action that goes through the service."""

import pytest
from django.core import mail
from django.test import Client

from itsm.notifications.models import Delivery, NotificationPreference
from itsm.tenancy import rls
from tests.factories import DeliveryFactory, NotificationFactory, UserFactory
from tests.markers import platform_db

pytestmark = platform_db

CHANGELIST = "/admin/notifications/delivery/"


@pytest.fixture
def admin_client() -> Client:
    client = Client()
    client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))
    return client


def _failed_email(tenant, address: str) -> Delivery:
    return DeliveryFactory(
        tenant=tenant,
        notification=NotificationFactory(tenant=tenant, title=f"To {address}"),
        channel="email",
        user=None,
        address=address,
        status="failed",
        attempts=6,
        last_error="SMTPDataError: (554, b'5.7.1 Refused by policy')",
        delivered_at=None,
    )


def _state(delivery: Delivery) -> tuple[str, int]:
    with rls.platform_scope():
        row = Delivery.objects.get(pk=delivery.pk)
    return row.status, row.attempts


def test_failed_deliveries_of_every_tenant_are_listed_with_their_reason(
    admin_client, tenant_a, tenant_b
):
    # Given a failed e-mail in each tenant and a delivered in-app item
    failed_a = _failed_email(tenant_a, "ops@a.example")
    failed_b = _failed_email(tenant_b, "ops@b.example")
    DeliveryFactory(tenant=tenant_a)

    # When the platform admin filters by status
    response = admin_client.get(CHANGELIST, {"status__exact": "failed"})

    # Then both tenants' failures are there, with the reason, and no row can be edited or added
    assert response.status_code == 200
    assert {row.pk for row in response.context["cl"].result_list} == {failed_a.pk, failed_b.pk}
    assert "5.7.1 Refused by policy" in response.content.decode()
    filters = {spec.field_path for spec in response.context["cl"].filter_specs}
    assert filters == {"status", "channel", "tenant"}
    assert admin_client.get(f"{CHANGELIST}add/").status_code == 403
    detail = admin_client.get(f"{CHANGELIST}{failed_a.pk}/change/")
    assert (detail.status_code, detail.context["has_change_permission"]) == (200, False)


def test_the_retry_action_requeues_and_delivers_after_commit(
    admin_client, tenant_a, eager, django_capture_on_commit_callbacks
):
    failed = _failed_email(tenant_a, "ops@a.example")
    delivered = DeliveryFactory(tenant=tenant_a)

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = admin_client.post(
            CHANGELIST,
            {"action": "retry", "_selected_action": [failed.pk, delivered.pk]},
            follow=True,
        )

    assert response.status_code == 200
    assert [str(message) for message in response.context["messages"]] == [
        "1 deliveries queued again; 1 delivered or being sent were left alone."
    ]
    assert len(callbacks) == 1
    assert [(message.subject, message.to) for message in mail.outbox] == [
        ("To ops@a.example", ["ops@a.example"])
    ]
    assert _state(failed) == ("delivered", 1)
    assert _state(delivered) == ("delivered", 0)


def test_a_notification_shows_its_deliveries(admin_client, tenant_a):
    failed = _failed_email(tenant_a, "ops@a.example")

    url = f"/admin/notifications/notification/{failed.notification_id}/change/"
    response = admin_client.get(url)

    assert response.status_code == 200
    assert "ops@a.example" in response.content.decode()
    assert "5.7.1 Refused by policy" in response.content.decode()


def test_a_tenant_admin_sets_their_tenants_default_preferences_only(tenant_a, tenant_b, admin_a):
    # Given a default and a user's own choice in A, and a default in B
    with rls.tenant_scope(tenant_a.pk):
        default_a = NotificationPreference.objects.create(
            tenant=tenant_a, event_type="incident.assigned", channel="email"
        )
        NotificationPreference.objects.create(
            tenant=tenant_a, user=admin_a, event_type="incident.assigned", channel="email"
        )
    with rls.tenant_scope(tenant_b.pk):
        NotificationPreference.objects.create(
            tenant=tenant_b, event_type="incident.assigned", channel="email"
        )
    client = Client()
    client.force_login(admin_a)

    # When A's administrator lists the preferences and adds a default
    listed = client.get("/admin/notifications/notificationpreference/")
    added = client.post(
        "/admin/notifications/notificationpreference/add/",
        {"event_type": "incident.sla_breached", "channel": "email"},
    )

    # Then only A's defaults are theirs to see; the new row is a default of A (no user field)
    assert listed.status_code == 200
    assert [row.pk for row in listed.context["cl"].result_list] == [default_a.pk]
    assert added.status_code == 302, added.context and added.context["errors"]
    with rls.platform_scope():
        created = NotificationPreference.objects.get(event_type="incident.sla_breached")
    assert (created.tenant_id, created.user_id, created.is_enabled) == (tenant_a.pk, None, False)
    # The outbox is the platform's
    assert client.get(CHANGELIST).status_code == 403


def test_preferences_offer_the_registered_event_types_and_channels(admin_client, tenant_a):
    page = admin_client.get("/admin/notifications/notificationpreference/add/")
    refused = admin_client.post(
        "/admin/notifications/notificationpreference/add/",
        {"tenant": tenant_a.pk, "event_type": "incident.made_up", "channel": "pigeon"},
    )

    form = page.context["adminform"].form
    assert ("incident.assigned", "An incident is assigned to me or my team") in form.fields[
        "event_type"
    ].choices
    assert [name for name, _label in form.fields["channel"].choices] == ["email", "in_app"]
    assert refused.context["adminform"].form.errors == {
        "event_type": [
            "Select a valid choice. incident.made_up is not one of the available choices."
        ],
        "channel": ["Select a valid choice. pigeon is not one of the available choices."],
    }
