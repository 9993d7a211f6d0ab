from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from changes.choices import (
    ApprovalBoard,
    ChangeOutcome,
    ChangeType,
    Risk,
    RiskFactor,
    allowed_change_actions,
)
from changes.models import (
    ApprovalRule,
    CabMember,
    Change,
    ChangeApproval,
    ChangeEvent,
    ChangeTemplate,
)
from changes.services.links import MAX_LINKS_PER_REQUEST
from itsm.api.fields import TenantConfigSlugField, TenantMemberField
from itsm.api.serializers import InputSerializer
from itsm.catalog.models import Service

MAX_TEXT = 20000


def _username(**kwargs: Any) -> Any:
    return serializers.SlugRelatedField(
        slug_field="username", read_only=True, help_text="The user's username.", **kwargs
    )


def _service_slugs(owner: Any) -> list[str]:
    return [link.service.slug for link in owner.service_links.all()]


class ChangeReadSerializer(serializers.ModelSerializer[Change]):
    """A change as the API shows it."""

    reference = serializers.CharField(read_only=True)
    services = serializers.SerializerMethodField()
    owner = _username()
    implementer = _username()
    allowed_actions = serializers.SerializerMethodField()
    fixes_problems = serializers.SerializerMethodField()
    fixes_known_errors = serializers.SerializerMethodField()
    caused_incidents = serializers.SerializerMethodField()

    class Meta:
        model = Change
        fields = [
            "reference",
            "title",
            "description",
            "change_type",
            "status",
            "allowed_actions",
            "outcome",
            "services",
            "fixes_problems",
            "fixes_known_errors",
            "caused_incidents",
            "planned_start",
            "planned_end",
            "actual_start",
            "actual_end",
            "owner",
            "implementer",
            "implementation_plan",
            "backout_plan",
            "test_plan",
            "risk_impact",
            "risk_likelihood",
            "risk_backout",
            "risk",
            "template",
            "template_version",
            "approval_board",
            "approvals_required",
            "approval_round",
            "created_at",
            "closed_at",
            "updated_at",
            "version",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.ListField(child=serializers.SlugField()))
    def get_services(self, change: Change) -> list[str]:
        """The slugs of the affected services (prefetched by the selector)."""
        return _service_slugs(change)

    def get_allowed_actions(self, change: Change) -> list[str]:
        return [str(a) for a in allowed_change_actions(change.status, change.change_type)]

    # The links (prefetched by the selector), by reference: PRB-…, KE-…, INC-….

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_fixes_problems(self, change: Change) -> list[str]:
        return [fix.problem.reference for fix in change.fixes.all() if fix.problem is not None]

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_fixes_known_errors(self, change: Change) -> list[str]:
        return [
            fix.known_error.reference for fix in change.fixes.all() if fix.known_error is not None
        ]

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_caused_incidents(self, change: Change) -> list[str]:
        return [link.incident.reference for link in change.caused_incidents.all()]


class LinkedChangeSerializer(serializers.ModelSerializer[Change]):
    """A change as the other end of a link shows it (a problem's fixes, an incident's cause)."""

    reference = serializers.CharField(read_only=True)

    class Meta:
        model = Change
        fields = [
            "reference",
            "title",
            "change_type",
            "status",
            "outcome",
            "risk",
            "planned_start",
            "planned_end",
            "closed_at",
        ]
        read_only_fields = fields


class ConflictSerializer(serializers.Serializer[Any]):
    kind = serializers.CharField()
    message = serializers.CharField()
    reference = serializers.CharField()
    starts_at = serializers.DateTimeField(allow_null=True)
    ends_at = serializers.DateTimeField(allow_null=True)


class ScheduledChangeSerializer(ChangeReadSerializer):
    """The change after a step that may schedule it, with the conflicts (warnings) found."""

    conflicts = serializers.SerializerMethodField()

    class Meta(ChangeReadSerializer.Meta):
        fields = [*ChangeReadSerializer.Meta.fields, "conflicts"]
        read_only_fields = fields

    @extend_schema_field(ConflictSerializer(many=True))
    def get_conflicts(self, change: Change) -> list[dict[str, Any]]:
        found = self.context.get("conflicts", [])
        return list(ConflictSerializer(found, many=True).data)


class ChangeEventSerializer(serializers.ModelSerializer[ChangeEvent]):
    actor = _username()

    class Meta:
        model = ChangeEvent
        fields = ["id", "kind", "actor", "created_at", "from_status", "to_status", "body", "data"]
        read_only_fields = fields


class ChangeApprovalSerializer(serializers.ModelSerializer[ChangeApproval]):
    approver = _username()

    class Meta:
        model = ChangeApproval
        fields = ["id", "approver", "approval_round", "decision", "comment", "created_at"]
        read_only_fields = fields


# --- Input ---------------------------------------------------------------------------------------


def _services_field() -> Any:
    return TenantConfigSlugField(Service, many=True, required=False)


def _text() -> Any:
    return serializers.CharField(max_length=MAX_TEXT, required=False, allow_blank=True)


class ChangeCreateSerializer(InputSerializer):
    title = serializers.CharField(max_length=200)
    description = _text()
    change_type = serializers.ChoiceField(
        choices=[ChangeType.NORMAL, ChangeType.EMERGENCY],
        required=False,
        help_text="Standard changes are made from a template.",
    )
    services = _services_field()
    planned_start = serializers.DateTimeField(required=False, allow_null=True)
    planned_end = serializers.DateTimeField(required=False, allow_null=True)
    owner = TenantMemberField(required=False, allow_null=True)
    implementer = TenantMemberField(required=False, allow_null=True)
    implementation_plan = _text()
    backout_plan = _text()
    test_plan = _text()

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        start, end = attrs.get("planned_start"), attrs.get("planned_end")
        if start is not None and end is not None and end <= start:
            raise serializers.ValidationError({"planned_end": ["Must be after the start."]})
        return attrs


class ChangeUpdateSerializer(ChangeCreateSerializer):
    title = serializers.CharField(max_length=200, required=False)


class EmptyInputSerializer(InputSerializer):
    """An action that takes no input."""


class ChangeNoteInputSerializer(InputSerializer):
    note = serializers.CharField(max_length=MAX_TEXT, required=False, allow_blank=True, default="")


class CloseInputSerializer(ChangeNoteInputSerializer):
    outcome = serializers.ChoiceField(choices=ChangeOutcome.choices)


class CancelInputSerializer(InputSerializer):
    reason = serializers.CharField(max_length=MAX_TEXT)


class RiskInputSerializer(InputSerializer):
    risk_impact = serializers.ChoiceField(choices=RiskFactor.choices)
    risk_likelihood = serializers.ChoiceField(choices=RiskFactor.choices)
    risk_backout = serializers.ChoiceField(choices=RiskFactor.choices)


class ApproveInputSerializer(InputSerializer):
    comment = serializers.CharField(max_length=5000, required=False, allow_blank=True, default="")


class RejectInputSerializer(InputSerializer):
    comment = serializers.CharField(max_length=5000)


def _references(help_text: str, *, required: bool = True) -> Any:
    return serializers.ListField(
        child=serializers.CharField(max_length=32),
        min_length=1 if required else 0,
        max_length=MAX_LINKS_PER_REQUEST,
        required=required,
        default=list if not required else serializers.empty,
        help_text=help_text,
    )


class LinkProblemsInputSerializer(InputSerializer):
    problems = _references("Problem references (PRB-000042).", required=False)
    known_errors = _references("Known error references (KE-000042).", required=False)


class IncidentsInputSerializer(InputSerializer):
    incidents = _references("Incident references (INC-000042).")


class ChangeLinkResultSerializer(serializers.Serializer[Any]):
    changed = serializers.ListField(child=serializers.CharField())
    unchanged = serializers.ListField(child=serializers.CharField())


# --- Configuration -------------------------------------------------------------------------------


class ChangeTemplateReadSerializer(serializers.ModelSerializer[ChangeTemplate]):
    services = serializers.SerializerMethodField()

    class Meta:
        model = ChangeTemplate
        fields = [
            "id",
            "name",
            "description",
            "services",
            "duration_minutes",
            "implementation_plan",
            "backout_plan",
            "test_plan",
            "risk_impact",
            "risk_likelihood",
            "risk_backout",
            "risk",
            "is_active",
            "version",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.ListField(child=serializers.SlugField()))
    def get_services(self, template: ChangeTemplate) -> list[str]:
        return _service_slugs(template)


class ChangeTemplateWriteSerializer(InputSerializer):
    name = serializers.CharField(max_length=200)
    description = _text()
    services = _services_field()
    duration_minutes = serializers.IntegerField(min_value=1, max_value=60 * 24 * 14, required=False)
    implementation_plan = _text()
    backout_plan = _text()
    test_plan = _text()
    risk_impact = serializers.ChoiceField(
        choices=RiskFactor.choices, required=False, allow_null=True
    )
    risk_likelihood = serializers.ChoiceField(
        choices=RiskFactor.choices, required=False, allow_null=True
    )
    risk_backout = serializers.ChoiceField(
        choices=RiskFactor.choices, required=False, allow_null=True
    )
    is_active = serializers.BooleanField(required=False)


class CreateFromTemplateInputSerializer(InputSerializer):
    title = serializers.CharField(
        max_length=200, required=False, allow_blank=True, help_text="Empty: the template's name."
    )
    description = _text()
    planned_start = serializers.DateTimeField(
        required=False, allow_null=True, help_text="The window lasts the template's duration."
    )
    owner = TenantMemberField(required=False, allow_null=True)
    implementer = TenantMemberField(required=False, allow_null=True)


class CabMemberReadSerializer(serializers.ModelSerializer[CabMember]):
    user = _username()

    class Meta:
        model = CabMember
        fields = ["id", "user", "board", "created_at"]
        read_only_fields = fields


class CabMemberWriteSerializer(InputSerializer):
    user = TenantMemberField()
    board = serializers.ChoiceField(
        choices=ApprovalBoard.choices, required=False, default=ApprovalBoard.CAB
    )


class ApprovalRuleReadSerializer(serializers.ModelSerializer[ApprovalRule]):
    class Meta:
        model = ApprovalRule
        fields = ["id", "change_type", "risk", "board", "approvals_required"]
        read_only_fields = fields


class ApprovalRuleWriteSerializer(InputSerializer):
    change_type = serializers.ChoiceField(choices=[ChangeType.NORMAL, ChangeType.EMERGENCY])
    risk = serializers.ChoiceField(choices=Risk.choices)
    board = serializers.ChoiceField(choices=ApprovalBoard.choices, required=False)
    approvals_required = serializers.IntegerField(min_value=1, max_value=20, required=False)
