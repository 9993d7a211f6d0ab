from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from incidents import sla
from incidents.choices import (
    DEFAULT_PRIORITY_LABELS,
    SLA_NEVER_DUE,
    EscalationKind,
    HoldReason,
    Impact,
    IncidentSource,
    ResolutionCode,
    Urgency,
    allowed_actions,
)
from incidents.models import Incident, IncidentEvent, SlaClock, SlaPolicy
from itsm.api.fields import TenantConfigSlugField, TenantMemberField, TenantSlugRelatedField
from itsm.api.serializers import FieldsBuiltOnceMixin, InputSerializer, ModelInputSerializer
from itsm.calendars.models import BusinessCalendar
from itsm.calendars.selectors import calendar_schedule
from itsm.catalog.models import Category, Service
from itsm.tenancy.choices import MembershipRole
from itsm.tenancy.models import Team

MAX_TEXT = 20000


def _slug(**kwargs: Any) -> Any:
    return serializers.SlugRelatedField(slug_field="slug", read_only=True, **kwargs)


def _username(**kwargs: Any) -> Any:
    # help_text: the User model's own ("Required. 150 characters…") is about its form.
    return serializers.SlugRelatedField(
        slug_field="username", read_only=True, help_text="The user's username.", **kwargs
    )


class SlaClockSerializer(FieldsBuiltOnceMixin, serializers.ModelSerializer[SlaClock]):
    """A clock as of now: `remaining_seconds` is negative once overdue."""

    policy = _slug()
    state = serializers.SerializerMethodField()
    remaining_seconds = serializers.SerializerMethodField()
    is_breached = serializers.SerializerMethodField()

    class Meta:
        model = SlaClock
        fields = [
            "kind",
            "policy",
            "state",
            "target",
            "started_at",
            "due_at",
            "remaining_seconds",
            "is_breached",
            "breached_at",
            "elapsed",
            "paused_total",
            "stopped_at",
        ]
        read_only_fields = fields

    def get_state(self, clock: SlaClock) -> str:
        if clock.stopped_at is not None:
            return "stopped"
        return "paused" if clock.paused_since is not None else "running"

    def get_remaining_seconds(self, clock: SlaClock) -> int:
        schedule = calendar_schedule(calendar=clock.policy.calendar)
        return int(sla.clock_remaining(clock, schedule, timezone.now()).total_seconds())

    def get_is_breached(self, clock: SlaClock) -> bool:
        return clock.breached_at is not None


class IncidentReadSerializer(FieldsBuiltOnceMixin, serializers.ModelSerializer[Incident]):
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
    sla_due_at = serializers.SerializerMethodField()

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
            "functional_escalation_count",
            "hierarchical_escalation_count",
            "reassignment_count",
            "reopen_count",
            "first_contact_resolution",
            "sla_due_at",
            "sla_breached",
            "version",
        ]
        read_only_fields = fields

    def get_sla_due_at(self, incident: Incident) -> datetime | None:
        """The earliest due time of a running clock; null when none runs."""
        return None if incident.sla_due_at == SLA_NEVER_DUE else incident.sla_due_at

    def get_priority_label(self, incident: Incident) -> str:
        # The tenant's labels, from its cached configuration (loaded on first need only).
        labels: Callable[[], dict[int, str]] = self.context["priority_labels"]
        label = labels().get(incident.priority)
        return label if label is not None else DEFAULT_PRIORITY_LABELS[incident.priority][0]

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
            "sla_due_at",
            "sla_breached",
            "version",
        ]
        read_only_fields = fields


class LinkedProblemSerializer(serializers.Serializer[Any]):
    """The problem an incident is linked to."""

    reference = serializers.CharField()
    title = serializers.CharField()
    status = serializers.CharField()


class IncidentDetailSerializer(IncidentReadSerializer):
    """The detail adds the incident's SLA clocks and the problem it is linked to."""

    sla_clocks = serializers.SerializerMethodField()
    problem = serializers.SerializerMethodField()

    class Meta(IncidentReadSerializer.Meta):
        fields = [*IncidentReadSerializer.Meta.fields, "sla_clocks", "problem"]
        read_only_fields = fields

    @extend_schema_field(SlaClockSerializer(many=True))
    def get_sla_clocks(self, incident: Incident) -> Any:
        return SlaClockSerializer(incident.sla_clocks.all(), many=True).data

    @extend_schema_field(LinkedProblemSerializer(allow_null=True))
    def get_problem(self, incident: Incident) -> dict[str, str] | None:
        # The link row lives in problems, the higher app: read it through the reverse one-to-one
        # (`problem_link`), which needs no import of problems. Requesters see no problems.
        membership = getattr(self.context.get("request"), "membership", None)
        if membership is not None and membership.role == MembershipRole.REQUESTER:
            return None
        link: Any = getattr(incident, "problem_link", None)
        if link is None:
            return None
        problem = link.problem
        return {"reference": problem.reference, "title": problem.title, "status": problem.status}


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


def _service_field() -> Any:
    return TenantConfigSlugField(Service, required=False, allow_null=True)


def _category_field() -> Any:
    return TenantConfigSlugField(Category, required=False, allow_null=True)


def _team_field(**kwargs: Any) -> Any:
    return TenantConfigSlugField(Team, **kwargs)


class IncidentCreateSerializer(InputSerializer):
    """What an agent records."""

    title = serializers.CharField(max_length=200)
    description = serializers.CharField(max_length=MAX_TEXT, required=False, allow_blank=True)
    service = _service_field()
    category = _category_field()
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
    service = _service_field()
    category = _category_field()
    impact = serializers.ChoiceField(choices=Impact.choices, required=False)
    urgency = serializers.ChoiceField(choices=Urgency.choices, required=False)


class IncidentUpdateSerializer(InputSerializer):
    """Descriptive fields only: status, priority and routing change through actions."""

    title = serializers.CharField(max_length=200, required=False)
    description = serializers.CharField(max_length=MAX_TEXT, required=False, allow_blank=True)
    service = _service_field()
    category = _category_field()
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


# --- SLA policies ------------------------------------------------------------------------------


SLA_POLICY_FIELDS = [
    "slug",
    "name",
    "order",
    "is_active",
    "priorities",
    "service",
    "category",
    "response_target",
    "resolution_target",
    "calendar",
    "pause_hold_reasons",
    "warning_thresholds",
    "breach_action",
]


class SlaPolicyReadSerializer(serializers.ModelSerializer[SlaPolicy]):
    service = _slug()
    category = _slug()
    calendar = _slug()

    class Meta:
        model = SlaPolicy
        fields = [*SLA_POLICY_FIELDS, "created_at", "updated_at"]
        read_only_fields = fields


class SlaPolicyWriteSerializer(ModelInputSerializer):
    service = _service_field()
    category = _category_field()
    calendar = TenantSlugRelatedField(
        slug_field="slug",
        queryset=BusinessCalendar.objects.all(),
        required=False,
        allow_null=True,
    )
    priorities = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=4), required=False
    )
    warning_thresholds = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=99), required=False
    )
    pause_hold_reasons = serializers.ListField(
        child=serializers.ChoiceField(choices=HoldReason.choices), required=False
    )

    class Meta:
        model = SlaPolicy
        fields = SLA_POLICY_FIELDS


class ComplianceSerializer(serializers.Serializer[Any]):
    kind = serializers.CharField()
    met = serializers.IntegerField()
    breached = serializers.IntegerField()
    running = serializers.IntegerField()
    rate = serializers.FloatField(allow_null=True)


class CompliancePeriodSerializer(InputSerializer):
    since = serializers.DateTimeField()
    until = serializers.DateTimeField()

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["until"] <= attrs["since"]:
            raise serializers.ValidationError({"until": ["Must be after since."]})
        return attrs
