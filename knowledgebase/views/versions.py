"""The kept versions of an article, a comparison of two, and "Restore this version".

Staff only, as the API's versions and compare: drafts are internal. The comparison is the
selector's unified diff (difflib) of title, summary and body, shown line by line and escaped
like any text; restoring posts to the article's `restore` action (`article_restore`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.views.generic import TemplateView

from knowledgebase import selectors
from knowledgebase.forms.actions import ACTIONS, STAFF, RestoreForm
from knowledgebase.models import Article, ArticleVersion
from knowledgebase.views.base import ArticlePageMixin, DiffLine

MAX_VERSION = 2**31 - 1


@dataclass(frozen=True)
class VersionRow:
    version: ArticleVersion
    is_current: bool
    restore: RestoreForm | None


def _number(value: str | None) -> int | None:
    """A version number from the query string; None when absent; -1 when malformed."""
    if value is None or value == "":
        return None
    if not value.isdigit() or not 1 <= int(value) <= MAX_VERSION:
        return -1
    return int(value)


class ArticleVersionsPage(ArticlePageMixin, TemplateView):
    """GET /t/<tenant>/articles/KB-000042/versions/[?a=1&b=3]: the versions, and a diff."""

    template_name = "knowledgebase/versions.html"
    page_roles = STAFF

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        article = self.get_article()  # first: a hidden article is a 404
        refusal = self.role_refusal()
        if refusal is not None:
            return refusal
        versions = list(selectors.article_versions(article=article))
        context = self.get_context_data(
            article=article,
            rows=self.rows(article, versions),
            restore_url=reverse(
                "knowledgebase:action", args=[self.tenant.slug, article.reference, "restore"]
            ),
        )
        status = self.compare(article, versions, context)
        return self.render_to_response(context, status=status)

    def rows(self, article: Article, versions: list[ArticleVersion]) -> list[VersionRow]:
        may_restore = self.may_edit(article) and self.role in ACTIONS["restore"].roles
        return [
            VersionRow(
                version,
                is_current=version.number == article.revision,
                restore=(
                    RestoreForm(
                        initial={"version": article.version, "number": version.number},
                        auto_id=f"restore-{version.number}-%s",
                    )
                    if may_restore and version.number != article.revision
                    else None
                ),
            )
            for version in versions
        ]

    def compare(
        self, article: Article, versions: list[ArticleVersion], context: dict[str, Any]
    ) -> int:
        """Fill in the comparison asked for by ?a=&b=; the page's status (400, 404 or 200)."""
        first, second = self.request.GET.get("a"), self.request.GET.get("b")
        numbers = [version.number for version in versions]
        a, b = _number(first), _number(second)
        # Default choices: the previous version against the current one.
        context["a"] = a if a and a > 0 else (numbers[1] if len(numbers) > 1 else article.revision)
        context["b"] = b if b and b > 0 else article.revision
        context["numbers"] = numbers
        if a is None and b is None:
            return 200
        errors = {
            name: "Choose a version number."
            for name, value in (("a", a), ("b", b))
            if value is None or value < 0
        }
        if errors:
            context["compare_errors"] = errors
            return 400
        assert a is not None
        assert b is not None
        comparison = selectors.article_versions_compare(article=article, from_number=a, to_number=b)
        if comparison is None:
            context["compare_errors"] = {
                name: f"{article.reference} has no version {value}."
                for name, value in (("a", a), ("b", b))
                if value not in numbers
            }
            return 404
        context["diff"] = [DiffLine.of(line) for line in comparison.diff.splitlines()]
        context["compared"] = (a, b)
        return 200
