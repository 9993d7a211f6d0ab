"""Read-mostly admin of the knowledge base: staff look and filter; every write goes through the
API and its services (text, lifecycle, restrictions, feedback all keep counters and versions in
step, which a plain admin form would not)."""

from django.contrib import admin

from itsm.admin_site import VIEW, ReadOnlyAdminMixin, TenantScopedAdmin, TenantScopedInline
from knowledgebase.models import Article, ArticleFeedback, ArticleVersion, Tag


class ArticleVersionInline(ReadOnlyAdminMixin, TenantScopedInline[ArticleVersion, Article]):
    tenant_admin_access = VIEW
    model = ArticleVersion
    readonly_fields = ["number", "title", "author", "status", "restored_from", "created_at"]
    fields = tuple(readonly_fields)
    extra = 0
    can_delete = False
    ordering = ["-number"]


@admin.register(Article)
class ArticleAdmin(ReadOnlyAdminMixin, TenantScopedAdmin[Article]):
    tenant_admin_access = VIEW
    list_display = [
        "__str__",
        "tenant",
        "status",
        "audience",
        "is_restricted",
        "owner",
        "updated_at",
    ]
    list_filter = ["tenant", "status", "audience", "is_restricted"]
    list_select_related = ["tenant", "owner"]
    search_fields = ["title", "summary"]
    raw_id_fields = ["service", "category", "author", "owner"]
    readonly_fields = [
        "tenant",
        "number",
        "title",
        "summary",
        "body",
        "status",
        "audience",
        "service",
        "category",
        "author",
        "owner",
        "is_restricted",
        "revision",
        "version",
        "helpful_count",
        "not_helpful_count",
        "helped_count",
        "published_at",
        "retired_at",
        "created_at",
        "updated_at",
    ]
    fields = tuple(readonly_fields)
    inlines = [ArticleVersionInline]


@admin.register(Tag)
class TagAdmin(ReadOnlyAdminMixin, TenantScopedAdmin[Tag]):
    tenant_admin_access = VIEW
    list_display = ["name", "slug", "tenant"]
    list_filter = ["tenant"]
    list_select_related = ["tenant"]
    search_fields = ["name", "slug"]


@admin.register(ArticleFeedback)
class ArticleFeedbackAdmin(ReadOnlyAdminMixin, TenantScopedAdmin[ArticleFeedback]):
    tenant_admin_access = VIEW
    list_display = ["article", "user", "is_helpful", "tenant", "updated_at"]
    list_filter = ["tenant", "is_helpful"]
    list_select_related = ["tenant", "article", "user"]
    raw_id_fields = ["article", "user"]
    readonly_fields = ["tenant", "article", "user", "is_helpful", "comment", "created_at"]
    fields = tuple(readonly_fields)
