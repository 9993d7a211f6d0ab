"""Celery entry points of problem management: trend analysis, one tenant each."""

from __future__ import annotations

from celery import shared_task
from django.db import transaction

from itsm.errors import ConflictError
from itsm.tenancy.models import Tenant
from itsm.tenancy.tasking import enqueue_for_each_tenant, tenant_task
from problems import selectors, services
from problems.choices import TrendRunTrigger


@shared_task(acks_late=True)
def trend_analysis_task(*, tenant_id: int, run_id: int) -> str | None:
    """Carry out a queued run. Not wrapped in one transaction: the run commits its progress as
    it goes and its suggestions at the end (services.trend_run_execute)."""
    tenant = Tenant.objects.filter(pk=tenant_id, is_active=True).first()
    if tenant is None:
        return None
    return str(services.trend_run_execute(tenant=tenant, run_id=run_id).status)


def start_trend_run(*, tenant: Tenant, actor: object = None, trigger: str) -> int:
    """Record a queued run and send its task once the run is committed; returns its id.

    Raises:
        ConflictError: a run is queued or running already (409).
    """
    run = services.trend_run_request(tenant=tenant, actor=actor, trigger=trigger)
    transaction.on_commit(lambda: trend_analysis_task.delay(tenant_id=tenant.pk, run_id=run.pk))
    return run.pk


@tenant_task()
def scheduled_trend_run_task(*, tenant: Tenant) -> int | None:
    """The tenant's scheduled run, unless its analysis is switched off or one is running."""
    if not selectors.trend_settings(tenant=tenant).enabled:
        return None
    try:
        return start_trend_run(tenant=tenant, trigger=TrendRunTrigger.SCHEDULE)
    except ConflictError:
        return None


@shared_task
def schedule_trend_analysis_task() -> int:
    """Beat entry point: one scheduled run per active tenant."""
    return enqueue_for_each_tenant(scheduled_trend_run_task)
