"""Every write of blackout windows: create, edit, delete (the audit trail records each, by the
model's triggers)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final

from django.db import transaction
from django.db.models import QuerySet

from changes.errors import ChangeRequirementError
from changes.models import BlackoutService, BlackoutWindow
from itsm.tenancy.models import Tenant

EDITABLE_FIELDS: Final = frozenset({"name", "starts_at", "ends_at", "services", "reason"})


def blackout_list(*, tenant: Tenant) -> QuerySet[BlackoutWindow]:
    """The tenant's blackout windows, soonest first, with their services."""
    return (
        BlackoutWindow.objects.for_tenant(tenant)
        .prefetch_related("service_links__service")
        .order_by("starts_at", "id")
    )


@transaction.atomic
def blackout_create(*, tenant: Tenant, data: Mapping[str, Any]) -> BlackoutWindow:
    """Record a blackout window (without services it covers every service).

    Raises:
        ChangeRequirementError: the window ends before it starts, or a service is another
            tenant's.
    """
    data = dict(data)
    services = list(data.pop("services", None) or [])
    _check(tenant, data.get("starts_at"), data.get("ends_at"), services)
    window = BlackoutWindow.objects.create(tenant=tenant, **data)
    _set_services(window, services)
    return window


@transaction.atomic
def blackout_update(*, tenant: Tenant, window_id: int, data: Mapping[str, Any]) -> BlackoutWindow:
    """Edit a blackout window; `services`, when given, replaces its services.

    Raises:
        ChangeRequirementError: an unknown field, an end before the start, another tenant's
            service.
    """
    window = BlackoutWindow.objects.for_tenant(tenant).select_for_update().get(pk=window_id)
    unknown = set(data) - EDITABLE_FIELDS
    if unknown:
        raise ChangeRequirementError(
            "These fields cannot be edited.",
            fields={name: ["Not editable."] for name in sorted(unknown)},
        )
    data = dict(data)
    services = data.pop("services", None)
    starts_at = data.get("starts_at", window.starts_at)
    ends_at = data.get("ends_at", window.ends_at)
    _check(tenant, starts_at, ends_at, services or [])
    changed = [name for name, value in data.items() if getattr(window, name) != value]
    for name in changed:
        setattr(window, name, data[name])
    if changed:
        window.save(update_fields=[*changed, "updated_at"])
    if services is not None:
        _set_services(window, list(services))
    return window


@transaction.atomic
def blackout_delete(*, tenant: Tenant, window_id: int) -> None:
    """Delete a blackout window and its service links."""
    window = BlackoutWindow.objects.for_tenant(tenant).select_for_update().get(pk=window_id)
    BlackoutService.objects.for_tenant(tenant).filter(window=window).delete()
    window.delete()


def _check(tenant: Tenant, starts_at: Any, ends_at: Any, services: Iterable[Any]) -> None:
    if starts_at is not None and ends_at is not None and ends_at <= starts_at:
        raise ChangeRequirementError(
            "A blackout window must end after it starts.",
            fields={"ends_at": ["Must be after starts_at."]},
        )
    if any(service.tenant_id != tenant.pk for service in services):
        raise ChangeRequirementError(
            "Services must be the tenant's own.",
            fields={"services": ["Unknown service."]},
        )


def _set_services(window: BlackoutWindow, services: list[Any]) -> None:
    links = BlackoutService.objects.for_tenant(window.tenant_id).filter(window=window)
    wanted = {service.pk for service in services}
    links.exclude(service_id__in=wanted).delete()
    have = set(links.values_list("service_id", flat=True))
    BlackoutService.objects.bulk_create(
        [
            BlackoutService(tenant_id=window.tenant_id, window=window, service_id=service_id)
            for service_id in sorted(wanted - have)
        ]
    )
