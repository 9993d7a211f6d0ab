"""Celery entry points of incident management: thin, idempotent, one tenant each."""

from __future__ import annotations

from celery import shared_task

from incidents import services
from incidents.metrics import rollups
from itsm.tenancy.models import Tenant
from itsm.tenancy.tasking import enqueue_for_each_tenant, tenant_task


@tenant_task()
def close_resolved_incidents_task(*, tenant: Tenant) -> int:
    """Close the tenant's incidents whose auto-close period after resolution has passed."""
    return services.incidents_close_resolved(tenant=tenant)


@shared_task
def schedule_incident_auto_close_task() -> int:
    """Beat entry point: one auto-close task per active tenant."""
    return enqueue_for_each_tenant(close_resolved_incidents_task)


@tenant_task()
def refresh_incident_rollups_task(*, tenant: Tenant, full: bool = False) -> int:
    """Recompute the tenant's daily metric rollups: the recent days, or all (`full`)."""
    return rollups.rollup_refresh(tenant=tenant, full=full).rows


@shared_task
def schedule_incident_rollups_task(*, full: bool = False) -> int:
    """Beat entry point: one rollup refresh (or rebuild) per active tenant."""
    return enqueue_for_each_tenant(refresh_incident_rollups_task, full=full)
