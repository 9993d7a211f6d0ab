"""The change manager's settings: who sits on the advisory boards, the approval rules, and the
blackout windows (the API's CabMember, ApprovalRule and BlackoutWindow endpoints, on a page).

Every POST names its `op` (and the row's `id` where it acts on one) and calls the same service
as the API. Success redirects back to the section with a message (Post/Redirect/Get); bad input
re-renders the page with the error by the form's field and the input kept, status 400; a
service's refusal gets its status (`refusal_status`); a row that is not the tenant's is a 404.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Model, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.functional import cached_property
from django.views.generic import TemplateView

from changes import blackouts, selectors, services
from changes.choices import CHANGE_MANAGERS, ApprovalBoard, ChangeType, Risk
from changes.forms.create import in_tenant_time_zone
from changes.forms.settings import (
    ApprovalRuleEditForm,
    ApprovalRuleForm,
    BlackoutWindowForm,
    CabMemberForm,
    blackout_initial,
)
from changes.lifecycle import DEFAULT_APPROVALS
from changes.models import ApprovalRule, BlackoutWindow, CabMember
from changes.views.create import add_service_error
from changes.views.queues import rendered
from itsm.catalog import selectors as catalog_selectors
from itsm.catalog.models import Service
from itsm.errors import DomainError, NotFoundError
from itsm.tenancy.selectors import agent_list
from itsm.web.views import TenantPageMixin
from problems.views.base import Notice, display_name, refusal_status


@dataclass
class RuleRow:
    """One type and risk: the tenant's rule with its edit form, or the default that applies."""

    change_type: str
    risk: str
    board: str
    approvals_required: int
    rule: ApprovalRule | None = None
    form: forms.Form | None = None

    @property
    def type_label(self) -> str:
        return str(ChangeType(self.change_type).label)

    @property
    def risk_label(self) -> str:
        return str(Risk(self.risk).label)

    @property
    def board_label(self) -> str:
        return str(ApprovalBoard(self.board).label)


# Where each op's section is on the page (the redirect's anchor).
MEMBERS, RULES, WINDOWS = "boards", "rules", "blackouts"


class ChangeSettingsPage(TenantPageMixin, TemplateView):
    """GET shows the boards, the rules and the windows with their forms; POST does one `op`."""

    template_name = "changes/settings/page.html"
    page_roles = CHANGE_MANAGERS

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        with in_tenant_time_zone(self.tenant):
            return rendered(self.render_to_response(self.get_context_data()))

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        ops: dict[str, Callable[[], HttpResponse]] = {
            "add-member": self.add_member,
            "remove-member": self.remove_member,
            "add-rule": self.add_rule,
            "save-rule": self.save_rule,
            "delete-rule": self.delete_rule,
            "add-blackout": self.add_blackout,
            "save-blackout": self.save_blackout,
            "delete-blackout": self.delete_blackout,
        }
        with in_tenant_time_zone(self.tenant):
            op = ops.get(request.POST.get("op", ""))
            if op is None:
                notices: list[Notice] = [("error", "Unknown action: nothing was changed.")]
                return rendered(self.page(status=400, notices=notices))
            return rendered(op())

    # --- Reads ---

    def people(self) -> QuerySet[Any]:
        return agent_list(tenant=self.tenant)

    @cached_property
    def services(self) -> list[Service]:
        """The choices of every window's form, read once for the page."""
        return list(
            catalog_selectors.service_list(tenant=self.tenant)
            .filter(is_active=True)
            .select_related(None)
            .order_by("name")
        )

    def members(self) -> QuerySet[CabMember]:
        found: QuerySet[CabMember] = selectors.cab_member_list(
            tenant=self.tenant, membership=self.membership
        )
        return found

    def rules(self) -> QuerySet[ApprovalRule]:
        found: QuerySet[ApprovalRule] = selectors.approval_rule_list(
            tenant=self.tenant, membership=self.membership
        )
        return found

    def windows(self) -> QuerySet[BlackoutWindow]:
        """Current and upcoming windows: past ones constrain nothing any more."""
        return blackouts.blackout_list(tenant=self.tenant).filter(ends_at__gt=timezone.now())

    def row_id(self) -> int:
        """The posted `id`; not a number is as absent as another tenant's row."""
        value = self.request.POST.get("id", "")
        if not (value.isascii() and value.isdecimal()) or len(value) > 12:
            raise Http404("No such row.")
        return int(value)

    def found[T: Model](self, rows: QuerySet[T]) -> T:
        """The posted row among the tenant's (another tenant's, or none: 404)."""
        row = rows.filter(pk=self.row_id()).first()
        if row is None:
            raise Http404("No such row.")
        return row

    # --- The page ---

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        members = list(self.members())
        rule_forms: dict[int, forms.Form] = kwargs.get("rule_forms", {})
        window_forms: dict[int, forms.Form] = kwargs.get("window_forms", {})
        windows = [
            (
                window,
                window_forms.get(window.pk)
                or BlackoutWindowForm(
                    initial=blackout_initial(window),
                    services=self.services,
                    prefix=f"blackout-{window.pk}",
                ),
            )
            for window in self.windows()
        ]
        context.update(
            boards=[
                (board, label, [member for member in members if member.board == board])
                for board, label in ApprovalBoard.choices
            ],
            member_form=kwargs.get("member_form") or CabMemberForm(people=self.people()),
            rule_rows=self.rule_rows(rule_forms),
            rule_form=kwargs.get("rule_form") or ApprovalRuleForm(),
            windows=windows,
            window_form=kwargs.get("window_form") or BlackoutWindowForm(services=self.services),
            notices=kwargs.get("notices", []),
        )
        return context

    def rule_rows(self, bound: dict[int, forms.Form]) -> list[RuleRow]:
        """Each type and risk with a default, then any other rule: the rule, else the default."""
        rules = {(rule.change_type, rule.risk): rule for rule in self.rules()}
        rows = []
        for key in [*DEFAULT_APPROVALS, *(key for key in rules if key not in DEFAULT_APPROVALS)]:
            rule = rules.get(key)
            if rule is None:
                board, count = DEFAULT_APPROVALS[key]
                rows.append(RuleRow(key[0], key[1], board, count))
                continue
            form = bound.get(rule.pk) or ApprovalRuleEditForm(
                initial={"board": rule.board, "approvals_required": rule.approvals_required},
                prefix=f"rule-{rule.pk}",
            )
            rows.append(
                RuleRow(key[0], key[1], rule.board, rule.approvals_required, rule=rule, form=form)
            )
        return rows

    def page(self, *, status: int, **kwargs: Any) -> HttpResponse:
        return self.render_to_response(self.get_context_data(**kwargs), status=status)

    def refused(
        self, form: forms.Form, error: DomainError | ValidationError, **kwargs: Any
    ) -> HttpResponse:
        """The page again with the service's refusal by the form's field, and its status."""
        if isinstance(error, NotFoundError):
            raise Http404(error.message) from error
        add_service_error(form, error)
        status = refusal_status(error) if isinstance(error, DomainError) else 400
        text = error.message if isinstance(error, DomainError) else "Nothing was saved."
        return self.page(status=status, notices=[("error", text)], **kwargs)

    def done(self, section: str, text: str) -> HttpResponse:
        messages.success(self.request, text)
        url = reverse("changes:settings", args=[self.tenant.slug])
        return redirect(f"{url}#{section}")

    # --- Advisory boards ---

    def add_member(self) -> HttpResponse:
        form = CabMemberForm(self.request.POST, people=self.people())
        if not form.is_valid():
            return self.page(status=400, member_form=form)
        try:
            member = services.cab_member_add(
                tenant=self.tenant, actor=self.request.user, **form.cleaned_data
            )
        except (DomainError, ValidationError) as error:
            return self.refused(form, error, member_form=form)
        board = ApprovalBoard(member.board).label
        return self.done(MEMBERS, f"{display_name(member.user)} is on the {board}.")

    def remove_member(self) -> HttpResponse:
        member = self.found(self.members())
        try:
            services.cab_member_remove(
                tenant=self.tenant, actor=self.request.user, member_id=member.pk
            )
        except NotFoundError as error:
            raise Http404(error.message) from error
        board = ApprovalBoard(member.board).label
        return self.done(MEMBERS, f"{display_name(member.user)} is off the {board}.")

    # --- Approval rules ---

    def add_rule(self) -> HttpResponse:
        form = ApprovalRuleForm(self.request.POST)
        if not form.is_valid():
            return self.page(status=400, rule_form=form)
        try:
            rule = services.approval_rule_create(
                tenant=self.tenant, actor=self.request.user, data=form.cleaned_data
            )
        except (DomainError, ValidationError) as error:
            return self.refused(form, error, rule_form=form)
        return self.done(RULES, f"Rule added: {rule_text(rule)}.")

    def save_rule(self) -> HttpResponse:
        rule = self.found(self.rules())
        form = ApprovalRuleEditForm(self.request.POST, prefix=f"rule-{rule.pk}")
        bound = {"rule_forms": {rule.pk: form}}
        if not form.is_valid():
            return self.page(status=400, **bound)
        try:
            rule = services.approval_rule_update(
                tenant=self.tenant, rule_id=rule.pk, actor=self.request.user, data=form.cleaned_data
            )
        except (DomainError, ValidationError) as error:
            return self.refused(form, error, **bound)
        return self.done(RULES, f"Rule saved: {rule_text(rule)}.")

    def delete_rule(self) -> HttpResponse:
        rule = self.found(self.rules())
        try:
            services.approval_rule_delete(
                tenant=self.tenant, rule_id=rule.pk, actor=self.request.user
            )
        except NotFoundError as error:
            raise Http404(error.message) from error
        return self.done(RULES, f"Rule deleted: the default applies again to {pair_text(rule)}.")

    # --- Blackout windows ---

    def add_blackout(self) -> HttpResponse:
        form = BlackoutWindowForm(self.request.POST, services=self.services)
        if not form.is_valid():
            return self.page(status=400, window_form=form)
        try:
            window = blackouts.blackout_create(tenant=self.tenant, data=form.cleaned_data)
        except (DomainError, ValidationError) as error:
            return self.refused(form, error, window_form=form)
        return self.done(WINDOWS, f"Blackout window added: {window.name}.")

    def save_blackout(self) -> HttpResponse:
        window = self.found(blackouts.blackout_list(tenant=self.tenant))
        form = BlackoutWindowForm(
            self.request.POST, services=self.services, prefix=f"blackout-{window.pk}"
        )
        bound = {"window_forms": {window.pk: form}}
        if not form.is_valid():
            return self.page(status=400, **bound)
        try:
            window = blackouts.blackout_update(
                tenant=self.tenant, window_id=window.pk, data=form.cleaned_data
            )
        except (DomainError, ValidationError) as error:
            return self.refused(form, error, **bound)
        return self.done(WINDOWS, f"Blackout window saved: {window.name}.")

    def delete_blackout(self) -> HttpResponse:
        window = self.found(blackouts.blackout_list(tenant=self.tenant))
        blackouts.blackout_delete(tenant=self.tenant, window_id=window.pk)
        return self.done(WINDOWS, f"Blackout window deleted: {window.name}.")


def pair_text(rule: ApprovalRule) -> str:
    return f"{ChangeType(rule.change_type).label.lower()} changes of {rule.risk} risk"


def rule_text(rule: ApprovalRule) -> str:
    board = ApprovalBoard(rule.board).label
    return f"{pair_text(rule)} need {rule.approvals_required} from the {board}"
