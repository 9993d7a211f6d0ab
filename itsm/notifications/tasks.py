"""Celery entry points of the notifications engine: thin, idempotent, one tenant each."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings

from itsm.notifications import delivery


@shared_task(acks_late=True)
def deliver_notifications_task(*, tenant_id: int) -> int:
    """Deliver the tenant's due pending deliveries; returns how many were delivered.

    Safe to run twice, at once or one after the other: rows are claimed, not read (see
    `itsm.notifications.delivery`). Not a `tenant_task`: that runs its body in one transaction,
    and delivery must commit its claim before talking to a mail server and each result after,
    so it opens its own short tenant-scoped transactions.
    """
    return delivery.deliveries_deliver_due(tenant_id=tenant_id).delivered


@shared_task(acks_late=True)
def schedule_notification_delivery_task() -> int:
    """Beat entry point, every few seconds: one delivery task per tenant with due deliveries.

    This is what makes the outbox lose nothing: deliveries whose enqueue failed (broker down at
    commit), whose worker died (lease run out) or whose retry time has come are found here.
    Its cost follows the backlog (a partial index of pending rows), not the history.
    """
    tenant_ids = delivery.tenants_with_due_deliveries()
    expires = max(settings.NOTIFICATIONS_SWEEP_INTERVAL * 2, 10)
    for tenant_id in tenant_ids:
        deliver_notifications_task.apply_async(kwargs={"tenant_id": tenant_id}, expires=expires)
    return len(tenant_ids)
