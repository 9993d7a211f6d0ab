"""The outbox: notifications, one delivery row per recipient and channel, and preferences.

A notification is written in the transaction of the change it reports, together with its
deliveries, so it exists exactly when the change does. Workers then move each pending delivery
to delivered (or, after the last attempt, failed); the rows are the source of truth, the broker
only a doorbell.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from itsm.audit.tracking import audited
from itsm.notifications.choices import DeliveryStatus
from itsm.tenancy.models import TenantOwnedModel, config_version_trigger


class Notification(TenantOwnedModel):
    """What happened, said once: the deliveries carry it to each recipient on each channel."""

    event_type = models.CharField(max_length=64, help_text=_('For example "incident.assigned".'))
    title = models.CharField(max_length=300)
    body = models.TextField(blank=True, max_length=20000)
    link = models.CharField(max_length=500, blank=True, help_text=_("A path in the workspace."))
    reference = models.CharField(
        max_length=64, blank=True, help_text=_('The record it is about, e.g. "INC-000042".')
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["tenant", "reference"], name="notifications_reference")]

    def __str__(self) -> str:
        return self.title


class Delivery(TenantOwnedModel):
    """One notification to one recipient on one channel; sent (or, in-app, shown) once.

    The recipient is a user, or, for a team's distribution list, an address with no user.
    A pending row is due at `next_attempt_at`; a worker claims it by moving that time to the
    end of its lease (`claimed_until`), so a worker that dies mid-send leaves it claimed until
    the lease runs out, and then it is due again.
    """

    notification = models.ForeignKey(
        Notification, on_delete=models.CASCADE, related_name="deliveries"
    )
    channel = models.CharField(max_length=32)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
    )
    address = models.CharField(
        max_length=254, blank=True, help_text=_("Where the channel sends it (an e-mail address).")
    )
    status = models.CharField(
        max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True, max_length=2000)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    claimed_until = models.DateTimeField(null=True, blank=True)
    claim_token = models.UUIDField(null=True, blank=True, editable=False)
    delivered_at = models.DateTimeField(null=True, blank=True)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "deliveries"
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["notification", "channel", "user"],
                condition=models.Q(user__isnull=False),
                name="notifications_delivery_unique_user",
            ),
            models.UniqueConstraint(
                fields=["notification", "channel", "address"],
                condition=models.Q(user__isnull=True),
                name="notifications_delivery_unique_address",
            ),
            models.CheckConstraint(
                condition=models.Q(user__isnull=False) | ~models.Q(address=""),
                name="notifications_delivery_has_recipient",
            ),
            models.CheckConstraint(
                condition=~models.Q(status=DeliveryStatus.PENDING)
                | models.Q(next_attempt_at__isnull=False),
                name="notifications_delivery_pending_is_due",
            ),
        ]
        indexes = [
            # The delivery sweep and the per-tenant claim: pending rows by due time. Only pending
            # rows are in it, so its size follows the backlog, not the history.
            models.Index(
                fields=["next_attempt_at", "tenant"],
                name="notifications_delivery_due",
                condition=models.Q(status=DeliveryStatus.PENDING),
            ),
            # A user's in-app inbox, newest first (keyset pagination), and its unread count.
            models.Index(
                fields=["tenant", "user", "-created_at", "-id"],
                name="notifications_inbox",
                condition=models.Q(channel="in_app"),
            ),
            models.Index(
                fields=["tenant", "user"],
                name="notifications_inbox_unread",
                condition=models.Q(channel="in_app", read_at__isnull=True),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.channel} to {self.recipient}: {self.get_status_display()}"

    @property
    def recipient(self) -> str:
        return self.address if self.user_id is None else f"user {self.user_id}"

    @property
    def idempotency_key(self) -> str:
        """The same for every attempt of this delivery, so a far side can drop a repeat."""
        return f"delivery-{self.pk}"


@audited()
class NotificationPreference(TenantOwnedModel):
    """Whether a user gets an event type on a channel; a row with no user is the tenant default.

    Resolution per (event type, channel): the user's own row, else the tenant default row, else
    the event type's registered default channels.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        help_text=_("Empty: the default of everyone in the tenant without their own choice."),
    )
    event_type = models.CharField(max_length=64)
    channel = models.CharField(max_length=32)
    is_enabled = models.BooleanField(default=True)

    class Meta:
        # Cached with the tenant's configuration: a publish reads none (notifications.services).
        triggers = [config_version_trigger()]
        ordering = ["event_type", "channel", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "user", "event_type", "channel"],
                condition=models.Q(user__isnull=False),
                name="notifications_preference_unique_user",
            ),
            models.UniqueConstraint(
                fields=["tenant", "event_type", "channel"],
                condition=models.Q(user__isnull=True),
                name="notifications_preference_unique_default",
            ),
        ]

    def __str__(self) -> str:
        who = "tenant default" if self.user_id is None else f"user {self.user_id}"
        state = "on" if self.is_enabled else "off"
        return f"{self.event_type} by {self.channel} for {who}: {state}"
