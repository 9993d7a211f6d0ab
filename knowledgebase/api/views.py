"""The knowledge-base API: articles by reference (KB-000042), one POST endpoint per lifecycle
verb, versions with compare and restore, restrictions and feedback."""

from __future__ import annotations

from typing import Any, Final

from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from itsm.api.views import NumberedRecordViewSet, TenantCreateMixin, TenantUpdateMixin
from itsm.audit.api.serializers import AuditEventSerializer
from itsm.audit.api.views import AuditPagination
from itsm.audit.selectors import object_history
from itsm.tenancy.choices import ADMIN_ROLES, ALL_ROLES, STAFF_ROLES, MembershipRole
from itsm.tenancy.models import Tenant
from knowledgebase import selectors, services
from knowledgebase.api import serializers as s
from knowledgebase.choices import ArticleAction
from knowledgebase.filters import ArticleFilterSet
from knowledgebase.models import Article

# Who decides what readers see: publish, send back, take down, retire, restrict.
EDITOR_ROLES: Final = frozenset(
    {MembershipRole.PROBLEM_MANAGER, MembershipRole.CHANGE_MANAGER, MembershipRole.TENANT_ADMIN}
)


class ArticleViewSet(TenantCreateMixin, TenantUpdateMixin, NumberedRecordViewSet):
    """Knowledge articles of the tenant, addressed by reference (KB-000042).

    What a member sees is decided once, in `selectors.article_list`: requesters see published
    articles for requesters; an article restricted to teams is visible only to their members
    (and tenant administrators) — to anyone else it does not exist (404), in lists and filters
    too. PATCH and every lifecycle action honour `If-Match` with the ETag of a previous read.
    """

    model = Article
    queryset = Article.objects.none()
    serializer_class = s.ArticleDetailSerializer
    filterset_class = ArticleFilterSet
    search_fields = ["title", "summary", "body"]
    ordering_fields = [
        "created_at",
        "updated_at",
        "number",
        "title",
        "helpful_count",
        "helped_count",
    ]
    ordering = ["-created_at", "-id"]
    input_serializer_classes = {
        "create": s.ArticleCreateSerializer,
        "partial_update": s.ArticleUpdateSerializer,
        "submit": s.EmptyInputSerializer,
        "request_changes": s.EmptyInputSerializer,
        "publish": s.EmptyInputSerializer,
        "unpublish": s.EmptyInputSerializer,
        "retire": s.EmptyInputSerializer,
        "revise": s.EmptyInputSerializer,
        "restore": s.RestoreInputSerializer,
        "restrict": s.RestrictInputSerializer,
        "feedback": s.FeedbackInputSerializer,
    }
    action_roles = {
        # Requesters: published articles for requesters (the queryset sees to that).
        "list": ALL_ROLES,
        "retrieve": ALL_ROLES,
        "feedback": ALL_ROLES,
        # Writing and the history of the text: everyone who works tickets.
        "create": STAFF_ROLES,
        "partial_update": STAFF_ROLES,
        "submit": STAFF_ROLES,
        "restore": STAFF_ROLES,
        "versions": STAFF_ROLES,
        "compare": STAFF_ROLES,
        # What readers see: the managers and tenant administrators.
        "request_changes": EDITOR_ROLES,
        "publish": EDITOR_ROLES,
        "unpublish": EDITOR_ROLES,
        "retire": EDITOR_ROLES,
        "revise": EDITOR_ROLES,
        "restrict": EDITOR_ROLES,
        # The audit trail of the record: tenant administrators only, as the whole trail is.
        "history": ADMIN_ROLES,
    }

    # --- Reading ---

    def get_tenant_queryset(self, tenant: Tenant) -> QuerySet[Article]:
        return selectors.article_list(tenant=tenant, membership=self.request.membership)

    def get_serializer_class(self) -> Any:
        return s.ArticleListSerializer if self.action == "list" else s.ArticleDetailSerializer

    # --- Writing ---

    def perform_create_service(self, data: dict[str, Any]) -> Article:
        article = services.article_create(tenant=self.tenant, actor=self.request.user, data=data)
        return self._reloaded(article.pk)

    def perform_update_service(self, instance: Article, data: dict[str, Any]) -> Article:
        services.article_update(
            tenant=self.tenant,
            article_id=instance.pk,
            actor=self.request.user,
            data=data,
            expected_version=self.expected_version(instance),
        )
        return self._reloaded(instance.pk)

    @extend_schema(request=None)
    @action(detail=True, methods=["post"])
    def submit(self, request: Request, **kwargs: Any) -> Response:
        """Draft → in review."""
        return self._transition(ArticleAction.SUBMIT)

    @extend_schema(request=None)
    @action(detail=True, methods=["post"], url_path="request-changes")
    def request_changes(self, request: Request, **kwargs: Any) -> Response:
        """In review → draft: the reviewer sends it back."""
        return self._transition(ArticleAction.REQUEST_CHANGES)

    @extend_schema(request=None)
    @action(detail=True, methods=["post"])
    def publish(self, request: Request, **kwargs: Any) -> Response:
        """In review → published."""
        return self._transition(ArticleAction.PUBLISH)

    @extend_schema(request=None)
    @action(detail=True, methods=["post"])
    def unpublish(self, request: Request, **kwargs: Any) -> Response:
        """Published → draft: taken down for rework."""
        return self._transition(ArticleAction.UNPUBLISH)

    @extend_schema(request=None)
    @action(detail=True, methods=["post"])
    def retire(self, request: Request, **kwargs: Any) -> Response:
        """Draft, in review or published → retired."""
        return self._transition(ArticleAction.RETIRE)

    @extend_schema(request=None)
    @action(detail=True, methods=["post"])
    def revise(self, request: Request, **kwargs: Any) -> Response:
        """Retired → draft, to be reviewed again."""
        return self._transition(ArticleAction.REVISE)

    @action(detail=True, methods=["post"])
    def restore(self, request: Request, **kwargs: Any) -> Response:
        """Bring back an old version's text as a new version; no version is lost."""
        article = self.get_object()
        services.article_restore(
            tenant=self.tenant,
            article_id=article.pk,
            actor=self.request.user,
            number=self.validated_input()["version"],
            expected_version=self.expected_version(article),
        )
        return self.respond_with(self._reloaded(article.pk))

    @action(detail=True, methods=["post"])
    def restrict(self, request: Request, **kwargs: Any) -> Response:
        """Restrict the article to exactly these teams (an empty list lifts the restriction)."""
        article = self.get_object()
        services.article_restrict(
            tenant=self.tenant,
            article_id=article.pk,
            actor=self.request.user,
            teams=self.validated_input()["teams"],
            expected_version=self.expected_version(article),
        )
        return self.respond_with(self._reloaded(article.pk))

    @extend_schema(responses=s.ArticleFeedbackSerializer)
    @action(detail=True, methods=["post"])
    def feedback(self, request: Request, **kwargs: Any) -> Response:
        """The caller's vote on a published article; a second vote replaces the first."""
        article = self.get_object()
        feedback = services.article_feedback_give(
            tenant=self.tenant,
            article_id=article.pk,
            user=self.request.user,
            **self.validated_input(),
        )
        feedback.article.refresh_from_db(fields=["helpful_count", "not_helpful_count"])
        return Response(s.ArticleFeedbackSerializer(feedback).data)

    @extend_schema(responses=s.ArticleVersionSerializer(many=True))
    @action(detail=True, methods=["get"], pagination_class=None, filter_backends=[])
    def versions(self, request: Request, **kwargs: Any) -> Response:
        """Every saved text of the article, newest first."""
        article = self.get_object()
        versions = selectors.article_versions(article=article)
        return Response(s.ArticleVersionSerializer(versions, many=True).data)

    @extend_schema(
        parameters=[
            OpenApiParameter("from_version", OpenApiTypes.INT, required=True),
            OpenApiParameter("to_version", OpenApiTypes.INT, required=True),
        ],
        responses=s.VersionComparisonSerializer,
    )
    @action(detail=True, methods=["get"], pagination_class=None, filter_backends=[])
    def compare(self, request: Request, **kwargs: Any) -> Response:
        """A unified diff of two versions' text."""
        article = self.get_object()  # first: an invisible article is a 404, whatever the input
        query = s.CompareQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        comparison = selectors.article_versions_compare(
            article=article,
            from_number=query.validated_data["from_version"],
            to_number=query.validated_data["to_version"],
        )
        if comparison is None:
            raise exceptions.NotFound("No such version of this article.")
        return Response(s.VersionComparisonSerializer(comparison).data)

    @extend_schema(responses=AuditEventSerializer(many=True))
    @action(detail=True, methods=["get"], pagination_class=AuditPagination, filter_backends=[])
    def history(self, request: Request, **kwargs: Any) -> Response:
        """Every recorded change of the article, newest first: who or what, field, old, new."""
        article = self.get_object()
        page = self.paginate_queryset(object_history(tenant=self.tenant, obj=article))
        return self.get_paginated_response(AuditEventSerializer(page, many=True).data)

    # --- Helpers ---

    def _transition(self, verb: ArticleAction) -> Response:
        article = self.get_object()
        services.article_transition(
            tenant=self.tenant,
            article_id=article.pk,
            actor=self.request.user,
            action=verb,
            expected_version=self.expected_version(article),
        )
        return self.respond_with(self._reloaded(article.pk))

    def _reloaded(self, pk: int) -> Article:
        return selectors.article_list(tenant=self.tenant, membership=self.request.membership).get(
            pk=pk
        )
