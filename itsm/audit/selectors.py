"""Reads of the audit trail, always of one tenant."""

from __future__ import annotations

from typing import Any

from django.db.models import Model, QuerySet

from itsm.audit.models import AuditEvent
from itsm.audit.tracking import audited_models
from itsm.tenancy.models import Tenant, parse_reference


def audit_event_list(*, tenant: Tenant) -> QuerySet[AuditEvent]:
    """The tenant's audit events of every audited model, newest first.

    Uses each event table's (tenant, time) index; row-level security applies underneath too.
    """
    return AuditEvent.objects.filter(tenant_id=tenant.pk).order_by("-created_at", "-id")


def object_history(*, tenant: Tenant, obj: Model) -> QuerySet[AuditEvent]:
    """One record's audit events, newest first (through its (object, time) index)."""
    return audit_event_list(tenant=tenant).filter(model=obj._meta.label_lower, object_id=obj.pk)


def filter_by_reference(
    events: QuerySet[AuditEvent], *, tenant: Tenant, reference: str
) -> QuerySet[AuditEvent]:
    """Events of the record with this human number (INC-000042); none if there is no such."""
    prefix = reference.upper().rpartition("-")[0]
    for audited in audited_models():
        if not audited.number_prefix or audited.number_prefix != prefix:
            continue
        number = parse_reference(prefix, reference)
        if number is None:
            break
        manager: Any = audited.model._default_manager
        objects = manager.filter(tenant_id=tenant.pk, number=number).values("pk")
        return events.filter(model=audited.label, object_id__in=objects)
    return events.none()
