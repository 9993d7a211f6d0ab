from typing import Any

from rest_framework import serializers

from incidents.choices import (
    EscalationKind,
    HoldReason,
    Impact,
    IncidentSource,
    ResolutionCode,
    Urgency,
    allowed_actions,
)
from incidents.models import Incident, IncidentEvent
from itsm.api.fields import TenantMemberField, TenantSlugRelatedField
from itsm.api.serializers import InputSerializer
from itsm.catalog.models import Category, Service
from itsm.tenancy.models import Team

MAX_TEXT = 20000


def _slug(**kwargs: Any) -> Any:
    return serializers.SlugRelatedField(slug_field="slug", read_only=True, **kwargs)


def _username(**kwargs: Any) -> Any:
    return serializers.SlugRelatedField(slug_field="username", read_only=True, **kwargs)


class IncidentReadSerializer(serializers.ModelSerializer[Incident]):
    """An incident as the API shows it; `priority_label` is the tenant's name for the level."""

    reference = serializers.CharField(read_only=True)
    service = _slug()
    category = _slug()
    reported_by = _username()
    assignment_team = _slug()
    assignee = _username()
    commander = _username()
    priority_label = serializers.SerializerMethodField()
    allowed_actions = serializers.SerializerMethodField()

    class Meta:
        model = Incident
        fields = [
            "reference",
            "title",
            "description",
            "service",
            "category",
            "reported_by",
            "source",
            "impact",
            "urgency",
            "priority",
            "priority_label",
            "status",
            "hold_reason",
            "allowed_actions",
            "assignment_team",
            "assignee",
            "is_major",
            "commander",
            "resolution_code",
            "resolution_notes",
            "occurred_at",
            "detected_at",
            "created_at",
            "acknowledged_at",
            "first_assigned_at",
            "major_declared_at",
            "management_engaged_at",
            "resolved_at",
            "closed_at",
            "updated_at",
            "escalation_count",
            "reassignment_count",
            "reopen_count",
            "first_contact_resolution",
            "version",
        ]
        read_only_fields = fields

    def get_priority_label(self, incident: Incident) -> str:
        labels: dict[int, str] = self.context.get("priority_labels", {})
        label = labels.get(incident.priority)
        return label if label is not None else incident.get_priority_display()

    def get_allowed_actions(self, incident: Incident) -> list[str]:
        return [str(action) for action in allowed_actions(incident.status)]


class IncidentListSerializer(IncidentReadSerializer):
    """The columns of an incident list; the detail carries everything."""

    class Meta(IncidentReadSerializer.Meta):
        fields = [
            "reference",
            "title",
            "service",
            "category",
            "reported_by",
            "source",
            "priority",
            "priority_label",
            "status",
            "hold_reason",
            "assignment_team",
            "assignee",
            "is_major",
            "created_at",
            "updated_at",
            "resolved_at",
            "version",
        ]
        read_only_fields = fields


class IncidentEventSerializer(serializers.ModelSerializer[IncidentEvent]):
    actor = _username()

    class Meta:
        model = IncidentEvent
        fields = [
            "id",
            "kind",
            "actor",
            "created_at",
            "is_public",
            "from_status",
            "to_status",
            "body",
            "data",
        ]
        read_only_fields = fields


def _team_field(**kwargs: Any) -> Any:
    return TenantSlugRelatedField(slug_field="slug", queryset=Team.objects.all(), **kwargs)


class IncidentCreateSerializer(InputSerializer):
    """What an agent records."""

    title = serializers.CharField(max_length=200)
    description = serializers.CharField(max_length=MAX_TEXT, required=False, allow_blank=True)
    service = TenantSlugRelatedField(
        slug_field="slug", queryset=Service.objects.all(), required=False, allow_null=True
    )
    category = TenantSlugRelatedField(
        slug_field="slug", queryset=Category.objects.all(), required=False, allow_null=True
    )
    reported_by = TenantMemberField(required=False)
    source = serializers.ChoiceField(  # type: ignore[assignment]  # shadows Field.source for mypy only
        choices=IncidentSource.choices, required=False
    )
    impact = serializers.ChoiceField(choices=Impact.choices, required=False)
    urgency = serializers.ChoiceField(choices=Urgency.choices, required=False)
    occurred_at = serializers.DateTimeField(required=False, allow_null=True)
    detected_at = serializers.DateTimeField(required=False, allow_null=True)
    assignment_team = _team_field(required=False, allow_null=True)
    assignee = TenantMemberField(required=False, allow_null=True)


class RequesterIncidentCreateSerializer(InputSerializer):
    """What an end user reports: they are the reporter, and routing is the service desk's."""

    title = serializers.CharField(max_length=200)
    description = serializers.CharField(max_length=MAX_TEXT, required=False, allow_blank=True)
    service = TenantSlugRelatedField(
        slug_field="slug", queryset=Service.objects.all(), required=False, allow_null=True
    )
    category = TenantSlugRelatedField(
        slug_field="slug", queryset=Category.objects.all(), required=False, allow_null=True
    )
    impact = serializers.ChoiceField(choices=Impact.choices, required=False)
    urgency = serializers.ChoiceField(choices=Urgency.choices, required=False)


class IncidentUpdateSerializer(InputSerializer):
    """Descriptive fields only: status, priority and routing change through actions."""

    title = serializers.CharField(max_length=200, required=False)
    description = serializers.CharField(max_length=MAX_TEXT, required=False, allow_blank=True)
    service = TenantSlugRelatedField(
        slug_field="slug", queryset=Service.objects.all(), required=False, allow_null=True
    )
    category = TenantSlugRelatedField(
        slug_field="slug", queryset=Category.objects.all(), required=False, allow_null=True
    )
    source = serializers.ChoiceField(  # type: ignore[assignment]  # shadows Field.source for mypy only
        choices=IncidentSource.choices, required=False
    )
    occurred_at = serializers.DateTimeField(required=False, allow_null=True)
    detected_at = serializers.DateTimeField(required=False, allow_null=True)


class EmptyInputSerializer(InputSerializer):
    """An action that takes no input (acknowledge)."""


class NoteInputSerializer(InputSerializer):
    note = serializers.CharField(max_length=MAX_TEXT, required=False, allow_blank=True, default="")


class AssignInputSerializer(InputSerializer):
    team = _team_field(required=False, allow_null=True)
    assignee = TenantMemberField(required=False, allow_null=True)


class EscalateInputSerializer(InputSerializer):
    kind = serializers.ChoiceField(
        choices=EscalationKind.choices, required=False, default=EscalationKind.FUNCTIONAL
    )
    team = _team_field(required=False, allow_null=True)
    reason = serializers.CharField(max_length=MAX_TEXT)


class HoldInputSerializer(InputSerializer):
    hold_reason = serializers.ChoiceField(choices=HoldReason.choices)
    note = serializers.CharField(max_length=MAX_TEXT, required=False, allow_blank=True, default="")


class ResolveInputSerializer(InputSerializer):
    resolution_code = serializers.ChoiceField(choices=ResolutionCode.choices)
    resolution_notes = serializers.CharField(max_length=MAX_TEXT)


class ReasonInputSerializer(InputSerializer):
    reason = serializers.CharField(max_length=MAX_TEXT)


class OptionalReasonInputSerializer(InputSerializer):
    reason = serializers.CharField(
        max_length=MAX_TEXT, required=False, allow_blank=True, default=""
    )


class PriorityInputSerializer(InputSerializer):
    impact = serializers.ChoiceField(choices=Impact.choices)
    urgency = serializers.ChoiceField(choices=Urgency.choices)
    reason = serializers.CharField(max_length=MAX_TEXT)


class CommentInputSerializer(InputSerializer):
    body = serializers.CharField(max_length=MAX_TEXT)


class DeclareMajorInputSerializer(InputSerializer):
    commander = TenantMemberField()
    reason = serializers.CharField(max_length=MAX_TEXT)
