"""Celery entry points of incident management: thin, idempotent, one tenant each."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings
from django.core.mail import send_mail

from incidents import services, sla
from incidents.models import IncidentEvent
from incidents.notifications import message_for
from itsm.tenancy.models import Tenant
from itsm.tenancy.tasking import enqueue_for_each_tenant, tenant_task


@tenant_task()
def notify_incident_event_task(*, tenant: Tenant, event_id: int) -> None:
    """E-mail the people an assignment, escalation, SLA or major-incident event concerns."""
    _notify(tenant, [event_id])


@tenant_task()
def notify_incident_events_task(*, tenant: Tenant, event_ids: list[int]) -> None:
    """The same for several events at once (the SLA sweep fires many in one batch)."""
    _notify(tenant, event_ids)


def _notify(tenant: Tenant, event_ids: list[int]) -> None:
    events = (
        IncidentEvent.objects.for_tenant(tenant)
        .select_related(
            "incident__service",
            "incident__assignee",
            "incident__assignment_team",
            "incident__commander",
            "actor",
        )
        .filter(pk__in=event_ids)
    )
    for event in events:
        message = message_for(event)
        if message is not None:
            send_mail(message.subject, message.body, None, message.recipients)


@tenant_task()
def close_resolved_incidents_task(*, tenant: Tenant) -> int:
    """Close the tenant's incidents whose auto-close period after resolution has passed."""
    return services.incidents_close_resolved(tenant=tenant)


@shared_task
def schedule_incident_auto_close_task() -> int:
    """Beat entry point: one auto-close task per active tenant."""
    return enqueue_for_each_tenant(close_resolved_incidents_task)


@shared_task(acks_late=True, expires=60)
def sweep_sla_clocks_task() -> int:
    """Beat entry point, every few seconds: fire the SLA thresholds that are due.

    Safe to run twice at once or to redeliver: clocks are taken with SKIP LOCKED and each
    threshold is written once.
    """
    return sla.sweep(batch_size=settings.SLA_SWEEP_BATCH).fired
