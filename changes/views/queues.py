"""The change list (My changes, Open, Awaiting approval, Upcoming, Closed, All), an
`itsm.web.queues.QueuePage` with the API's filter set, and the approver's queue: the changes
awaiting the user's decision, each with its conflicts and a form to approve or reject it.

Windows are shown, and typed into the filters, in the tenant's time zone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import SimpleTemplateResponse, TemplateResponse
from django.utils.text import slugify
from django.views import View

from changes import selectors, services
from changes.calendar import CalendarChange, attach_conflicts
from changes.choices import OPEN_CHANGE_STATUSES, ApprovalDecision, ChangeStatus
from changes.filters import ChangeFilterSet
from changes.forms.approvals import APPROVE, DecisionForm
from changes.forms.create import in_tenant_time_zone
from changes.models import Change
from changes.schedule import Conflict
from itsm.errors import DomainError, InvalidInputError, NotFoundError
from itsm.tenancy.models import MAX_NUMBER, Membership, Tenant, parse_reference
from itsm.web.queues import MAX_QUERY_LENGTH, Queue, QueuePage
from itsm.web.views import TenantPageMixin
from problems.views.base import STAFF, Notice, refusal_status
from problems.views.queues import words_match

# The change's text the list's search box looks into (as the API's ?search=, and more).
CHANGE_TEXT = ("title", "description")
NEWEST = "-created_at"
APPROVALS_PAGE_SIZE = 100  # a board decides on a few at a time; the oldest window first


def rendered(response: HttpResponse) -> HttpResponse:
    """Render now, while the tenant's time zone is active (the page mixin would render later)."""
    if isinstance(response, SimpleTemplateResponse) and not response.is_rendered:
        response.render()
    return response


def awaiting_my_approval(tenant: Tenant, membership: Membership) -> QuerySet[Change]:
    """The API's `?awaiting_my_approval=true`: awaiting approval, granted to the member, not
    decided by them in this round."""
    changes = selectors.change_list(tenant=tenant, membership=membership)
    return selectors.awaiting_approval_of(changes, membership.user)


# --- The change list ----------------------------------------------------------------------------


def _open(changes: QuerySet[Change]) -> QuerySet[Change]:
    return changes.filter(status__in=OPEN_CHANGE_STATUSES)


def _mine(changes: QuerySet[Change], membership: Membership) -> QuerySet[Change]:
    return _open(changes).filter(
        Q(owner_id=membership.user_id) | Q(implementer_id=membership.user_id)
    )


def _all_open(changes: QuerySet[Change], membership: Membership) -> QuerySet[Change]:
    return _open(changes)


def _awaiting_approval(changes: QuerySet[Change], membership: Membership) -> QuerySet[Change]:
    return changes.filter(status=ChangeStatus.AWAITING_APPROVAL)


def _upcoming(changes: QuerySet[Change], membership: Membership) -> QuerySet[Change]:
    # A scheduled change always has its window (approval and scheduling require one).
    return changes.filter(status=ChangeStatus.SCHEDULED)


def _closed(changes: QuerySet[Change], membership: Membership) -> QuerySet[Change]:
    return changes.filter(status__in=[ChangeStatus.CLOSED, ChangeStatus.CANCELLED])


def _everything(changes: QuerySet[Change], membership: Membership) -> QuerySet[Change]:
    return changes


CHANGE_QUEUES = (
    Queue("mine", "My changes", _mine, STAFF, NEWEST),
    Queue("open", "Open", _all_open, STAFF, NEWEST),
    Queue("awaiting-approval", "Awaiting approval", _awaiting_approval, STAFF, NEWEST),
    Queue("upcoming", "Upcoming", _upcoming, STAFF, "planned_start"),
    Queue("closed", "Closed", _closed, STAFF, NEWEST),
    Queue("all", "All", _everything, STAFF, NEWEST),
)


class ChangeListPage(QueuePage):
    """The change queues of the staff (requesters see nothing of change management)."""

    page_roles = STAFF
    template_name = "changes/queue.html"
    rows_template = "changes/queue.html#rows"
    page_name = "changes:list"
    queues = CHANGE_QUEUES
    filterset_class = ChangeFilterSet
    ordering_fields = {
        "created_at": "Created",
        "updated_at": "Updated",
        "number": "Number",
        "planned_start": "Planned start",
        "status": "Status",
    }
    search_kind = "change"  # unused: changes are scanned (see search)

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        with in_tenant_time_zone(self.tenant):
            return rendered(super().get(request, *args, **kwargs))

    def get_base_queryset(self) -> QuerySet[Change]:
        return selectors.change_list(tenant=self.tenant, membership=self.membership)

    def search(self, queryset: QuerySet[Any], query: str) -> QuerySet[Any]:
        return words_match(queryset, CHANGE_TEXT, query[:MAX_QUERY_LENGTH])

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        if self.rows_only:  # the refreshed rows show no filter bar
            return context
        fields = context["filter_form"].fields
        choices = [
            ("type", "Type", list(fields["type"].choices)),
            ("status", "Status", list(fields["status"].choices)),
            ("risk", "Risk", list(fields["risk"].choices)),
            ("service", "Service", list(fields["service"].queryset.values_list("slug", "name"))),
        ]
        context.update(
            filter_fields=[
                (name, label, pairs, self.request.GET.get(name, ""), "Any")
                for name, label, pairs in choices
            ],
            # The planned window, as date-times in the tenant's zone (the filter set reads them).
            datetime_filters=[
                (name, label, self.request.GET.get(name, "")[:40])
                for name, label in (
                    ("planned_after", "Window ends after"),
                    ("planned_before", "Window starts before"),
                )
            ],
            awaiting_count=awaiting_my_approval(self.tenant, self.membership).count(),
        )
        return context


# --- The approver's queue -----------------------------------------------------------------------


@dataclass
class ApprovalRow:
    """One change awaiting the user's decision, what stands in its way, and the form."""

    change: Change
    conflicts: list[Conflict] = field(default_factory=list)
    form: forms.Form | None = None


def decision_form(reference: str, data: Any = None) -> DecisionForm:
    # One form per row: ids must differ from row to row.
    return DecisionForm(
        data, initial={"reference": reference}, auto_id=f"decide-{slugify(reference)}-%s"
    )


class ApprovalQueuePage(TenantPageMixin, View):
    """GET lists the changes awaiting the user's decision; POST decides on one of them (the same
    services as the API's approve/reject) and shows the queue again, with what happened."""

    page_roles = STAFF
    template_name = "changes/approvals.html"

    @property
    def is_htmx(self) -> bool:
        return self.request.headers.get("HX-Request") == "true"

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        return self.render_queue()

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        form = decision_form(request.POST.get("reference", "")[:32], request.POST)
        if not form.is_valid():
            return self.render_queue(form, [("error", "Please correct the errors below.")], 400)
        change = self.change_to_decide(form.cleaned_data["reference"])
        decide = (
            services.change_approve
            if form.cleaned_data["decision"] == APPROVE
            else services.change_reject
        )
        try:
            decided = decide(
                tenant=self.tenant,
                change_id=change.pk,
                actor=request.user,
                comment=form.cleaned_data["comment"],
            )
        except DomainError as error:
            return self.refused(form, error)
        except ValidationError as error:  # a model's full_clean inside the service
            form.add_error(None, list(error.messages))
            return self.render_queue(form, [("error", "Please correct the errors below.")], 400)
        notices = report(decided)
        if self.is_htmx:
            return self.render_queue(notices=notices)
        for level, text in notices:
            messages.add_message(request, getattr(messages, level.upper()), text)
        return redirect("changes:approvals", self.tenant.slug)

    def change_to_decide(self, reference: str) -> Change:
        """The change, if the user holds its approver's grant; to anyone else it is absent."""
        number = parse_reference(Change.NUMBER_PREFIX, reference)
        change = (
            selectors.changes_to_decide(tenant=self.tenant, membership=self.membership)
            .filter(number=number)
            .first()
            if number is not None and number <= MAX_NUMBER
            else None
        )
        if change is None:
            raise Http404("No such change awaiting your approval.")
        return change

    def refused(self, form: DecisionForm, error: DomainError) -> HttpResponse:
        """The service said no: why, next to the field it names; the input is kept."""
        if isinstance(error, NotFoundError):
            raise Http404(error.message)
        if isinstance(error, InvalidInputError):
            for name, reasons in error.fields.items():
                form.add_error(name if name in form.fields else None, list(reasons))
            if not error.fields:
                form.add_error(None, error.message)
            return self.render_queue(form, [("error", error.message)], 400)
        return self.render_queue(form, [("error", error.message)], refusal_status(error))

    def rows(self, bound: DecisionForm | None) -> list[ApprovalRow]:
        """The queue, with each change's approvals and conflicts in a fixed number of queries."""
        changes = list(
            selectors.with_approvals_received(
                awaiting_my_approval(self.tenant, self.membership), tenant=self.tenant
            ).order_by("planned_start", "id")[:APPROVALS_PAGE_SIZE]
        )
        entries = [
            CalendarChange(change, [link.service_id for link in change.service_links.all()])
            for change in changes
        ]
        attach_conflicts(self.tenant, entries)
        bound_reference = bound.data.get("reference", "") if bound is not None else ""
        return [
            ApprovalRow(
                entry.change,
                entry.conflicts,
                bound
                if bound is not None and bound_reference == entry.change.reference
                else decision_form(entry.change.reference),
            )
            for entry in entries
        ]

    def render_queue(
        self,
        bound: DecisionForm | None = None,
        notices: list[Notice] | None = None,
        status: int = 200,
    ) -> HttpResponse:
        with in_tenant_time_zone(self.tenant) as zone:
            rows = self.rows(bound)
            shown = {row.change.reference for row in rows}
            context = {
                "tenant": self.tenant,
                "membership": self.membership,
                "rows": rows,
                "notices": notices or [],
                # A refused form whose change left the queue still shows what it said.
                "orphan_form": bound
                if bound is not None and bound.data.get("reference") not in shown
                else None,
                "page_size": APPROVALS_PAGE_SIZE,
                "zone": zone,
            }
            template = f"{self.template_name}#queue" if self.is_htmx else self.template_name
            return rendered(TemplateResponse(self.request, template, context, status=status))


def report(decided: services.Decided) -> list[Notice]:
    """What to say after a decision: approved, scheduled with its conflicts, or rejected."""
    change = decided.change
    if decided.approval.decision == ApprovalDecision.REJECTED:
        return [("success", f"Rejected {change.reference}: back to draft.")]
    if change.status != ChangeStatus.SCHEDULED:
        return [("success", f"Approved {change.reference}.")]
    return [
        ("success", f"{change.reference} approved and scheduled."),
        *(
            ("warning", f"Conflicts with {conflict.reference}: {conflict.message}")
            for conflict in decided.conflicts
        ),
    ]
