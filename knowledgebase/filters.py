from django.db.models import Q, QuerySet
from django_filters import rest_framework as filters

from itsm.catalog.models import Category, Service
from itsm.filters import tenant_queryset
from knowledgebase.choices import ArticleAudience, ArticleStatus
from knowledgebase.models import Article, Tag


class ArticleFilterSet(filters.FilterSet):
    # Columns of the article itself: no join can repeat a row, so no DISTINCT.
    status = filters.MultipleChoiceFilter(choices=ArticleStatus.choices, distinct=False)
    audience = filters.ChoiceFilter(choices=ArticleAudience.choices)
    # One row per (article, tag) at most, so a single tag cannot repeat an article either.
    tag = filters.ModelChoiceFilter(
        queryset=tenant_queryset(Tag), to_field_name="slug", field_name="tags", distinct=False
    )
    service = filters.ModelChoiceFilter(
        queryset=tenant_queryset(Service), to_field_name="slug", field_name="service"
    )
    category = filters.ModelChoiceFilter(
        queryset=tenant_queryset(Category), to_field_name="slug", field_name="category"
    )
    owner = filters.CharFilter(field_name="owner__username")
    author = filters.CharFilter(field_name="author__username")
    restricted = filters.BooleanFilter(field_name="is_restricted")
    text = filters.CharFilter(method="filter_text", label="Words in the title, summary or body")

    class Meta:
        model = Article
        fields = [
            "status",
            "audience",
            "tag",
            "service",
            "category",
            "owner",
            "author",
            "restricted",
            "text",
        ]

    def filter_text(self, queryset: QuerySet[Article], name: str, value: str) -> QuerySet[Article]:
        """Every word, in any of title, summary and body (case-insensitive)."""
        for word in value.split()[:10]:
            queryset = queryset.filter(
                Q(title__icontains=word) | Q(summary__icontains=word) | Q(body__icontains=word)
            )
        return queryset
