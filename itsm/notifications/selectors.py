"""Reads of notifications: a user's in-app inbox and their effective preferences."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import Q, QuerySet

from itsm.notifications.choices import IN_APP, PreferenceSource
from itsm.notifications.models import Delivery, NotificationPreference
from itsm.notifications.registry import channels, event_types
from itsm.tenancy.models import Tenant


def inbox_list(*, tenant: Tenant, user: Any, unread: bool | None = None) -> QuerySet[Delivery]:
    """The user's in-app items in the tenant, newest first, with their notification.

    Uses the partial index notifications_inbox (tenant, user, created_at, id).
    """
    items = (
        Delivery.objects.for_tenant(tenant)
        .filter(channel=IN_APP, user_id=user.pk)
        .select_related("notification")
        .order_by("-created_at", "-id")
    )
    if unread is not None:
        items = items.filter(read_at__isnull=unread)
    return items


def inbox_unread_count(*, tenant: Tenant, user: Any) -> int:
    """How many in-app items the user has not read (partial index notifications_inbox_unread)."""
    return int(
        Delivery.objects.for_tenant(tenant)
        .filter(channel=IN_APP, user_id=user.pk, read_at__isnull=True)
        .count()
    )


@dataclass(frozen=True)
class EffectivePreference:
    """Whether the user gets an event type on a channel, and which level decided it."""

    event_type: str
    label: str
    channel: str
    enabled: bool
    source: PreferenceSource


def notification_preference_list(*, tenant: Tenant, user: Any) -> list[EffectivePreference]:
    """Every registered event type × channel with the user's effective choice (one query)."""
    stored: dict[tuple[int | None, str, str], bool] = {
        (user_id, event_type, channel): enabled
        for user_id, event_type, channel, enabled in NotificationPreference.objects.for_tenant(
            tenant
        )
        .filter(Q(user__isnull=True) | Q(user_id=user.pk))
        .values_list("user_id", "event_type", "channel", "is_enabled")
    }
    result = []
    for kind in event_types():
        for channel in channels():
            key = (kind.name, channel.name)
            if (user.pk, *key) in stored:
                enabled, source = stored[(user.pk, *key)], PreferenceSource.USER
            elif (None, *key) in stored:
                enabled, source = stored[(None, *key)], PreferenceSource.TENANT
            else:
                enabled = channel.name in kind.default_channels
                source = PreferenceSource.DEFAULT
            result.append(EffectivePreference(kind.name, kind.label, channel.name, enabled, source))
    return result


def notification_preference_rows(*, tenant: Tenant, user: Any) -> QuerySet[NotificationPreference]:
    """The user's own stored choices in the tenant (not the defaults)."""
    return NotificationPreference.objects.for_tenant(tenant).filter(user_id=user.pk)
