"""Delivering the outbox: claim due rows under a lease, send each through its channel, record.

Three short transactions per batch, never one around the sending: a transaction held open
while a mail server answers would hold row locks (and, on SQLite, the database's only write
lock) for as long as the slowest recipient takes.

1. Claim: the tenant's due pending rows, soonest first, `FOR UPDATE SKIP LOCKED` through the
   partial index `notifications_delivery_due`; a conditional UPDATE stamps them with this run's
   token, counts the attempt and moves `next_attempt_at` to the end of the lease. The UPDATE
   re-checks "pending and due", so two claimers never both win a row, even on SQLite where
   `select_for_update` is a no-op (there the IMMEDIATE transaction serialises claimers).
2. Send, outside any transaction.
3. Record each result at once: delivered (`WHERE status = pending`, so it is recorded once
   whoever finishes first), or failed with the reason, retried later with exponential backoff,
   failed for good after the last attempt (`WHERE claim_token = ours`, so a worker whose lease
   ran out cannot overwrite the claim of the one that took over).

A worker killed between 2 and 3 leaves its rows claimed until the lease runs out; then they are
due again and sent again with the same idempotency key (the e-mail's Message-ID), so the far
side can drop the repeat, and the row is recorded delivered once.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import groupby

from django.conf import settings
from django.db.models import F
from django.utils import timezone

from itsm.notifications.choices import DeliveryStatus
from itsm.notifications.models import Delivery
from itsm.notifications.registry import get_channel
from itsm.tenancy import rls
from itsm.tenancy.models import Tenant

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class DeliveryRun:
    """What one run did: rows delivered, to be retried, and failed for good."""

    delivered: int = 0
    retrying: int = 0
    failed: int = 0

    def __add__(self, other: DeliveryRun) -> DeliveryRun:
        return DeliveryRun(
            self.delivered + other.delivered,
            self.retrying + other.retrying,
            self.failed + other.failed,
        )


def deliveries_deliver_due(
    *, tenant_id: int, batch_size: int | None = None, max_batches: int | None = None
) -> DeliveryRun:
    """Deliver the tenant's due pending deliveries, batch after batch, until none is due.

    Safe to run twice at once or to repeat: each row is claimed by one run at a time and
    recorded delivered once. A gone or inactive tenant is a no-op.
    """
    if not Tenant.objects.filter(pk=tenant_id, is_active=True).exists():
        logger.info("Skipping notification delivery: tenant %s is gone or inactive", tenant_id)
        return DeliveryRun()
    batch_size = batch_size or settings.NOTIFICATIONS_DELIVERY_BATCH
    max_batches = max_batches or settings.NOTIFICATIONS_DELIVERY_MAX_BATCHES
    total = DeliveryRun()
    for _ in range(max_batches):
        claimed = _claim(tenant_id, batch_size)
        if not claimed:
            break
        total += _send(tenant_id, claimed)
    return total


def _claim(tenant_id: int, batch_size: int) -> list[Delivery]:
    with rls.tenant_scope(tenant_id):
        now = timezone.now()
        due = Delivery.objects.for_tenant(tenant_id).filter(
            status=DeliveryStatus.PENDING, next_attempt_at__lte=now
        )
        ids = list(
            due.order_by("next_attempt_at")
            .select_for_update(skip_locked=True)
            .values_list("pk", flat=True)[:batch_size]
        )
        if not ids:
            return []
        token = uuid.uuid4()
        lease_end = now + timedelta(seconds=settings.NOTIFICATIONS_LEASE)
        due.filter(pk__in=ids).update(
            claim_token=token,
            claimed_until=lease_end,
            next_attempt_at=lease_end,
            attempts=F("attempts") + 1,
            updated_at=now,
        )
        return list(
            Delivery.objects.filter(pk__in=ids, claim_token=token)
            .select_related("notification")
            .order_by("channel", "pk")
        )


def _send(tenant_id: int, claimed: Sequence[Delivery]) -> DeliveryRun:
    run = DeliveryRun()
    for channel_name, rows in groupby(claimed, key=lambda row: row.channel):
        try:
            channel = get_channel(channel_name)
        except LookupError as error:
            run += sum((_record_failure(tenant_id, row, error) for row in rows), DeliveryRun())
            continue
        with channel.sending() as send:
            for row in rows:
                try:
                    send(row)
                except Exception as error:  # any failure of the far side: record, retry later
                    run += _record_failure(tenant_id, row, error)
                else:
                    run += _record_delivered(tenant_id, row)
    return run


def _record_delivered(tenant_id: int, row: Delivery) -> DeliveryRun:
    with rls.tenant_scope(tenant_id):
        now = timezone.now()
        Delivery.objects.filter(pk=row.pk, status=DeliveryStatus.PENDING).update(
            status=DeliveryStatus.DELIVERED,
            delivered_at=now,
            next_attempt_at=None,
            claimed_until=None,
            claim_token=None,
            updated_at=now,
        )
    return DeliveryRun(delivered=1)


def _record_failure(tenant_id: int, row: Delivery, error: Exception) -> DeliveryRun:
    reason = f"{type(error).__name__}: {error}"[:2000]
    final = row.attempts >= settings.NOTIFICATIONS_MAX_ATTEMPTS
    with rls.tenant_scope(tenant_id):
        now = timezone.now()
        Delivery.objects.filter(
            pk=row.pk, status=DeliveryStatus.PENDING, claim_token=row.claim_token
        ).update(
            status=DeliveryStatus.FAILED if final else DeliveryStatus.PENDING,
            last_error=reason,
            next_attempt_at=None if final else now + retry_delay(row.attempts),
            claimed_until=None,
            claim_token=None,
            updated_at=now,
        )
    logger.warning(
        "Notification delivery %s (%s) attempt %s failed%s: %s",
        row.pk,
        row.channel,
        row.attempts,
        " for good" if final else "",
        reason,
    )
    return DeliveryRun(failed=1) if final else DeliveryRun(retrying=1)


def retry_delay(attempts: int) -> timedelta:
    """Exponential backoff after the `attempts`-th failed attempt: base, 2 × base, 4 × base …"""
    base = settings.NOTIFICATIONS_RETRY_BASE
    seconds = min(base * 2 ** max(attempts - 1, 0), settings.NOTIFICATIONS_RETRY_MAX_DELAY)
    return timedelta(seconds=seconds)


def tenants_with_due_deliveries(*, now: datetime | None = None, limit: int = 1000) -> list[int]:
    """The tenants that have pending deliveries due now: one query on the partial index."""
    with rls.platform_scope():
        return list(
            Delivery.objects.filter(
                status=DeliveryStatus.PENDING, next_attempt_at__lte=now or timezone.now()
            )
            .order_by()
            .values_list("tenant_id", flat=True)
            .distinct()[:limit]
        )
