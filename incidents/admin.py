"""Incidents in admin: read-mostly lists, and for platform administrators every lifecycle step
through the same services as the API (the "Act on this incident" page); tenant administrators
read their tenant's incidents here (they work them in the workspace) and edit its incident
configuration: SLA policies, the priority matrix and labels, the incident settings."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest

from incidents import services
from incidents.choices import (
    EscalationKind,
    HoldReason,
    Impact,
    Priority,
    ResolutionCode,
    Urgency,
)
from incidents.models import (
    Incident,
    IncidentEvent,
    IncidentSettings,
    PriorityLabel,
    PriorityMatrixCell,
    SlaClock,
    SlaPolicy,
)
from itsm.admin_site import (
    EDIT,
    VIEW,
    ActionAdmin,
    ActionForm,
    ActionTable,
    ReadOnlyAdminMixin,
    TenantAdminForm,
    TenantConfigAdmin,
    TenantScopedInline,
)
from itsm.tenancy.models import Team
from itsm.tenancy.selectors import agent_list

ACTIONS: ActionTable = {
    "acknowledge": (services.incident_acknowledge, []),
    "assign": (services.incident_assign, ["team", "assignee"]),
    "escalate": (services.incident_escalate, ["kind", "team", "reason"]),
    "hold": (services.incident_hold, ["hold_reason", "note"]),
    "resume": (services.incident_resume, ["note"]),
    "resolve": (services.incident_resolve, ["resolution_code", "resolution_notes"]),
    "close": (services.incident_close, ["note"]),
    "reopen": (services.incident_reopen, ["reason"]),
    "cancel": (services.incident_cancel, ["reason"]),
    "change_priority": (services.incident_change_priority, ["impact", "urgency", "reason"]),
    "declare_major": (services.incident_declare_major, ["commander", "reason"]),
}


class IncidentActionForm(ActionForm):
    """Every input any incident action takes."""

    team = forms.ModelChoiceField(queryset=Team.objects.none(), required=False)
    assignee = forms.ModelChoiceField(queryset=get_user_model().objects.none(), required=False)
    commander = forms.ModelChoiceField(queryset=get_user_model().objects.none(), required=False)
    kind = forms.ChoiceField(choices=EscalationKind.choices, required=False)
    hold_reason = forms.ChoiceField(choices=[("", "—"), *HoldReason.choices], required=False)
    resolution_code = forms.ChoiceField(
        choices=[("", "—"), *ResolutionCode.choices], required=False
    )
    impact = forms.TypedChoiceField(choices=Impact.choices, coerce=int, required=False)
    urgency = forms.TypedChoiceField(choices=Urgency.choices, coerce=int, required=False)
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)
    note = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)
    resolution_notes = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)

    def __init__(self, *args: Any, obj: Incident, **kwargs: Any) -> None:
        super().__init__(*args, obj=obj, **kwargs)
        # Who may be assigned or named commander: the tenant's agents, never a requester.
        users = agent_list(tenant=obj.tenant)
        self.fields["team"].queryset = Team.objects.for_tenant(obj.tenant_id)  # type: ignore[attr-defined]
        self.fields["assignee"].queryset = users  # type: ignore[attr-defined]
        self.fields["commander"].queryset = users  # type: ignore[attr-defined]


class IncidentEventInline(ReadOnlyAdminMixin, TenantScopedInline[IncidentEvent, Incident]):
    tenant_admin_access = VIEW
    model = IncidentEvent
    readonly_fields = [
        "created_at",
        "kind",
        "actor",
        "is_public",
        "from_status",
        "to_status",
        "body",
        "data",
    ]
    fields = tuple(readonly_fields)
    extra = 0
    can_delete = False
    ordering = ["created_at", "id"]


class SlaClockInline(ReadOnlyAdminMixin, TenantScopedInline[SlaClock, Incident]):
    """The incident's SLA clocks, as the engine keeps them: read-only."""

    tenant_admin_access = VIEW

    model = SlaClock
    readonly_fields = [
        "kind",
        "policy",
        "target",
        "started_at",
        "due_at",
        "elapsed",
        "paused_total",
        "breached_at",
        "stopped_at",
    ]
    fields = tuple(readonly_fields)
    extra = 0
    can_delete = False
    ordering = ["kind"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[SlaClock]:
        return super().get_queryset(request).select_related("policy")


@admin.register(Incident)
class IncidentAdmin(ActionAdmin[Incident]):
    tenant_admin_access = VIEW  # tenant administrators work incidents in the workspace
    lifecycle_actions = ACTIONS
    action_form = IncidentActionForm
    record_keyword = "incident_id"
    list_display = [
        "reference",
        "title",
        "tenant",
        "status",
        "priority",
        "assignment_team",
        "assignee",
        "is_major",
        "created_at",
    ]
    list_filter = ["tenant", "status", "priority", "source", "is_major"]
    list_select_related = ["tenant", "assignment_team", "assignee"]
    search_fields = ["title", "description"]
    raw_id_fields = [
        "service",
        "category",
        "reported_by",
        "assignment_team",
        "assignee",
        "commander",
    ]
    inlines = [SlaClockInline, IncidentEventInline]

    def get_inlines(self, request: HttpRequest, obj: Any = None) -> Any:
        return self.inlines if obj is not None else []  # nothing to show before it exists

    fields = [
        "tenant",
        "title",
        "description",
        "service",
        "category",
        "reported_by",
        "source",
        "impact",
        "urgency",
        "occurred_at",
        "detected_at",
        "assignment_team",
        "assignee",
    ]
    readonly_derived = [
        "reference",
        "status",
        "hold_reason",
        "priority",
        "is_major",
        "commander",
        "resolution_code",
        "resolution_notes",
        "acknowledged_at",
        "first_assigned_at",
        "resolved_at",
        "closed_at",
        "escalation_count",
        "functional_escalation_count",
        "hierarchical_escalation_count",
        "reassignment_count",
        "reopen_count",
        "first_contact_resolution",
        "version",
    ]

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            return self.fields
        editable = sorted(services.EDITABLE_FIELDS, key=self.fields.index)
        return ["tenant", *editable, *self.readonly_derived]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return [*super().get_readonly_fields(request, obj), *self.readonly_derived] if obj else []

    def create_object(self, request: HttpRequest, tenant: Any, data: dict[str, Any]) -> Incident:
        return services.incident_create(tenant=tenant, actor=request.user, data=data)

    def update_object(
        self, request: HttpRequest, instance: Incident, data: dict[str, Any]
    ) -> Incident:
        return services.incident_update(
            tenant=instance.tenant, incident_id=instance.pk, actor=request.user, data=data
        )

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # incidents are cancelled or closed, never deleted


@admin.register(PriorityMatrixCell)
class PriorityMatrixCellAdmin(TenantConfigAdmin):
    """A tenant's overrides of the default impact × urgency matrix."""

    tenant_admin_access = EDIT

    list_display = ["tenant", "impact", "urgency", "priority"]


@admin.register(PriorityLabel)
class PriorityLabelAdmin(TenantConfigAdmin):
    """A tenant's names for the priority levels."""

    tenant_admin_access = EDIT

    list_display = ["tenant", "priority", "label", "description"]


@admin.register(IncidentSettings)
class IncidentSettingsAdmin(TenantConfigAdmin):
    """A tenant's reopen window and auto-close period."""

    tenant_admin_access = EDIT

    list_display = ["tenant", "reopen_window", "auto_close_after"]


class ThresholdsField(forms.Field):
    """Warning thresholds typed as whole percentages separated by commas ("50, 75, 90"), kept as
    the JSON list of numbers the policy stores; the model says which numbers are allowed."""

    widget = forms.TextInput

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, list | tuple):
            return ", ".join(str(number) for number in value)
        return value

    def to_python(self, value: Any) -> list[int]:
        if isinstance(value, list):
            return value
        text = str(value or "").strip().strip("[]")
        try:
            numbers = [int(part) for part in text.replace(";", ",").split(",") if part.strip()]
        except ValueError:
            raise ValidationError(
                "Give whole percentages separated by commas, e.g. 50, 75, 90.", code="invalid"
            ) from None
        return sorted(set(numbers))


class SlaPolicyAdminForm(TenantAdminForm):
    """Choices as boxes to tick, stored as the same JSON lists."""

    priorities = forms.TypedMultipleChoiceField(
        choices=Priority.choices,
        coerce=int,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="None ticked: every priority.",
    )
    pause_hold_reasons = forms.MultipleChoiceField(
        choices=HoldReason.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="While an incident is on hold for one of these, its clocks stop.",
    )
    warning_thresholds = ThresholdsField(
        required=False,
        help_text="Percent of the target at which to warn, below 100, e.g. 50, 75, 90.",
    )


@admin.register(SlaPolicy)
class SlaPolicyAdmin(TenantConfigAdmin):
    """A tenant's SLA policies; running clocks keep the targets they started with."""

    tenant_admin_access = EDIT
    form = SlaPolicyAdminForm

    list_display = [
        "name",
        "tenant",
        "order",
        "priorities",
        "response_target",
        "resolution_target",
        "breach_action",
    ]
    list_filter = ["tenant", "is_active", "breach_action"]
    list_select_related = ["tenant"]
    search_fields = ["name", "slug"]
    ordering = ["tenant", "order", "id"]
    raw_id_fields = ["service", "category", "calendar"]
