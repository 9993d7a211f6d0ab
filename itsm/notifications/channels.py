"""The built-in channels: e-mail and in-app. Registered on import (see apps.py).

A new channel (webhooks, Slack, Teams) is a `Channel` subclass in a module of its own, registered
with `register_channel`; see `itsm.notifications.registry`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from email.utils import parseaddr
from typing import Any

from django.conf import settings
from django.core.mail import EmailMessage, get_connection

from itsm.notifications.choices import EMAIL, IN_APP
from itsm.notifications.models import Delivery
from itsm.notifications.registry import Channel, Sender, register_channel


def message_id_domain() -> str:
    """The right-hand side of our Message-IDs: a setting, else the From address's domain."""
    configured: str = getattr(settings, "NOTIFICATIONS_MESSAGE_ID_DOMAIN", "")
    if configured:
        return configured
    _name, address = parseaddr(settings.DEFAULT_FROM_EMAIL)
    return address.rpartition("@")[2] or "localhost"


class EmailChannel(Channel):
    """E-mail through Django's e-mail framework (EMAIL_URL picks SMTP, console ...).

    Every attempt of a delivery carries the same Message-ID, derived from the delivery's key,
    so a message sent twice (the worker died before recording the first send) can be told
    apart and dropped by a mail server or client.
    """

    name = EMAIL
    label = "E-mail"
    reaches_addresses = True

    def address_of(self, user: Any) -> str | None:
        email: str = getattr(user, "email", "") or ""
        return email or None

    def message(self, delivery: Delivery) -> EmailMessage:
        notification = delivery.notification
        return EmailMessage(
            subject=notification.title,
            body=notification.body,
            to=[delivery.address],
            headers={"Message-ID": f"<{delivery.idempotency_key}@{message_id_domain()}>"},
        )

    @contextmanager
    def sending(self) -> Iterator[Sender]:
        # One connection for the batch: an SMTP handshake per message would dominate.
        connection = get_connection()

        def send(delivery: Delivery) -> None:
            try:
                connection.open()  # once: send_messages closes a connection it opened itself
                connection.send_messages([self.message(delivery)])
            except BaseException:
                # The session may be broken mid-conversation: the next message reconnects.
                connection.close()
                raise

        try:
            yield send
        finally:
            connection.close()

    def send(self, delivery: Delivery) -> None:
        self.message(delivery).send()


class InAppChannel(Channel):
    """The delivery row is the user's in-app item: delivered on publish, then read or unread."""

    name = IN_APP
    label = "In-app"
    delivered_on_publish = True

    def address_of(self, user: Any) -> str | None:
        return ""

    def send(self, delivery: Delivery) -> None:
        """Nothing to carry: the row is already where the user looks."""


register_channel(EmailChannel())
register_channel(InAppChannel())
