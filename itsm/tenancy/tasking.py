"""How tasks meet tenants: every tenant task takes `tenant_id` and runs inside its RLS scope.

    @tenant_task()
    def notify_incident_watchers(*, tenant: Tenant, incident_id: int) -> None: ...

    notify_incident_watchers.delay(tenant_id=tenant.pk, incident_id=incident.pk)

The wrapped function receives the Tenant; a tenant that is gone or inactive makes the task a
no-op (a permanent condition: retrying would not help).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any

from celery import shared_task
from celery.app.task import Task

from itsm.tenancy import rls
from itsm.tenancy.models import Tenant

logger = logging.getLogger(__name__)


class TransientError(Exception):
    """A failure worth retrying (a remote service down, a lock timeout)."""


def tenant_task(**options: Any) -> Callable[[Callable[..., Any]], Task[Any, Any]]:
    """Declare a Celery task that runs for one tenant, acks late and retries transient errors."""

    def decorate(func: Callable[..., Any]) -> Task[Any, Any]:
        @functools.wraps(func)
        def run(*, tenant_id: int, **kwargs: Any) -> Any:
            tenant = Tenant.objects.filter(pk=tenant_id, is_active=True).first()
            if tenant is None:
                logger.info("Skipping %s: tenant %s is gone or inactive", func.__name__, tenant_id)
                return None
            with rls.tenant_scope(tenant.pk):
                return func(tenant=tenant, **kwargs)

        task_options: dict[str, Any] = {
            "acks_late": True,
            "autoretry_for": (TransientError,),
            "retry_backoff": True,
            "max_retries": 5,
            **options,
        }
        task: Task[Any, Any] = shared_task(**task_options)(run)
        return task

    return decorate


def enqueue_for_each_tenant(task: Task[Any, Any], **kwargs: Any) -> int:
    """Fan a periodic job out as one task per active tenant; returns how many were sent.

    One task per tenant keeps a slow or failing tenant from holding up the others.
    """
    tenant_ids = list(Tenant.objects.filter(is_active=True).values_list("pk", flat=True))
    for tenant_id in tenant_ids:
        task.delay(tenant_id=tenant_id, **kwargs)
    return len(tenant_ids)
