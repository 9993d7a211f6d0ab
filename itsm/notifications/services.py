"""Every write of the notifications engine: publishing into the outbox, retries, read marks and
preferences.

Publishing is called inside the transaction of the change that causes it: the notification and
its deliveries commit with the change or not at all, and delivery is only scheduled after the
commit. The enqueue is a doorbell, not the message: if the broker is down it is logged and the
delivery sweep (beat) finds the pending rows later.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from itsm.bulk import bulk_create_graph
from itsm.errors import InvalidInputError
from itsm.notifications.choices import IN_APP, DeliveryStatus
from itsm.notifications.models import Delivery, Notification, NotificationPreference
from itsm.notifications.registry import (
    Channel,
    EventType,
    channels,
    event_types,
    get_event_type,
)
from itsm.notifications.tasks import deliver_notifications_task
from itsm.tenancy.config import tenant_config
from itsm.tenancy.models import Team, TeamMember, Tenant

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class NotificationDraft:
    """One notification to publish, and whom it is for.

    `users` are user objects; `teams` are Team objects: a team with its own address is told at
    that address, a team without one through each of its members. `addresses` are bare e-mail
    addresses with no user behind them.
    """

    event_type: str
    title: str
    body: str
    link: str = ""
    reference: str = ""
    users: Sequence[Any] = ()
    teams: Sequence[Team] = ()
    addresses: Sequence[str] = ()


def notification_publish(
    *,
    tenant: Tenant,
    event_type: str,
    title: str,
    body: str,
    link: str = "",
    reference: str = "",
    users: Sequence[Any] = (),
    teams: Sequence[Team] = (),
    addresses: Sequence[str] = (),
) -> Notification | None:
    """Write one notification and its deliveries into the outbox, in the caller's transaction.

    None when nobody is to be told (no recipient, or every recipient opted out). See
    `notification_publish_many` for what is guaranteed.
    """
    draft = NotificationDraft(
        event_type=event_type,
        title=title,
        body=body,
        link=link,
        reference=reference,
        users=users,
        teams=teams,
        addresses=addresses,
    )
    [notification] = notification_publish_many(tenant=tenant, drafts=[draft])
    return notification


@transaction.atomic(savepoint=False)  # the caller's transaction; no savepoint of its own
def notification_publish_many(
    *, tenant: Tenant, drafts: Sequence[NotificationDraft]
) -> list[Notification | None]:
    """Write many notifications of one tenant and their deliveries, in the caller's transaction.

    Guarantees: one delivery row per (notification, recipient, channel), honouring each
    recipient's preferences; in-app rows are delivered as they are written; the others are
    pending and a delivery task is enqueued once the transaction commits (a failed enqueue is
    logged, never raised: the delivery sweep finds the rows). The number of queries does not
    grow with the drafts, teams or recipients: team members in one query (preferences are the
    tenant's cached configuration), then one statement inserting the notifications and their
    deliveries.

    Returns, per draft, its notification or None when nobody is to be told.

    Raises:
        LookupError: a draft names an event type nobody registered.
    """
    tenant_id = tenant.pk
    kinds = {draft.event_type: get_event_type(draft.event_type) for draft in drafts}
    members = _team_members(tenant_id, [team for draft in drafts for team in draft.teams])
    recipients = [_recipients(draft, members) for draft in drafts]
    preferences = tenant_config(
        tenant, "notification_preferences", partial(_Preferences.load, tenant)
    )
    now = timezone.now()
    published: list[Notification | None] = [None] * len(drafts)
    rows: list[Delivery] = []
    for index, (draft, (users, addresses)) in enumerate(zip(drafts, recipients, strict=True)):
        deliveries = _deliveries(
            tenant_id, kinds[draft.event_type], users, addresses, preferences, now
        )
        if not deliveries:
            continue
        notification = Notification(
            tenant_id=tenant_id,
            event_type=draft.event_type,
            title=draft.title[:300],
            body=draft.body,
            link=draft.link,
            reference=draft.reference,
        )
        for delivery in deliveries:
            delivery.notification = notification
        published[index] = notification
        rows += deliveries
    if not rows:
        return published
    # The notifications and their deliveries in one statement (itsm/bulk.py).
    bulk_create_graph([item for item in published if item is not None], rows)
    if not _deferred.get() and any(row.status == DeliveryStatus.PENDING for row in rows):
        transaction.on_commit(partial(enqueue_delivery, tenant_id=tenant_id))
    return published


# Set by `delivery_deferred`: publishing then rings no doorbell.
_deferred: ContextVar[bool] = ContextVar("notifications_delivery_deferred", default=False)


@contextmanager
def delivery_deferred() -> Iterator[None]:
    """Publish without enqueueing delivery: for bulk loads (an import, a benchmark) that would
    otherwise send one task per notification. The rows are pending all the same; the delivery
    sweep, or the caller, delivers them."""
    token = _deferred.set(True)
    try:
        yield
    finally:
        _deferred.reset(token)


def enqueue_delivery(*, tenant_id: int) -> None:
    """Ring the doorbell: ask a worker to deliver the tenant's due deliveries. Never raises.

    Called after commit. With the broker down the rows stay pending and the delivery sweep
    enqueues them once it is back; failing the request that already committed would help no one.
    """
    task = deliver_notifications_task
    try:
        if task.app.conf.task_always_eager:
            task.apply_async(kwargs={"tenant_id": tenant_id})
            return
        with task.app.producer_or_acquire() as producer:
            # Fail fast: kombu's and the Redis client's own reconnect retries would hold the
            # request for seconds (measured: 6 s) when the broker is down. The sweep retries.
            producer.connection.ensure_connection(
                max_retries=1, interval_start=0, interval_step=0, interval_max=0, timeout=2
            )
            task.apply_async(kwargs={"tenant_id": tenant_id}, retry=False, producer=producer)
    except Exception:
        logger.warning(
            "Could not enqueue notification delivery for tenant %s; the sweep will pick it up",
            tenant_id,
            exc_info=True,
        )


# --- Recipients and preferences ----------------------------------------------------------------


def _team_members(tenant_id: int, teams: Iterable[Team]) -> dict[int, list[Any]]:
    """The members of the teams that have no address of their own, in one query."""
    team_ids = {team.pk for team in teams if team is not None and not team.email}
    members: dict[int, list[Any]] = defaultdict(list)
    if team_ids:
        for member in (
            TeamMember.objects.for_tenant(tenant_id)
            .filter(team_id__in=team_ids)
            .select_related("user")
            .order_by("team_id", "user_id")
        ):
            members[member.team_id].append(member.user)
    return members


def _recipients(
    draft: NotificationDraft, members: dict[int, list[Any]]
) -> tuple[list[Any], list[str]]:
    """The draft's users (its own and its address-less teams' members) and bare addresses.

    Each person once; an address that is also a recipient user's e-mail is dropped, so nobody
    gets the same message twice.
    """
    users: dict[int, Any] = {}
    addresses: dict[str, str] = {}
    for user in draft.users:
        if user is not None:
            users.setdefault(user.pk, user)
    for team in draft.teams:
        if team is None:
            continue
        if team.email:
            addresses.setdefault(team.email.lower(), team.email)
        for member in members.get(team.pk, ()):
            users.setdefault(member.pk, member)
    for address in draft.addresses:
        if address:
            addresses.setdefault(address.lower(), address)
    active = [user for user in users.values() if user.is_active]
    taken = {(getattr(user, "email", "") or "").lower() for user in active}
    return active, [address for key, address in addresses.items() if key not in taken]


@dataclass(frozen=True)
class _Preferences:
    """The tenant's stored choices: users' own rows and tenant defaults. Cached with the
    tenant's configuration (a change to them bumps its version), so a publish reads none."""

    rows: dict[tuple[int | None, str, str], bool] = field(default_factory=dict)

    @classmethod
    def load(cls, tenant: Tenant) -> _Preferences:
        rows = NotificationPreference.objects.for_tenant(tenant).values_list(
            "user_id", "event_type", "channel", "is_enabled"
        )
        return cls({(user_id, kind, channel): on for user_id, kind, channel, on in rows})

    def enabled(self, event_type: EventType, channel: str, user_id: int | None) -> bool:
        """The user's own choice, else the tenant default, else the registered default."""
        for key in ((user_id, event_type.name, channel), (None, event_type.name, channel)):
            if key in self.rows:
                return self.rows[key]
        return channel in event_type.default_channels


def _deliveries(
    tenant_id: int,
    event_type: EventType,
    users: list[Any],
    addresses: list[str],
    preferences: _Preferences,
    now: Any,
) -> list[Delivery]:
    deliveries: list[Delivery] = []
    for channel in channels():
        for user in users:
            address = channel.address_of(user)
            if address is not None and preferences.enabled(event_type, channel.name, user.pk):
                deliveries.append(_delivery(tenant_id, channel, now, user=user, address=address))
        if channel.reaches_addresses and preferences.enabled(event_type, channel.name, None):
            deliveries += [
                _delivery(tenant_id, channel, now, user=None, address=address)
                for address in addresses
            ]
    return deliveries


def _delivery(tenant_id: int, channel: Channel, now: Any, *, user: Any, address: str) -> Delivery:
    if channel.delivered_on_publish:
        return Delivery(
            tenant_id=tenant_id,
            channel=channel.name,
            user=user,
            address=address,
            status=DeliveryStatus.DELIVERED,
            delivered_at=now,
        )
    return Delivery(
        tenant_id=tenant_id,
        channel=channel.name,
        user=user,
        address=address,
        status=DeliveryStatus.PENDING,
        next_attempt_at=now,
    )


# --- Retries -----------------------------------------------------------------------------------


@transaction.atomic
def delivery_retry(*, delivery_ids: Iterable[int]) -> int:
    """Queue failed (or waiting) deliveries again, due now with a fresh count of attempts.

    Delivered ones are left alone, and so are those a worker is sending right now (their lease
    has not run out), so a retry never doubles a send. Delivery is enqueued per tenant after
    commit. Returns how many were queued.
    """
    now = timezone.now()
    retried = (
        Delivery.objects.filter(pk__in=list(delivery_ids))
        .exclude(status=DeliveryStatus.DELIVERED)
        .exclude(status=DeliveryStatus.PENDING, claimed_until__gt=now)
    )
    tenant_ids = sorted(set(retried.values_list("tenant_id", flat=True)))
    count = retried.update(
        status=DeliveryStatus.PENDING,
        attempts=0,
        next_attempt_at=now,
        claimed_until=None,
        claim_token=None,
        updated_at=now,
    )
    for tenant_id in tenant_ids:
        transaction.on_commit(partial(enqueue_delivery, tenant_id=tenant_id))
    return count


# --- In-app: read and unread -------------------------------------------------------------------


def notification_mark_read(*, delivery: Delivery) -> Delivery:
    """Mark one in-app item read; reading it again keeps the first read time."""
    if delivery.read_at is None:
        now = timezone.now()
        Delivery.objects.filter(pk=delivery.pk, read_at__isnull=True).update(
            read_at=now, updated_at=now
        )
        delivery.read_at = now
    return delivery


def notification_mark_all_read(*, tenant: Tenant, user: Any) -> int:
    """Mark every unread in-app item of the user in the tenant read; returns how many."""
    now = timezone.now()
    return int(
        Delivery.objects.for_tenant(tenant)
        .filter(channel=IN_APP, user_id=user.pk, read_at__isnull=True)
        .update(read_at=now, updated_at=now)
    )


# --- Preferences -------------------------------------------------------------------------------


def notification_preference_set(
    *, tenant: Tenant, user: Any | None, event_type: str, channel: str, enabled: bool | None
) -> None:
    """Set whether `user` (None: the tenant default) gets `event_type` on `channel`.

    `enabled=None` removes the choice, so the next level (tenant default, registered default)
    applies again.

    Raises:
        InvalidInputError: the event type or the channel is not registered.
    """
    _check_registered(event_type, channel)
    key = {
        "user_id": None if user is None else user.pk,
        "event_type": event_type,
        "channel": channel,
    }
    rows = NotificationPreference.objects.for_tenant(tenant).filter(**key)
    if enabled is None:
        rows.delete()
        return
    try:
        with transaction.atomic():
            _row, created = NotificationPreference.objects.for_tenant(tenant).get_or_create(
                **key, defaults={"tenant": tenant, "is_enabled": enabled}
            )
    except IntegrityError:
        # Someone inserted the same choice at the same moment: theirs is there, set ours on it.
        created = False
    if not created:
        rows.update(is_enabled=enabled, updated_at=timezone.now())


def _check_registered(event_type: str, channel: str) -> None:
    errors: dict[str, list[str]] = {}
    if event_type not in {kind.name for kind in event_types()}:
        errors["event_type"] = [f"Unknown event type {event_type!r}."]
    if channel not in {item.name for item in channels()}:
        errors["channel"] = [f"Unknown channel {channel!r}."]
    if errors:
        raise InvalidInputError("Unknown event type or channel.", fields=errors)
