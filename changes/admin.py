"""Changes and their configuration in admin: read-mostly. Platform administrators record and
edit changes through the same services as the API, and take them through their lifecycle on the
"Act on this change" page (from the request through approval and implementation to the review
that resolves the problems they fix); tenant administrators read their tenant's changes here
(they work them through the API) and keep the configuration: standard change templates, board
members, approval rules, blackout windows. Timelines, services, approvals and links are shown
read-only: only services write them."""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest

from changes import services
from changes.choices import ChangeOutcome, RiskFactor
from changes.models import (
    ApprovalRule,
    BlackoutService,
    BlackoutWindow,
    CabMember,
    Change,
    ChangeApproval,
    ChangeEvent,
    ChangeFix,
    ChangeIncident,
    ChangeService,
    ChangeTemplate,
    TemplateService,
)
from itsm.admin_site import (
    EDIT,
    VIEW,
    ActionAdmin,
    ActionForm,
    ActionTable,
    ReadOnlyAdminMixin,
    ServiceBackedAdmin,
    TenantConfigAdmin,
    TenantScopedInline,
)

ACTIONS: ActionTable = {
    "submit": (services.change_submit, []),
    "assess_risk": (
        services.change_assess_risk,
        ["risk_impact", "risk_likelihood", "risk_backout"],
    ),
    "request_approval": (services.change_request_approval, []),
    # Decided by the service: only a holder of the approver's grant may, others see its refusal.
    "approve": (services.change_approve, ["comment"]),
    "reject": (services.change_reject, ["comment"]),
    "schedule": (services.change_schedule, []),
    "start": (services.change_start, []),
    "complete": (services.change_complete, ["note"]),
    "close": (services.change_close, ["outcome", "note"]),
    "cancel": (services.change_cancel, ["reason"]),
    "link_problems": (services.change_link_problems, ["problems", "known_errors"]),
    "record_incidents": (services.change_record_incidents, ["incidents"]),
}

# Inputs the form itself must have for an action: services take them typed, not optional.
REQUIRED_INPUTS = {
    "assess_risk": ["risk_impact", "risk_likelihood", "risk_backout"],
    "record_incidents": ["incidents"],
}


class ReferenceListField(forms.CharField):
    """Record references typed as text, separated by spaces or commas ("PRB-000001,
    PRB-000002"); the service says which exist in the change's tenant."""

    def to_python(self, value: Any) -> list[str]:  # type: ignore[override]
        text = super().to_python(value) or ""
        references = [part for part in re.split(r"[\s,;]+", text) if part]
        if any(len(reference) > 32 for reference in references):
            raise ValidationError("A reference is at most 32 characters.", code="too_long")
        return list(dict.fromkeys(references))  # each once, in the order typed


def _risk_field() -> forms.TypedChoiceField:
    return forms.TypedChoiceField(
        choices=[("", "—"), *RiskFactor.choices], coerce=int, empty_value=None, required=False
    )


class ChangeActionForm(ActionForm):
    """Every input any change action takes."""

    risk_impact = _risk_field()
    risk_likelihood = _risk_field()
    risk_backout = _risk_field()
    outcome = forms.ChoiceField(choices=[("", "—"), *ChangeOutcome.choices], required=False)
    comment = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)
    note = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)
    problems = ReferenceListField(
        required=False, help_text="Problem references, e.g. PRB-000042, separated by spaces."
    )
    known_errors = ReferenceListField(
        required=False, help_text="Known error references, separated by spaces."
    )
    incidents = ReferenceListField(
        required=False, help_text="Incident references, e.g. INC-000042, separated by spaces."
    )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        for name in REQUIRED_INPUTS.get(cleaned.get("action", ""), []):
            if cleaned.get(name) in (None, "", []):
                self.add_error(name, "Required for this action.")
        return cleaned


class _ReadOnlyInline[M: Any, P: Any](ReadOnlyAdminMixin, TenantScopedInline[M, P]):
    tenant_admin_access = VIEW
    extra = 0
    can_delete = False
    related: tuple[str, ...] = ()

    def get_queryset(self, request: HttpRequest) -> QuerySet[M]:
        return super().get_queryset(request).select_related(*self.related)


class ChangeEventInline(_ReadOnlyInline[ChangeEvent, Change]):
    model = ChangeEvent
    readonly_fields = ["created_at", "kind", "actor", "from_status", "to_status", "body", "data"]
    fields = tuple(readonly_fields)
    ordering = ["created_at", "id"]
    related = ("actor",)


class ChangeServiceInline(_ReadOnlyInline[ChangeService, Change]):
    model = ChangeService
    verbose_name = "affected service"
    readonly_fields = ["service"]
    fields = tuple(readonly_fields)
    related = ("service",)


class ChangeApprovalInline(_ReadOnlyInline[ChangeApproval, Change]):
    model = ChangeApproval
    verbose_name = "approval decision"
    readonly_fields = ["approval_round", "approver", "decision", "comment", "created_at"]
    fields = tuple(readonly_fields)
    related = ("approver",)


class ChangeFixInline(_ReadOnlyInline[ChangeFix, Change]):
    model = ChangeFix
    verbose_name = "problem or known error fixed"
    readonly_fields = ["problem", "known_error", "linked_by", "created_at"]
    fields = tuple(readonly_fields)
    related = ("problem", "known_error", "linked_by")


class ChangeIncidentInline(_ReadOnlyInline[ChangeIncident, Change]):
    model = ChangeIncident
    verbose_name = "incident caused"
    readonly_fields = ["incident", "linked_by", "created_at"]
    fields = tuple(readonly_fields)
    related = ("incident", "linked_by")


@admin.register(Change)
class ChangeAdmin(ActionAdmin[Change]):
    tenant_admin_access = VIEW  # tenant administrators work changes through the API
    lifecycle_actions = ACTIONS
    action_form = ChangeActionForm
    record_keyword = "change_id"
    list_display = [
        "reference",
        "title",
        "tenant",
        "change_type",
        "status",
        "risk",
        "planned_start",
        "planned_end",
        "owner",
        "created_at",
    ]
    list_filter = ["tenant", "change_type", "status", "risk"]
    list_select_related = ["tenant", "owner"]
    search_fields = ["title", "description"]
    raw_id_fields = ["owner", "implementer"]
    inlines = [
        ChangeServiceInline,
        ChangeApprovalInline,
        ChangeFixInline,
        ChangeIncidentInline,
        ChangeEventInline,
    ]
    fields = [
        "tenant",
        "title",
        "description",
        "change_type",
        "planned_start",
        "planned_end",
        "owner",
        "implementer",
        "implementation_plan",
        "backout_plan",
        "test_plan",
    ]
    readonly_derived = [
        "reference",
        "status",
        "outcome",
        "risk",
        "template",
        "template_version",
        "approval_board",
        "approvals_required",
        "approval_round",
        "actual_start",
        "actual_end",
        "closed_at",
        "version",
    ]

    def get_inlines(self, request: HttpRequest, obj: Any = None) -> Any:
        return self.inlines if obj is not None else []

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return self.fields if obj is None else [*self.fields, *self.readonly_derived]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return [*super().get_readonly_fields(request, obj), *self.readonly_derived] if obj else []

    def create_object(self, request: HttpRequest, tenant: Any, data: dict[str, Any]) -> Change:
        return services.change_create(tenant=tenant, actor=request.user, data=data)

    def update_object(self, request: HttpRequest, instance: Change, data: dict[str, Any]) -> Change:
        return services.change_update(
            tenant=instance.tenant, change_id=instance.pk, actor=request.user, data=data
        )

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # changes are cancelled or closed, never deleted


class TemplateServiceInline(_ReadOnlyInline[TemplateService, ChangeTemplate]):
    model = TemplateService
    verbose_name = "affected service"
    readonly_fields = ["service"]
    fields = tuple(readonly_fields)
    related = ("service",)


@admin.register(ChangeTemplate)
class ChangeTemplateAdmin(ServiceBackedAdmin[ChangeTemplate]):
    """Standard change templates; saved through the services (risk follows, version grows).
    Their services are kept through the API."""

    tenant_admin_access = EDIT
    list_display = ["name", "tenant", "risk", "duration_minutes", "is_active", "version"]
    list_filter = ["tenant", "is_active", "risk"]
    list_select_related = ["tenant"]
    search_fields = ["name"]
    fields = [
        "tenant",
        "name",
        "description",
        "duration_minutes",
        "implementation_plan",
        "backout_plan",
        "test_plan",
        "risk_impact",
        "risk_likelihood",
        "risk_backout",
        "is_active",
    ]
    readonly_fields = ["risk", "version"]
    inlines = [TemplateServiceInline]

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return self.fields if obj is None else [*self.fields, "risk", "version"]

    def get_inlines(self, request: HttpRequest, obj: Any = None) -> Any:
        return self.inlines if obj is not None else []

    def create_object(
        self, request: HttpRequest, tenant: Any, data: dict[str, Any]
    ) -> ChangeTemplate:
        return services.template_create(tenant=tenant, actor=request.user, data=data)

    def update_object(
        self, request: HttpRequest, instance: ChangeTemplate, data: dict[str, Any]
    ) -> ChangeTemplate:
        return services.template_update(
            tenant=instance.tenant, template_id=instance.pk, actor=request.user, data=data
        )

    def delete_object(self, request: HttpRequest, instance: ChangeTemplate) -> None:
        services.template_delete(
            tenant=instance.tenant, template_id=instance.pk, actor=request.user
        )


@admin.register(CabMember)
class CabMemberAdmin(TenantConfigAdmin):
    """Who sits on the change advisory board and on the emergency board."""

    tenant_admin_access = EDIT
    list_display = ["user", "board", "tenant"]
    list_filter = ["tenant", "board"]
    list_select_related = ["tenant", "user"]


@admin.register(ApprovalRule)
class ApprovalRuleAdmin(TenantConfigAdmin):
    """How many approvals, from which board, a change of a type and risk needs."""

    tenant_admin_access = EDIT
    list_display = ["change_type", "risk", "board", "approvals_required", "tenant"]
    list_filter = ["tenant", "change_type", "risk"]


class BlackoutServiceInline(_ReadOnlyInline[BlackoutService, BlackoutWindow]):
    model = BlackoutService
    verbose_name = "covered service"
    readonly_fields = ["service"]
    fields = tuple(readonly_fields)
    related = ("service",)


@admin.register(BlackoutWindow)
class BlackoutWindowAdmin(TenantConfigAdmin):
    """Times no change but an emergency one may be made; without services, for every service."""

    tenant_admin_access = EDIT
    list_display = ["name", "starts_at", "ends_at", "tenant"]
    list_filter = ["tenant"]
    search_fields = ["name"]
    inlines = [BlackoutServiceInline]
