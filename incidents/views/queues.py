"""Incident pages of the agent workspace."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.views.generic import ListView

from incidents import selectors
from incidents.choices import OPEN_STATUSES, SLA_NEVER_DUE
from incidents.models import Incident
from itsm.tenancy.choices import MembershipRole
from itsm.web.views import TenantPageMixin


class IncidentListPage(TenantPageMixin, ListView[Incident]):
    """Open incidents, due soonest first (requesters: the ones they reported)."""

    template_name = "incidents/incident_list.html"
    context_object_name = "incidents"
    paginate_by = 50

    def get_queryset(self) -> QuerySet[Incident]:
        incidents = selectors.incident_list(tenant=self.tenant, membership=self.membership)
        if self.request.GET.get("status") != "all":
            incidents = incidents.filter(status__in=OPEN_STATUSES)
        return incidents.order_by("sla_due_at", "-created_at", "-id")

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context.update(
            priority_labels=selectors.priority_labels(tenant=self.tenant),
            never_due=SLA_NEVER_DUE,
            show_all=self.request.GET.get("status") == "all",
            is_requester=self.membership.role == MembershipRole.REQUESTER,
        )
        return context
