"""Every read of the knowledge base, with the visibility rules applied once, here.

Visibility, after the tenant filter:
- requesters: published articles for "requesters too", never a restricted one;
- tenant administrators: every article (they administer the teams restrictions name);
- other members: every unrestricted article, and a restricted one only through their
  django-guardian grant (`view_article` on the article, held while they are in one of its
  teams).
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any

from django.db.models import Prefetch, Q, QuerySet
from guardian.shortcuts import get_objects_for_user

from itsm.tenancy.choices import MembershipRole
from itsm.tenancy.models import Membership, Tenant
from knowledgebase.choices import ArticleAudience, ArticleStatus
from knowledgebase.models import Article, ArticleFeedback, ArticleVersion, Tag


def _visible(articles: QuerySet[Article], tenant: Tenant, membership: Membership | None) -> Any:
    if membership is None:
        return articles.none()
    if membership.role == MembershipRole.REQUESTER:
        return articles.filter(
            status=ArticleStatus.PUBLISHED,
            audience=ArticleAudience.REQUESTERS,
            is_restricted=False,
        )
    if membership.role == MembershipRole.TENANT_ADMIN:
        return articles
    granted = get_objects_for_user(
        membership.user,
        "knowledgebase.view_article",
        klass=Article.objects.for_tenant(tenant).filter(is_restricted=True),
        use_groups=False,
        with_superuser=False,
        accept_global_perms=False,
    )
    return articles.filter(Q(is_restricted=False) | Q(pk__in=granted.values("pk")))


def article_list(*, tenant: Tenant, membership: Membership | None) -> QuerySet[Article]:
    """The tenant's articles this member may see, with what the serializers render."""
    articles = (
        Article.objects.for_tenant(tenant)
        .select_related("service", "category", "author", "owner")
        .prefetch_related(
            Prefetch("tags", queryset=Tag.objects.for_tenant(tenant).order_by("name", "id")),
            "restricted_teams",
        )
    )
    visible: QuerySet[Article] = _visible(articles, tenant, membership)
    return visible


def article_versions(*, article: Article) -> QuerySet[ArticleVersion]:
    """The article's versions, newest first."""
    return (
        ArticleVersion.objects.for_tenant(article.tenant_id)
        .filter(article=article)
        .select_related("author")
        .order_by("-number")
    )


def article_feedback_of(*, article: Article, user: Any) -> ArticleFeedback | None:
    """The user's own vote on the article, if any."""
    return (
        ArticleFeedback.objects.for_tenant(article.tenant_id)
        .filter(article=article, user=user)
        .first()
    )


def tag_list(*, tenant: Tenant) -> QuerySet[Tag]:
    return Tag.objects.for_tenant(tenant).order_by("name", "id")


@dataclass(frozen=True)
class VersionComparison:
    """Two versions of an article and the unified diff of their text (title, summary, body)."""

    from_number: int
    to_number: int
    diff: str


def _as_text(version: ArticleVersion) -> list[str]:
    summary = [f"{version.summary}\n", "\n"] if version.summary else []
    return [f"# {version.title}\n", "\n", *summary, *version.body.splitlines(keepends=True)]


def article_versions_compare(
    *, article: Article, from_number: int, to_number: int
) -> VersionComparison | None:
    """The unified diff from one version to another; None if either does not exist."""
    versions = {
        version.number: version
        for version in ArticleVersion.objects.for_tenant(article.tenant_id).filter(
            article=article, number__in=[from_number, to_number]
        )
    }
    if from_number not in versions or to_number not in versions:
        return None
    lines = difflib.unified_diff(
        _as_text(versions[from_number]),
        _as_text(versions[to_number]),
        fromfile=f"{article.reference} v{from_number}",
        tofile=f"{article.reference} v{to_number}",
    )
    # A last line without a newline would run into the next marker.
    diff = "".join(line if line.endswith("\n") else f"{line}\n" for line in lines)
    return VersionComparison(from_number, to_number, diff)
