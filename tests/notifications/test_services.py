"""Publishing into the outbox: recipients, preferences, query counts, the broker down at commit,
and delivery: once, retried with backoff, failed for good with the reason, leases."""

import smtplib
from datetime import timedelta
from typing import Any

import pytest
from django.core import mail
from django.core.mail.backends.base import BaseEmailBackend
from django.utils import timezone
from kombu.exceptions import OperationalError

from itsm.notifications import delivery, services, tasks
from itsm.notifications.choices import DeliveryStatus
from itsm.notifications.models import Delivery, Notification, NotificationPreference
from itsm.notifications.services import NotificationDraft, notification_publish_many
from itsm.tenancy import rls
from itsm.tenancy.models import Tenant
from tests.factories import TeamFactory, TeamMemberFactory
from tests.markers import platform_db
from tests.notifications.conftest import DIGEST, PING, rows

pytestmark = pytest.mark.django_db


class RefusingBackend(BaseEmailBackend):
    """A mail server that refuses every message."""

    def send_messages(self, email_messages: Any) -> int:
        raise smtplib.SMTPDataError(554, b"5.7.1 Refused by policy")


def _team(tenant, slug: str, *members: Any, email: str = "") -> Any:
    team = TeamFactory(tenant=tenant, slug=slug, email=email)
    for user in members:
        TeamMemberFactory(tenant=tenant, team=team, user=user)
    return team


def _deliver(tenant) -> delivery.DeliveryRun:
    return delivery.deliveries_deliver_due(tenant_id=tenant.pk)


def _make_due(tenant) -> None:
    """Let time pass: every pending delivery's next attempt (or lease end) has come."""
    with rls.tenant_scope(tenant.pk):
        Delivery.objects.for_tenant(tenant).filter(status=DeliveryStatus.PENDING).update(
            next_attempt_at=timezone.now() - timedelta(seconds=1)
        )


# --- Recipients --------------------------------------------------------------------------------


def test_a_user_gets_one_email_and_one_in_app_item(tenant_a, make_member, publish):
    ann = make_member(tenant_a, username="ann")

    notification = publish(tenant_a, users=[ann], link="/t/tenant-a/x/", reference="INC-000001")

    assert (notification.event_type, notification.reference) == (PING, "INC-000001")
    assert rows(tenant_a) == [
        ("email", "ann@example.com", "pending"),
        ("in_app", "ann", "delivered"),
    ]


def test_a_team_without_an_address_reaches_its_members_and_one_with_an_address_only_that(
    tenant_a, make_member, publish
):
    # Given a team of two and a team with its own address (whose members are not told)
    ann, bob, cy = (make_member(tenant_a, username=name) for name in ("ann", "bob", "cy"))
    l2 = _team(tenant_a, "l2", ann, bob)
    ops = _team(tenant_a, "ops", cy, email="ops@acme.example")

    # When both are notified, and ann twice (directly and through her team)
    publish(tenant_a, users=[ann], teams=[l2, ops])

    # Then each person once per channel, and the address by e-mail only
    assert rows(tenant_a) == [
        ("email", "ann@example.com", "pending"),
        ("email", "bob@example.com", "pending"),
        ("email", "ops@acme.example", "pending"),
        ("in_app", "ann", "delivered"),
        ("in_app", "bob", "delivered"),
    ]


def test_an_address_that_is_a_recipients_email_is_not_sent_twice(tenant_a, make_member, publish):
    ann = make_member(tenant_a, username="ann")

    publish(tenant_a, users=[ann], addresses=["ANN@example.com", "boss@acme.example"])

    assert rows(tenant_a) == [
        ("email", "ann@example.com", "pending"),
        ("email", "boss@acme.example", "pending"),
        ("in_app", "ann", "delivered"),
    ]


def test_a_user_without_an_address_gets_the_in_app_item_only(tenant_a, make_member, publish):
    ann = make_member(tenant_a, username="ann", email="")

    publish(tenant_a, users=[ann])

    assert rows(tenant_a) == [("in_app", "ann", "delivered")]


def test_nobody_to_tell_writes_nothing(tenant_a, publish, django_capture_on_commit_callbacks):
    empty_team = _team(tenant_a, "empty")

    with django_capture_on_commit_callbacks() as callbacks, rls.tenant_scope(tenant_a.pk):
        result = services.notification_publish(
            tenant=tenant_a, event_type=PING, title="x", body="", teams=[empty_team]
        )

    assert (result, callbacks, rows(tenant_a)) == (None, [], [])


def test_an_unregistered_event_type_is_a_programming_error(tenant_a, make_member):
    ann = make_member(tenant_a)

    with (
        rls.tenant_scope(tenant_a.pk),
        pytest.raises(LookupError, match="Unknown notification event type 'nope'"),
    ):
        services.notification_publish(
            tenant=tenant_a, event_type="nope", title="x", body="", users=[ann]
        )


# --- Preferences -------------------------------------------------------------------------------


def _prefer(tenant, user, event_type: str, channel: str, enabled: bool | None) -> None:
    with rls.tenant_scope(tenant.pk):
        services.notification_preference_set(
            tenant=tenant, user=user, event_type=event_type, channel=channel, enabled=enabled
        )


def test_an_opted_out_channel_is_not_delivered_on(tenant_a, make_member, publish):
    ann, bob = make_member(tenant_a, username="ann"), make_member(tenant_a, username="bob")
    _prefer(tenant_a, ann, PING, "email", False)

    publish(tenant_a, users=[ann, bob])

    assert rows(tenant_a) == [
        ("email", "bob@example.com", "pending"),
        ("in_app", "ann", "delivered"),
        ("in_app", "bob", "delivered"),
    ]


def test_the_tenant_default_applies_to_users_without_their_own_choice(
    tenant_a, make_member, publish
):
    # Given the tenant turns pings off by e-mail, and ann turns them back on for herself
    ann, bob = make_member(tenant_a, username="ann"), make_member(tenant_a, username="bob")
    ops = _team(tenant_a, "ops", email="ops@acme.example")
    _prefer(tenant_a, None, PING, "email", False)
    _prefer(tenant_a, ann, PING, "email", True)

    publish(tenant_a, users=[ann, bob], teams=[ops])

    # Then bob and the team address follow the tenant default; ann her own choice
    assert rows(tenant_a) == [
        ("email", "ann@example.com", "pending"),
        ("in_app", "ann", "delivered"),
        ("in_app", "bob", "delivered"),
    ]


def test_the_registered_default_applies_when_nobody_chose(tenant_a, make_member, publish):
    # Digests are e-mail only by default; the tenant turns in-app on for them
    ann = make_member(tenant_a, username="ann")
    publish(tenant_a, event_type=DIGEST, users=[ann])
    assert rows(tenant_a) == [("email", "ann@example.com", "pending")]

    _prefer(tenant_a, None, DIGEST, "in_app", True)
    publish(tenant_a, event_type=DIGEST, users=[ann])

    assert rows(tenant_a) == [
        ("email", "ann@example.com", "pending"),
        ("email", "ann@example.com", "pending"),
        ("in_app", "ann", "delivered"),
    ]


def test_removing_a_choice_falls_back_to_the_default(tenant_a, make_member, publish):
    ann = make_member(tenant_a, username="ann")
    _prefer(tenant_a, ann, PING, "in_app", False)
    _prefer(tenant_a, ann, PING, "in_app", True)
    _prefer(tenant_a, ann, PING, "in_app", False)  # set twice: one row, the last value
    with rls.tenant_scope(tenant_a.pk):
        assert list(NotificationPreference.objects.values_list("is_enabled", flat=True)) == [False]

    _prefer(tenant_a, ann, PING, "in_app", None)

    with rls.tenant_scope(tenant_a.pk):
        assert NotificationPreference.objects.count() == 0
    publish(tenant_a, users=[ann])
    assert rows(tenant_a) == [
        ("email", "ann@example.com", "pending"),
        ("in_app", "ann", "delivered"),
    ]


# --- Query counts ------------------------------------------------------------------------------


def _teams(tenant, make_member, count: int, prefix: str = "team") -> list[Any]:
    return [
        _team(tenant, f"{prefix}-{index}", make_member(tenant), make_member(tenant))
        for index in range(count)
    ]


def test_publishing_costs_the_same_queries_for_one_team_as_for_ten(
    tenant_a, make_member, django_assert_num_queries
):
    one, ten = _teams(tenant_a, make_member, 1, "one"), _teams(tenant_a, make_member, 10, "ten")
    _prefer(tenant_a, make_member(tenant_a), PING, "email", False)

    with rls.tenant_scope(tenant_a.pk):
        _warm_preferences(tenant_a)
        # team members; notifications with their deliveries (in the caller's transaction)
        with django_assert_num_queries(2):
            services.notification_publish(
                tenant=tenant_a, event_type=PING, title="1", body="", teams=one
            )
        with django_assert_num_queries(2):
            services.notification_publish(
                tenant=tenant_a, event_type=PING, title="10", body="", teams=ten
            )
        counts = [
            Delivery.objects.filter(notification__title=title).count() for title in ("1", "10")
        ]
    assert counts == [4, 40]


def test_preferences_are_read_once_per_version_of_the_tenants_configuration(
    tenant_a, make_member, django_assert_num_queries
):
    ann = make_member(tenant_a, username="ann")
    with rls.tenant_scope(tenant_a.pk):
        tenant_a.refresh_from_db()
        # The first publish of this configuration reads the preferences; the next does not
        with django_assert_num_queries(2):  # preferences; the notification with its deliveries
            services.notification_publish(
                tenant=tenant_a, event_type=PING, title="1", users=[ann], body=""
            )
        with django_assert_num_queries(1):
            services.notification_publish(
                tenant=tenant_a, event_type=PING, title="2", users=[ann], body=""
            )
    # A change of preference is a new version: read again, and honoured
    _prefer(tenant_a, ann, PING, "email", False)
    with rls.tenant_scope(tenant_a.pk):
        tenant_a.refresh_from_db()
        with django_assert_num_queries(2):
            services.notification_publish(
                tenant=tenant_a, event_type=PING, title="3", users=[ann], body=""
            )
        channels = list(
            Delivery.objects.filter(notification__title="3").values_list("channel", flat=True)
        )
    assert channels == ["in_app"]


def _warm_preferences(tenant: Tenant) -> None:
    """As in a process that has published for the tenant before: its preferences are cached
    (for the tenant as it is now, read afresh as a request would)."""
    tenant.refresh_from_db()
    services.notification_publish(tenant=tenant, event_type=PING, title="warm-up", body="")


def test_publishing_a_batch_costs_the_same_queries_for_one_draft_as_for_fifty(
    tenant_a, make_member, django_assert_num_queries
):
    teams = _teams(tenant_a, make_member, 3)
    drafts = [
        NotificationDraft(event_type=PING, title=f"n{i}", body="", teams=teams[i % 3 :])
        for i in range(50)
    ]

    with rls.tenant_scope(tenant_a.pk):
        _warm_preferences(tenant_a)
        with django_assert_num_queries(2):
            [first] = notification_publish_many(tenant=tenant_a, drafts=drafts[:1])
        with django_assert_num_queries(2):
            published = notification_publish_many(tenant=tenant_a, drafts=drafts)
        assert Notification.objects.count() == 51
        assert Delivery.objects.filter(notification=first).count() == 12
    assert [getattr(notification, "title", None) for notification in published] == [
        f"n{i}" for i in range(50)
    ]


# --- Delivery ----------------------------------------------------------------------------------


def test_delivery_runs_after_commit_and_sends_one_email_per_recipient(
    tenant_a, make_member, publish, eager
):
    ann = make_member(tenant_a, username="ann")

    notification = publish(tenant_a, users=[ann], title="Disk full", body="On db-1.")

    assert [(m.subject, m.to, m.body) for m in mail.outbox] == [
        ("Disk full", ["ann@example.com"], "On db-1.")
    ]
    with rls.tenant_scope(tenant_a.pk):
        email = Delivery.objects.get(channel="email")
    assert mail.outbox[0].extra_headers["Message-ID"] == f"<delivery-{email.pk}@localhost>"
    assert (email.notification_id, email.status, email.attempts) == (
        notification.pk,
        "delivered",
        1,
    )
    assert email.delivered_at is not None
    assert (email.claimed_until, email.claim_token, email.next_attempt_at) == (None, None, None)


def test_the_delivery_task_run_twice_sends_once(tenant_a, make_member, publish):
    # Given a committed notification whose delivery task has not run yet
    publish(tenant_a, users=[make_member(tenant_a, username="ann")])

    # When the task runs twice (a redelivered message)
    first = tasks.deliver_notifications_task(tenant_id=tenant_a.pk)
    second = tasks.deliver_notifications_task(tenant_id=tenant_a.pk)

    # Then one e-mail and one delivered row
    assert (first, second) == (1, 0)
    assert [m.to for m in mail.outbox] == [["ann@example.com"]]
    assert rows(tenant_a) == [
        ("email", "ann@example.com", "delivered"),
        ("in_app", "ann", "delivered"),
    ]
    with rls.tenant_scope(tenant_a.pk):
        assert Delivery.objects.get(channel="email").attempts == 1


def test_a_claimed_delivery_waits_for_its_lease_then_is_delivered_once(
    tenant_a, make_member, publish, settings
):
    # Given a worker claimed the delivery and died before sending (nothing recorded)
    settings.NOTIFICATIONS_LEASE = 60
    publish(tenant_a, users=[make_member(tenant_a, username="ann")])
    [claimed] = delivery._claim(tenant_a.pk, batch_size=10)
    assert claimed.claimed_until is not None

    # When another run comes while the lease holds, it finds nothing to do
    assert _deliver(tenant_a) == delivery.DeliveryRun()
    assert mail.outbox == []

    # Once the lease has run out, the delivery is due again and is sent and recorded once
    _make_due(tenant_a)
    assert _deliver(tenant_a) == delivery.DeliveryRun(delivered=1)
    assert _deliver(tenant_a) == delivery.DeliveryRun()
    assert len(mail.outbox) == 1
    with rls.tenant_scope(tenant_a.pk):
        assert Delivery.objects.get(pk=claimed.pk).attempts == 2


def test_a_refused_email_is_retried_with_backoff_then_fails_with_the_reason(
    tenant_a, make_member, publish, settings
):
    settings.EMAIL_BACKEND = f"{__name__}.RefusingBackend"
    settings.NOTIFICATIONS_MAX_ATTEMPTS = 3
    settings.NOTIFICATIONS_RETRY_BASE = 30
    publish(tenant_a, users=[make_member(tenant_a, username="ann")])
    waits = []
    for attempt in (1, 2):
        started = timezone.now()
        assert _deliver(tenant_a) == delivery.DeliveryRun(retrying=1)
        with rls.tenant_scope(tenant_a.pk):
            row = Delivery.objects.get(channel="email")
        assert row.next_attempt_at is not None
        waits.append(row.next_attempt_at - started)
        assert (row.status, row.attempts) == ("pending", attempt)
        assert _deliver(tenant_a) == delivery.DeliveryRun()  # not due yet
        _make_due(tenant_a)

    assert _deliver(tenant_a) == delivery.DeliveryRun(failed=1)

    with rls.tenant_scope(tenant_a.pk):
        row = Delivery.objects.get(channel="email")
    assert (row.status, row.attempts, row.next_attempt_at) == ("failed", 3, None)
    assert row.last_error == "SMTPDataError: (554, b'5.7.1 Refused by policy')"
    assert [round(wait.total_seconds()) for wait in waits] == [30, 60]
    assert _deliver(tenant_a) == delivery.DeliveryRun()  # failed for good: never picked again


def test_the_backoff_doubles_up_to_its_cap(settings):
    settings.NOTIFICATIONS_RETRY_BASE = 30
    settings.NOTIFICATIONS_RETRY_MAX_DELAY = 3600

    delays = [delivery.retry_delay(attempts).total_seconds() for attempts in range(1, 10)]

    assert delays == [30, 60, 120, 240, 480, 960, 1920, 3600, 3600]


@platform_db
def test_a_broker_down_at_commit_is_logged_and_the_sweep_delivers_later(
    tenant_a, make_member, publish, eager, monkeypatch, caplog
):
    # Given the broker is down when the transaction commits
    def broker_down(*args: Any, **kwargs: Any) -> None:
        raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    with monkeypatch.context() as patch:
        patch.setattr(tasks.deliver_notifications_task, "apply_async", broker_down)
        # When something is published: the caller does not see the failure
        publish(tenant_a, users=[make_member(tenant_a, username="ann")])

    # Then it is logged, the e-mail is still pending, and nothing was sent
    expected = f"Could not enqueue notification delivery for tenant {tenant_a.pk}; the sweep"
    assert [record.getMessage() for record in caplog.records] == [f"{expected} will pick it up"]
    assert rows(tenant_a) == [
        ("email", "ann@example.com", "pending"),
        ("in_app", "ann", "delivered"),
    ]

    # Once the broker is back, the beat sweep finds the tenant and delivers
    assert tasks.schedule_notification_delivery_task() == 1
    assert [m.to for m in mail.outbox] == [["ann@example.com"]]
    assert rows(tenant_a) == [
        ("email", "ann@example.com", "delivered"),
        ("in_app", "ann", "delivered"),
    ]
    assert tasks.schedule_notification_delivery_task() == 0


def _publish_then_fail(tenant, user) -> None:
    with rls.tenant_scope(tenant.pk):
        services.notification_publish(
            tenant=tenant, event_type=PING, title="x", body="", users=[user]
        )
        raise RuntimeError("the change failed after publishing")


def test_nothing_is_written_or_sent_when_the_transaction_rolls_back(
    tenant_a, make_member, eager, django_capture_on_commit_callbacks
):
    ann = make_member(tenant_a, username="ann")

    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError, match="failed after publishing"),
    ):
        _publish_then_fail(tenant_a, ann)

    assert (callbacks, mail.outbox, rows(tenant_a)) == ([], [], [])


def test_an_inactive_tenant_is_not_delivered_for(tenant_a, make_member, publish):
    publish(tenant_a, users=[make_member(tenant_a)])
    tenant_a.is_active = False
    tenant_a.save()

    assert _deliver(tenant_a) == delivery.DeliveryRun()
    assert mail.outbox == []


# --- Retry -------------------------------------------------------------------------------------


@platform_db
def test_retry_requeues_failed_deliveries_and_leaves_delivered_and_claimed_ones(
    tenant_a, make_member, publish, settings, eager, monkeypatch, django_capture_on_commit_callbacks
):
    # Given a failed e-mail, a delivered in-app item and an e-mail being sent right now
    settings.EMAIL_BACKEND = f"{__name__}.RefusingBackend"
    settings.NOTIFICATIONS_MAX_ATTEMPTS = 1
    publish(tenant_a, users=[make_member(tenant_a, username="ann")])
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    with monkeypatch.context() as patch:
        patch.setattr(services, "enqueue_delivery", lambda *, tenant_id: None)
        publish(tenant_a, users=[make_member(tenant_a, username="bob")])
    [sending] = delivery._claim(tenant_a.pk, batch_size=10)
    with rls.tenant_scope(tenant_a.pk):
        ids = list(Delivery.objects.values_list("pk", flat=True))
        assert Delivery.objects.get(channel="email", address="ann@example.com").status == "failed"

    # When all are retried
    with django_capture_on_commit_callbacks(execute=True), rls.platform_scope():
        retried = services.delivery_retry(delivery_ids=ids)

    # Then only the failed one went again, and was delivered
    assert retried == 1
    assert [m.to for m in mail.outbox] == [["ann@example.com"]]
    assert rows(tenant_a) == [
        ("email", "ann@example.com", "delivered"),
        ("email", "bob@example.com", "pending"),
        ("in_app", "ann", "delivered"),
        ("in_app", "bob", "delivered"),
    ]
    with rls.tenant_scope(tenant_a.pk):
        assert Delivery.objects.get(pk=sending.pk).claim_token == sending.claim_token
