from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from incidents.choices import Impact, ResolutionCode, Urgency
from incidents.models import Incident
from itsm.api.fields import TenantConfigSlugField, TenantMemberField
from itsm.api.serializers import InputSerializer
from itsm.catalog.models import Category, Service
from itsm.tenancy.models import Team
from knowledgebase.models import Article
from problems.choices import (
    SuggestionStatus,
    allowed_known_error_actions,
    allowed_problem_actions,
)
from problems.models import KnownError, Problem, ProblemEvent, ProblemSuggestion, TrendRun
from problems.selectors import DIAGNOSIS_KINDS, Suggestion
from problems.services.knowledge import MAX_ARTICLES_PER_REQUEST
from problems.services.links import MAX_LINKS_PER_REQUEST

MAX_TEXT = 20000


def _slug(**kwargs: Any) -> Any:
    return serializers.SlugRelatedField(slug_field="slug", read_only=True, **kwargs)


def _username(**kwargs: Any) -> Any:
    return serializers.SlugRelatedField(
        slug_field="username", read_only=True, help_text="The user's username.", **kwargs
    )


class ProblemReadSerializer(serializers.ModelSerializer[Problem]):
    """A problem as the API shows it; `priority_label` is the tenant's name for the level."""

    reference = serializers.CharField(read_only=True)
    services = serializers.SerializerMethodField()
    category = _slug()
    problem_manager = _username()
    assignment_team = _slug()
    priority_label = serializers.SerializerMethodField()
    allowed_actions = serializers.SerializerMethodField()
    incident_count = serializers.SerializerMethodField()

    class Meta:
        model = Problem
        fields = [
            "reference",
            "title",
            "description",
            "services",
            "category",
            "impact",
            "urgency",
            "priority",
            "priority_label",
            "status",
            "allowed_actions",
            "problem_manager",
            "assignment_team",
            "root_cause",
            "workaround",
            "fix_notes",
            "review_at",
            "incident_count",
            "created_at",
            "root_cause_identified_at",
            "resolved_at",
            "closed_at",
            "updated_at",
            "version",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.ListField(child=serializers.SlugField()))
    def get_services(self, problem: Problem) -> list[str]:
        """The slugs of the affected services (prefetched by the selector)."""
        return [link.service.slug for link in problem.service_links.all()]

    def get_priority_label(self, problem: Problem) -> str:
        labels: dict[int, str] = self.context.get("priority_labels", {})
        label = labels.get(problem.priority)
        return label if label is not None else problem.get_priority_display()

    def get_allowed_actions(self, problem: Problem) -> list[str]:
        return [str(action) for action in allowed_problem_actions(problem.status)]

    def get_incident_count(self, problem: Problem) -> int:
        return int(getattr(problem, "incident_count", 0))


class ProblemEventSerializer(serializers.ModelSerializer[ProblemEvent]):
    actor = _username()

    class Meta:
        model = ProblemEvent
        fields = ["id", "kind", "actor", "created_at", "from_status", "to_status", "body", "data"]
        read_only_fields = fields


class LinkedIncidentSerializer(serializers.ModelSerializer[Incident]):
    """An incident linked to a problem, as the problem's list of them shows it."""

    reference = serializers.CharField(read_only=True)
    assignee = _username()
    assignment_team = _slug()

    class Meta:
        model = Incident
        fields = [
            "reference",
            "title",
            "status",
            "hold_reason",
            "priority",
            "assignment_team",
            "assignee",
            "created_at",
        ]
        read_only_fields = fields


class KnownErrorReadSerializer(serializers.ModelSerializer[KnownError]):
    reference = serializers.CharField(read_only=True)
    problem = serializers.CharField(source="problem.reference", read_only=True)
    allowed_actions = serializers.SerializerMethodField()

    class Meta:
        model = KnownError
        fields = [
            "reference",
            "problem",
            "title",
            "symptoms",
            "workaround",
            "root_cause",
            "status",
            "allowed_actions",
            "use_count",
            "created_at",
            "published_at",
            "retired_at",
            "updated_at",
            "version",
        ]
        read_only_fields = fields

    def get_allowed_actions(self, known_error: KnownError) -> list[str]:
        return [str(action) for action in allowed_known_error_actions(known_error.status)]


# --- Input ---------------------------------------------------------------------------------------


def _services_field() -> Any:
    return TenantConfigSlugField(Service, many=True, required=False)


def _category_field() -> Any:
    return TenantConfigSlugField(Category, required=False, allow_null=True)


def _team_field() -> Any:
    return TenantConfigSlugField(Team, required=False, allow_null=True)


class ProblemCreateSerializer(InputSerializer):
    title = serializers.CharField(max_length=200)
    description = serializers.CharField(max_length=MAX_TEXT, required=False, allow_blank=True)
    services = _services_field()
    category = _category_field()
    impact = serializers.ChoiceField(choices=Impact.choices, required=False)
    urgency = serializers.ChoiceField(choices=Urgency.choices, required=False)
    problem_manager = TenantMemberField(required=False, allow_null=True)
    assignment_team = _team_field()
    root_cause = serializers.CharField(max_length=MAX_TEXT, required=False, allow_blank=True)
    workaround = serializers.CharField(max_length=MAX_TEXT, required=False, allow_blank=True)
    review_at = serializers.DateTimeField(required=False, allow_null=True)


class ProblemUpdateSerializer(ProblemCreateSerializer):
    title = serializers.CharField(max_length=200, required=False)


class EmptyInputSerializer(InputSerializer):
    """An action that takes no input."""


class ProblemNoteInputSerializer(InputSerializer):
    note = serializers.CharField(max_length=MAX_TEXT, required=False, allow_blank=True, default="")


class ProblemReasonInputSerializer(InputSerializer):
    reason = serializers.CharField(max_length=MAX_TEXT)


class RootCauseInputSerializer(InputSerializer):
    root_cause = serializers.CharField(
        max_length=MAX_TEXT,
        required=False,
        allow_blank=True,
        default="",
        help_text="Required unless the problem already records one.",
    )
    workaround = serializers.CharField(
        max_length=MAX_TEXT, required=False, allow_blank=True, default=""
    )


class ProblemResolveInputSerializer(InputSerializer):
    fix_notes = serializers.CharField(max_length=MAX_TEXT)


class LinkIncidentsInputSerializer(InputSerializer):
    incidents = serializers.ListField(
        child=serializers.CharField(max_length=32),
        min_length=1,
        max_length=MAX_LINKS_PER_REQUEST,
        help_text="Incident references (INC-000042).",
    )
    hold = serializers.BooleanField(
        required=False,
        default=False,
        help_text='Put those in progress on hold "awaiting problem".',
    )


class UnlinkIncidentsInputSerializer(InputSerializer):
    incidents = serializers.ListField(
        child=serializers.CharField(max_length=32),
        min_length=1,
        max_length=MAX_LINKS_PER_REQUEST,
        help_text="Incident references (INC-000042).",
    )


class LinkResultSerializer(serializers.Serializer[Any]):
    changed = serializers.ListField(child=serializers.CharField())
    unchanged = serializers.ListField(child=serializers.CharField())
    held = serializers.ListField(child=serializers.CharField())


class ResolveLinkedInputSerializer(InputSerializer):
    resolution_code = serializers.ChoiceField(
        choices=ResolutionCode.choices, required=False, default=ResolutionCode.FIXED
    )
    resolution_notes = serializers.CharField(
        max_length=MAX_TEXT,
        required=False,
        allow_blank=True,
        default="",
        help_text="Empty: the problem's fix notes.",
    )


class RowResultSerializer(serializers.Serializer[Any]):
    incident = serializers.CharField()
    result = serializers.ChoiceField(choices=["resolved", "refused"])
    code = serializers.CharField()
    message = serializers.CharField()


class KnownErrorCreateSerializer(InputSerializer):
    title = serializers.CharField(
        max_length=200, required=False, allow_blank=True, help_text="Empty: the problem's title."
    )
    symptoms = serializers.CharField(max_length=MAX_TEXT)
    workaround = serializers.CharField(
        max_length=MAX_TEXT, required=False, allow_blank=True, help_text="Empty: the problem's."
    )
    root_cause = serializers.CharField(
        max_length=MAX_TEXT, required=False, allow_blank=True, help_text="Empty: the problem's."
    )


class KnownErrorUpdateSerializer(InputSerializer):
    title = serializers.CharField(max_length=200, required=False)
    symptoms = serializers.CharField(max_length=MAX_TEXT, required=False)
    workaround = serializers.CharField(max_length=MAX_TEXT, required=False)
    root_cause = serializers.CharField(max_length=MAX_TEXT, required=False)


# --- Knowledge: articles linked to records, and the diagnosis aid ------------------------------


class LinkArticlesInputSerializer(InputSerializer):
    articles = serializers.ListField(
        child=serializers.CharField(max_length=32),
        min_length=1,
        max_length=MAX_ARTICLES_PER_REQUEST,
        help_text="Article references (KB-000042).",
    )


class ArticleLinkResultSerializer(serializers.Serializer[Any]):
    changed = serializers.ListField(child=serializers.CharField())
    unchanged = serializers.ListField(child=serializers.CharField())


class LinkedArticleSerializer(serializers.ModelSerializer[Article]):
    """An article linked to a problem, known error or incident."""

    reference = serializers.CharField(read_only=True)

    class Meta:
        model = Article
        fields = ["reference", "title", "summary", "status", "audience", "helped_count"]
        read_only_fields = fields


class SuggestionSerializer(serializers.Serializer[Any]):
    """A published known error or article matching the incident, best first."""

    kind = serializers.ChoiceField(choices=list(DIAGNOSIS_KINDS))
    reference = serializers.CharField(source="item.reference")
    title = serializers.CharField(source="item.title")
    summary = serializers.SerializerMethodField(
        help_text="A known error's symptoms, an article's summary."
    )
    workaround = serializers.SerializerMethodField(help_text="Known errors only; else empty.")
    problem = serializers.SerializerMethodField(help_text="A known error's problem reference.")
    rank = serializers.FloatField()
    applied = serializers.BooleanField(help_text="Already applied on this incident.")

    def get_summary(self, suggestion: Suggestion) -> str:
        item = suggestion.item
        return item.symptoms if isinstance(item, KnownError) else item.summary

    def get_workaround(self, suggestion: Suggestion) -> str:
        item = suggestion.item
        return item.workaround if isinstance(item, KnownError) else ""

    def get_problem(self, suggestion: Suggestion) -> str:
        item = suggestion.item
        return item.problem.reference if isinstance(item, KnownError) else ""


class IncidentProblemSerializer(serializers.Serializer[Any]):
    reference = serializers.CharField()
    title = serializers.CharField()
    status = serializers.CharField()


class DiagnosisSerializer(serializers.Serializer[Any]):
    """What problem management knows about an incident."""

    problem = IncidentProblemSerializer(allow_null=True)
    suggestions = SuggestionSerializer(many=True)
    articles = LinkedArticleSerializer(many=True, help_text="Articles already used on it.")


class ApplyKnowledgeInputSerializer(InputSerializer):
    known_error = serializers.CharField(
        max_length=32, required=False, help_text="A published known error (KE-000042)."
    )
    article = serializers.CharField(
        max_length=32, required=False, help_text="A published article (KB-000042)."
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if ("known_error" in attrs) == ("article" in attrs):
            raise serializers.ValidationError(
                {"known_error": "Name either a known error or an article, not both or neither."}
            )
        return attrs


class AppliedSerializer(serializers.Serializer[Any]):
    reference = serializers.CharField()
    counted = serializers.BooleanField(
        help_text="False when it had been applied on this incident before (counted once)."
    )
    linked_problem = serializers.CharField(
        help_text="The problem the incident was linked to by applying a known error, or empty."
    )


# --- Trend analysis ------------------------------------------------------------------------------


class SuggestionReadSerializer(serializers.ModelSerializer[ProblemSuggestion]):
    reference = serializers.CharField(read_only=True)
    problem = serializers.CharField(source="problem.reference", read_only=True, allow_null=True)
    decided_by = _username()
    last_run: Any = serializers.PrimaryKeyRelatedField(read_only=True)
    allowed_actions = serializers.SerializerMethodField()

    class Meta:
        model = ProblemSuggestion
        fields = [
            "reference",
            "title",
            "status",
            "allowed_actions",
            "score",
            "incident_count",
            "evidence",
            "problem",
            "decided_by",
            "decided_at",
            "reason",
            "last_run",
            "created_at",
            "updated_at",
            "version",
        ]
        read_only_fields = fields

    def get_allowed_actions(self, suggestion: ProblemSuggestion) -> list[str]:
        if suggestion.status != SuggestionStatus.OPEN:
            return []
        return ["accept", "merge", "dismiss"]


class SuggestionAcceptInputSerializer(InputSerializer):
    title = serializers.CharField(
        max_length=200, required=False, help_text="Empty: the suggestion's title."
    )


class SuggestionMergeInputSerializer(InputSerializer):
    problem = serializers.CharField(max_length=32, help_text="The problem (PRB-000042).")


class SuggestionDismissInputSerializer(InputSerializer):
    reason = serializers.CharField(max_length=2000)


class TrendRunSerializer(serializers.ModelSerializer[TrendRun]):
    requested_by = _username()
    seconds = serializers.FloatField(read_only=True, allow_null=True)

    class Meta:
        model = TrendRun
        fields = [
            "id",
            "status",
            "trigger",
            "requested_by",
            "window_start",
            "window_end",
            "incidents_considered",
            "clusters_found",
            "suggestions_created",
            "suggestions_updated",
            "progress",
            "stage",
            "error",
            "created_at",
            "started_at",
            "finished_at",
            "seconds",
        ]
        read_only_fields = fields


class SimilarIncidentSerializer(serializers.Serializer[Any]):
    reference = serializers.CharField(source="incident.reference")
    title = serializers.CharField(source="incident.title")
    status = serializers.CharField(source="incident.status")
    created_at = serializers.DateTimeField(source="incident.created_at")
    problem = serializers.SerializerMethodField()
    score = serializers.FloatField()

    def get_problem(self, similar: Any) -> str | None:
        link = getattr(similar.incident, "problem_link", None)
        return link.problem.reference if link is not None else None
