"""The incident queues: My work, My teams, Unassigned, Breaching soon, Breached, Major and all
open incidents for agents; a requester's own incidents. Bulk assignment with a result per row.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views import View

from incidents import selectors, services
from incidents.choices import OPEN_STATUSES, IncidentStatus
from incidents.filters import IncidentFilterSet
from incidents.forms.bulk import BulkAssignForm
from incidents.models import Incident, SlaClock
from itsm.errors import DomainError
from itsm.tenancy.choices import STAFF_ROLES, MembershipRole
from itsm.tenancy.models import Membership, TeamMember, parse_reference
from itsm.web.queues import Queue, QueuePage
from itsm.web.views import TenantPageMixin

REQUESTERS = frozenset({MembershipRole.REQUESTER})
STAFF = frozenset(STAFF_ROLES)


def _open(incidents: QuerySet[Incident]) -> QuerySet[Incident]:
    return incidents.filter(status__in=OPEN_STATUSES)


def _mine(incidents: QuerySet[Incident], membership: Membership) -> QuerySet[Incident]:
    return _open(incidents).filter(assignee_id=membership.user_id)


def _my_teams(incidents: QuerySet[Incident], membership: Membership) -> QuerySet[Incident]:
    teams = TeamMember.objects.for_tenant(membership.tenant_id).filter(user_id=membership.user_id)
    return _open(incidents).filter(assignment_team_id__in=teams.values("team_id"))


def _unassigned(incidents: QuerySet[Incident], membership: Membership) -> QuerySet[Incident]:
    return _open(incidents).filter(assignee__isnull=True)


def _breaching_soon(incidents: QuerySet[Incident], membership: Membership) -> QuerySet[Incident]:
    horizon = timezone.now() + timedelta(seconds=settings.WORKSPACE_BREACHING_SOON)
    return _open(incidents).filter(sla_breached=False, sla_due_at__lte=horizon)


def _breached(incidents: QuerySet[Incident], membership: Membership) -> QuerySet[Incident]:
    return _open(incidents).filter(sla_breached=True)


def _major(incidents: QuerySet[Incident], membership: Membership) -> QuerySet[Incident]:
    return _open(incidents).filter(is_major=True)


def _all_open(incidents: QuerySet[Incident], membership: Membership) -> QuerySet[Incident]:
    return _open(incidents)


def _not_done(incidents: QuerySet[Incident], membership: Membership) -> QuerySet[Incident]:
    """Open, or resolved and waiting for the requester to confirm or reopen."""
    return incidents.filter(status__in=[*OPEN_STATUSES, IncidentStatus.RESOLVED])


def _everything(incidents: QuerySet[Incident], membership: Membership) -> QuerySet[Incident]:
    return incidents


DUE_SOONEST = "sla_due_at"
QUEUES = (
    Queue("mine", "My work", _mine, STAFF, DUE_SOONEST),
    Queue("teams", "My teams", _my_teams, STAFF, DUE_SOONEST),
    Queue("unassigned", "Unassigned", _unassigned, STAFF, DUE_SOONEST),
    Queue("breaching", "Breaching soon", _breaching_soon, STAFF, DUE_SOONEST),
    Queue("breached", "Breached", _breached, STAFF, DUE_SOONEST),
    Queue("major", "Major incidents", _major, STAFF, DUE_SOONEST),
    Queue("open", "All open", _all_open, STAFF, DUE_SOONEST),
    Queue("requests", "Open or to confirm", _not_done, REQUESTERS, "-created_at"),
    Queue("all-requests", "All my requests", _everything, REQUESTERS, "-created_at"),
)


# The filter bar: (query parameter, label, the choice that filters nothing), in order; a
# requester sees the first two.
FILTER_BAR = (
    ("priority", "Priority", "Any"),
    ("status", "Status", "Any"),
    ("service", "Service", "Any"),
    ("category", "Category", "Any"),
    ("team", "Team", "Any"),
    ("tier", "Tier", "Any"),
    ("assignee", "Assignee", "Anyone"),
)


class IncidentListPage(QueuePage):
    """The incident queues (requesters: the incidents they reported)."""

    template_name = "incidents/queue.html"
    rows_template = "incidents/queue.html#rows"
    page_name = "incidents:list"
    queues = QUEUES
    filterset_class = IncidentFilterSet
    ordering_fields = {
        "sla_due_at": "SLA due",
        "priority": "Priority",
        "created_at": "Created",
        "updated_at": "Updated",
        "number": "Number",
    }
    search_kind = "incident"

    def get_base_queryset(self) -> QuerySet[Incident]:
        # The queue shows neither reporter nor commander: skip the selector's user batch.
        incidents = selectors.incident_list(tenant=self.tenant, membership=self.membership)
        return incidents.prefetch_related(None)

    def decorate(self, rows: list[Any]) -> list[Any]:
        """Each row's running clocks, with policy and timer, for the countdown: one query."""
        clocks = (
            SlaClock.objects.for_tenant(self.tenant)
            .filter(incident__in=rows, stopped_at__isnull=True)
            .select_related("policy", "timer")
            .order_by("due_at")
        )
        soonest: dict[int, SlaClock] = {}
        for clock in clocks:
            soonest.setdefault(clock.incident_id, clock)
        for row in rows:
            row.soonest_clock = soonest.get(row.pk)
        return rows

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        is_requester = self.membership.role == MembershipRole.REQUESTER
        labels = selectors.priority_labels(tenant=self.tenant)
        bulk_form = None if is_requester else BulkAssignForm(tenant=self.tenant)
        context.update(
            priority_labels=labels,
            is_requester=is_requester,
            bulk_form=bulk_form,
            server_now=timezone.now(),
        )
        if self.rows_only:  # the refreshed rows show no filter bar
            return context
        context.update(
            choices=(choices := self._filter_choices(context["filter_form"], bulk_form, labels)),
            filter_fields=[
                (name, label, choices[name], self.request.GET.get(name, ""), empty)
                for name, label, empty in FILTER_BAR
                if name in choices
            ],
        )
        return context

    @staticmethod
    def _filter_choices(
        filter_form: Any, bulk_form: BulkAssignForm | None, labels: dict[int, str]
    ) -> dict[str, list[tuple[Any, Any]]]:
        """(value, label) pairs of the filter bar and the bulk form, one query per list."""
        fields = filter_form.fields
        choices: dict[str, list[tuple[Any, Any]]] = {
            "priority": [
                (value, labels.get(value, label)) for value, label in fields["priority"].choices
            ],
            "status": list(fields["status"].choices),
            "tier": [(value, label) for value, label in fields["tier"].choices if value],
        }
        if bulk_form is not None:
            choices |= {
                "service": [
                    (s.slug, s.name) for s in fields["service"].queryset.only("slug", "name")
                ],
                "category": [
                    (c.slug, c.name) for c in fields["category"].queryset.only("slug", "name")
                ],
                "team": [(t.slug, t.name) for t in bulk_form.fields["team"].queryset],  # type: ignore[attr-defined]
                "assignee": [
                    (user.username, user.get_full_name() or user.username)
                    for user in bulk_form.fields["assignee"].queryset  # type: ignore[attr-defined]
                ],
            }
        return choices


@dataclass
class RowResult:
    reference: str
    ok: bool
    message: str


class IncidentBulkAssignPage(TenantPageMixin, View):
    """Assign or move the selected incidents; each row succeeds or fails on its own."""

    page_roles = STAFF

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        form = BulkAssignForm(request.POST, tenant=self.tenant)
        if not form.is_valid():
            for errors in form.errors.values():
                for error in errors:
                    messages.error(request, str(error))
            return redirect(request.POST.get("back") or "incidents:list", self.tenant.slug)
        results = [self._assign_one(reference, form) for reference in form.cleaned_data["incident"]]
        return render(
            request,
            "incidents/bulk_results.html",
            self.get_context_data(
                results=results,
                succeeded=sum(result.ok for result in results),
                back=form.cleaned_data["back"],
            ),
            status=200 if all(result.ok for result in results) else 207,
        )

    def _assign_one(self, reference: str, form: BulkAssignForm) -> RowResult:
        number = parse_reference(Incident.NUMBER_PREFIX, reference)
        incident_id = (
            selectors.incident_list(tenant=self.tenant, membership=self.membership)
            .filter(number=number)
            .values_list("pk", flat=True)
            .first()
            if number is not None
            else None
        )
        if incident_id is None:
            return RowResult(reference, False, "Not found.")
        try:
            with transaction.atomic():  # one row's refusal undoes only that row
                services.incident_assign(
                    tenant=self.tenant,
                    incident_id=incident_id,
                    actor=self.request.user,
                    team=form.cleaned_data["team"],
                    assignee=form.cleaned_data["assignee"],
                )
        except DomainError as error:
            return RowResult(reference, False, str(error))
        return RowResult(reference, True, "Assigned.")

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return {"tenant": self.tenant, "membership": self.membership, **kwargs}
