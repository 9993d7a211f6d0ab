"""The audit trail API: tenant administrators read their tenant's trail, nobody writes it."""

from __future__ import annotations

from django.db.models import QuerySet
from rest_framework.mixins import ListModelMixin

from itsm.api.pagination import CursorPagination
from itsm.api.views import TenantScopedViewSet
from itsm.audit import selectors
from itsm.audit.api.filters import AuditEventFilterSet
from itsm.audit.api.serializers import AuditEventSerializer
from itsm.audit.models import AuditEvent
from itsm.tenancy.choices import ADMIN_ROLES
from itsm.tenancy.models import Tenant


class AuditPagination(CursorPagination):
    """Cursor pages of audit events, newest first; the id breaks ties of equal times."""

    ordering = ("-created_at", "-id")  # type: ignore[assignment]  # DRF takes a sequence too


class AuditEventViewSet(ListModelMixin, TenantScopedViewSet):
    """Every recorded change in the tenant: who or which task, what (field, old, new), when."""

    queryset = AuditEvent.objects.none()
    serializer_class = AuditEventSerializer
    filterset_class = AuditEventFilterSet
    pagination_class = AuditPagination
    ordering_fields = ["created_at"]
    ordering = ["-created_at", "-id"]
    action_roles = {"list": ADMIN_ROLES}

    def get_tenant_queryset(self, tenant: Tenant) -> QuerySet[AuditEvent]:
        return selectors.audit_event_list(tenant=tenant)
