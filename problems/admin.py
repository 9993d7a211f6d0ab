"""Problems and known errors in admin: read-mostly. Platform administrators record and edit
problems and edit known errors through the same services as the API; tenant administrators
read their tenant's here (they work them through the API and, later, the workspace). Timelines,
affected services and incident links are shown read-only: only services write them."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from itsm.admin_site import (
    EDIT,
    VIEW,
    ReadOnlyAdminMixin,
    ServiceBackedAdmin,
    TenantConfigAdmin,
    TenantScopedAdmin,
    TenantScopedInline,
)
from problems import services
from problems.models import (
    ArticleLink,
    KnownError,
    KnownErrorUse,
    Problem,
    ProblemEvent,
    ProblemIncident,
    ProblemService,
    ProblemSuggestion,
    SuggestionIncident,
    TrendRun,
    TrendSettings,
)


class ProblemEventInline(ReadOnlyAdminMixin, TenantScopedInline[ProblemEvent, Problem]):
    tenant_admin_access = VIEW
    model = ProblemEvent
    readonly_fields = ["created_at", "kind", "actor", "from_status", "to_status", "body", "data"]
    fields = tuple(readonly_fields)
    extra = 0
    can_delete = False
    ordering = ["created_at", "id"]


class ProblemServiceInline(ReadOnlyAdminMixin, TenantScopedInline[ProblemService, Problem]):
    tenant_admin_access = VIEW
    model = ProblemService
    verbose_name = "affected service"
    readonly_fields = ["service"]
    fields = tuple(readonly_fields)
    extra = 0
    can_delete = False

    def get_queryset(self, request: HttpRequest) -> QuerySet[ProblemService]:
        return super().get_queryset(request).select_related("service")


class ProblemIncidentInline(ReadOnlyAdminMixin, TenantScopedInline[ProblemIncident, Problem]):
    tenant_admin_access = VIEW
    model = ProblemIncident
    verbose_name = "linked incident"
    readonly_fields = ["incident", "linked_by", "created_at"]
    fields = tuple(readonly_fields)
    extra = 0
    can_delete = False

    def get_queryset(self, request: HttpRequest) -> QuerySet[ProblemIncident]:
        return super().get_queryset(request).select_related("incident", "linked_by")


class _ArticleLinkInline(ReadOnlyAdminMixin, TenantScopedInline[ArticleLink, Any]):
    tenant_admin_access = VIEW
    model = ArticleLink
    fk_name: str
    verbose_name = "linked article"
    readonly_fields = ["article", "linked_by", "created_at"]
    fields = tuple(readonly_fields)
    extra = 0
    can_delete = False

    def get_queryset(self, request: HttpRequest) -> QuerySet[ArticleLink]:
        return super().get_queryset(request).select_related("article", "linked_by")


class ProblemArticleInline(_ArticleLinkInline):
    fk_name = "problem"


class KnownErrorArticleInline(_ArticleLinkInline):
    fk_name = "known_error"


class KnownErrorUseInline(ReadOnlyAdminMixin, TenantScopedInline[KnownErrorUse, KnownError]):
    tenant_admin_access = VIEW
    model = KnownErrorUse
    verbose_name = "incident where the workaround was applied"
    readonly_fields = ["incident", "applied_by", "created_at"]
    fields = tuple(readonly_fields)
    extra = 0
    can_delete = False

    def get_queryset(self, request: HttpRequest) -> QuerySet[KnownErrorUse]:
        return super().get_queryset(request).select_related("incident", "applied_by")


@admin.register(Problem)
class ProblemAdmin(ServiceBackedAdmin[Problem]):
    tenant_admin_access = VIEW
    list_display = [
        "reference",
        "title",
        "tenant",
        "status",
        "priority",
        "problem_manager",
        "assignment_team",
        "review_at",
        "created_at",
    ]
    list_filter = ["tenant", "status", "priority"]
    list_select_related = ["tenant", "problem_manager", "assignment_team"]
    search_fields = ["title", "description"]
    raw_id_fields = ["category", "problem_manager", "assignment_team"]
    inlines = [
        ProblemServiceInline,
        ProblemIncidentInline,
        ProblemArticleInline,
        ProblemEventInline,
    ]
    fields = [
        "tenant",
        "title",
        "description",
        "category",
        "impact",
        "urgency",
        "problem_manager",
        "assignment_team",
        "root_cause",
        "workaround",
        "review_at",
    ]
    readonly_derived = [
        "reference",
        "status",
        "priority",
        "fix_notes",
        "root_cause_identified_at",
        "resolved_at",
        "closed_at",
        "version",
    ]

    def get_inlines(self, request: HttpRequest, obj: Any = None) -> Any:
        return self.inlines if obj is not None else []

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return self.fields if obj is None else [*self.fields, *self.readonly_derived]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return [*super().get_readonly_fields(request, obj), *self.readonly_derived] if obj else []

    def create_object(self, request: HttpRequest, tenant: Any, data: dict[str, Any]) -> Problem:
        return services.problem_create(tenant=tenant, actor=request.user, data=data)

    def update_object(
        self, request: HttpRequest, instance: Problem, data: dict[str, Any]
    ) -> Problem:
        return services.problem_update(
            tenant=instance.tenant, problem_id=instance.pk, actor=request.user, data=data
        )

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # problems are cancelled or closed, never deleted


@admin.register(KnownError)
class KnownErrorAdmin(ServiceBackedAdmin[KnownError]):
    tenant_admin_access = VIEW
    list_display = ["reference", "title", "tenant", "problem", "status", "published_at"]
    list_filter = ["tenant", "status"]
    list_select_related = ["tenant", "problem"]
    search_fields = ["title", "symptoms", "workaround"]
    fields = ["tenant", "problem", "title", "symptoms", "workaround", "root_cause"]
    readonly_fields = ["problem", "status", "published_at", "retired_at", "use_count", "version"]
    inlines = [KnownErrorArticleInline, KnownErrorUseInline]

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return [*self.fields, "status", "published_at", "retired_at", "use_count", "version"]

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return False  # recorded from a problem (the API's create-known-error)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # retired, never deleted

    def update_object(
        self, request: HttpRequest, instance: KnownError, data: dict[str, Any]
    ) -> KnownError:
        return services.known_error_update(
            tenant=instance.tenant, known_error_id=instance.pk, actor=request.user, data=data
        )


# --- Trend analysis ------------------------------------------------------------------------------


@admin.register(TrendSettings)
class TrendSettingsAdmin(TenantConfigAdmin):
    """Whether a tenant's trend analysis runs on the schedule, its window and minimum size."""

    tenant_admin_access = EDIT
    list_display = ["tenant", "enabled", "window_days", "min_incidents"]


@admin.register(TrendRun)
class TrendRunAdmin(ReadOnlyAdminMixin, TenantScopedAdmin[TrendRun]):
    """Runs and their progress, read-only: runs are started from the workspace or the API."""

    tenant_admin_access = VIEW
    list_display = [
        "id",
        "tenant",
        "status",
        "progress",
        "stage",
        "trigger",
        "incidents_considered",
        "suggestions_created",
        "suggestions_updated",
        "created_at",
        "finished_at",
    ]
    list_filter = ["tenant", "status", "trigger"]
    list_select_related = ["tenant"]


class SuggestionIncidentInline(
    ReadOnlyAdminMixin, TenantScopedInline[SuggestionIncident, ProblemSuggestion]
):
    tenant_admin_access = VIEW
    model = SuggestionIncident
    verbose_name = "incident"
    readonly_fields = ["incident"]
    fields = tuple(readonly_fields)
    extra = 0
    can_delete = False

    def get_queryset(self, request: HttpRequest) -> QuerySet[SuggestionIncident]:
        return super().get_queryset(request).select_related("incident")


@admin.register(ProblemSuggestion)
class ProblemSuggestionAdmin(ReadOnlyAdminMixin, TenantScopedAdmin[ProblemSuggestion]):
    """Suggestions with their evidence, read-only: problem managers decide in the workspace."""

    tenant_admin_access = VIEW
    list_display = ["reference", "title", "tenant", "status", "score", "incident_count"]
    list_filter = ["tenant", "status"]
    list_select_related = ["tenant"]
    search_fields = ["title"]
    inlines = [SuggestionIncidentInline]
