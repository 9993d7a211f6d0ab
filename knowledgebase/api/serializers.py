"""The knowledge-base API's shapes: output serializers, and input serializers that only
validate (services decide)."""

from typing import Any

from rest_framework import serializers

from itsm.api.fields import TenantConfigSlugField, TenantMemberField
from itsm.api.serializers import InputSerializer
from itsm.catalog.models import Category, Service
from itsm.tenancy.models import Team
from knowledgebase.choices import ArticleAudience, allowed_actions
from knowledgebase.models import Article, ArticleFeedback, ArticleVersion

MAX_BODY = 100000
MAX_TAGS = 20


def _slug(**kwargs: Any) -> Any:
    return serializers.SlugRelatedField(slug_field="slug", read_only=True, **kwargs)


def _username(**kwargs: Any) -> Any:
    return serializers.SlugRelatedField(
        slug_field="username", read_only=True, help_text="The user's username.", **kwargs
    )


class ArticleListSerializer(serializers.ModelSerializer[Article]):
    """An article in a list: everything but its text."""

    reference = serializers.CharField(read_only=True)
    service = _slug()
    category = _slug()
    author = _username()
    owner = _username()
    tags = _slug(many=True)
    restricted_teams = _slug(many=True)
    allowed_actions = serializers.SerializerMethodField()

    class Meta:
        model = Article
        fields = [
            "reference",
            "title",
            "summary",
            "status",
            "allowed_actions",
            "audience",
            "service",
            "category",
            "author",
            "owner",
            "tags",
            "is_restricted",
            "restricted_teams",
            "revision",
            "version",
            "helpful_count",
            "not_helpful_count",
            "helped_count",
            "created_at",
            "updated_at",
            "published_at",
            "retired_at",
        ]
        read_only_fields = fields

    def get_allowed_actions(self, article: Article) -> list[str]:
        return [str(action) for action in allowed_actions(article.status)]


class ArticleDetailSerializer(ArticleListSerializer):
    """An article with its Markdown and the sanitised HTML rendered from it when it was saved."""

    class Meta(ArticleListSerializer.Meta):
        fields = [*ArticleListSerializer.Meta.fields, "body", "body_html"]
        read_only_fields = fields


class ArticleVersionSerializer(serializers.ModelSerializer[ArticleVersion]):
    author = _username()

    class Meta:
        model = ArticleVersion
        fields = [
            "number",
            "title",
            "summary",
            "body",
            "author",
            "status",
            "restored_from",
            "created_at",
        ]
        read_only_fields = fields


class VersionComparisonSerializer(serializers.Serializer[Any]):
    from_number = serializers.IntegerField(read_only=True)
    to_number = serializers.IntegerField(read_only=True)
    diff = serializers.CharField(read_only=True, help_text="A unified diff (difflib).")


class ArticleFeedbackSerializer(serializers.ModelSerializer[ArticleFeedback]):
    user = _username()
    helpful_count = serializers.IntegerField(source="article.helpful_count", read_only=True)
    not_helpful_count = serializers.IntegerField(source="article.not_helpful_count", read_only=True)

    class Meta:
        model = ArticleFeedback
        fields = [
            "user",
            "is_helpful",
            "comment",
            "helpful_count",
            "not_helpful_count",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


# --- Input -------------------------------------------------------------------------------------


def _service_field() -> Any:
    return TenantConfigSlugField(Service, required=False, allow_null=True)


def _category_field() -> Any:
    return TenantConfigSlugField(Category, required=False, allow_null=True)


def _tags_field() -> Any:
    return serializers.ListField(
        child=serializers.CharField(max_length=64), max_length=MAX_TAGS, required=False
    )


class ArticleCreateSerializer(InputSerializer):
    title = serializers.CharField(max_length=200)
    summary = serializers.CharField(max_length=500, required=False, allow_blank=True)
    # Markdown: trailing spaces are a line break, so the text is kept as written.
    body = serializers.CharField(max_length=MAX_BODY, trim_whitespace=False, help_text="Markdown.")
    audience = serializers.ChoiceField(choices=ArticleAudience.choices, required=False)
    service = _service_field()
    category = _category_field()
    owner = TenantMemberField(required=False)
    tags = _tags_field()


class ArticleUpdateSerializer(InputSerializer):
    title = serializers.CharField(max_length=200, required=False)
    summary = serializers.CharField(max_length=500, required=False, allow_blank=True)
    body = serializers.CharField(
        max_length=MAX_BODY, required=False, trim_whitespace=False, help_text="Markdown."
    )
    audience = serializers.ChoiceField(choices=ArticleAudience.choices, required=False)
    service = _service_field()
    category = _category_field()
    owner = TenantMemberField(required=False)
    tags = _tags_field()


class EmptyInputSerializer(InputSerializer):
    """An action that takes no input."""


class RestoreInputSerializer(InputSerializer):
    version = serializers.IntegerField(min_value=1, max_value=2**31 - 1)


class RestrictInputSerializer(InputSerializer):
    teams = TenantConfigSlugField(
        Team,
        many=True,
        help_text="The teams whose members may read the article; empty lifts the restriction.",
    )


class FeedbackInputSerializer(InputSerializer):
    is_helpful = serializers.BooleanField()
    comment = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")


class CompareQuerySerializer(serializers.Serializer[Any]):
    from_version = serializers.IntegerField(min_value=1, max_value=2**31 - 1)
    to_version = serializers.IntegerField(min_value=1, max_value=2**31 - 1)
