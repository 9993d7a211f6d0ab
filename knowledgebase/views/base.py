"""What the article pages share: finding the article a member may see, and their role."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.urls import reverse

from itsm.tenancy.choices import ALL_ROLES, STAFF_ROLES, MembershipRole
from itsm.tenancy.models import parse_reference
from itsm.web.views import TenantPageMixin, forbidden
from knowledgebase import selectors
from knowledgebase.choices import EDITABLE_STATUSES
from knowledgebase.forms.actions import EDITOR_ROLES
from knowledgebase.models import Article


class ArticlePageMixin(TenantPageMixin):
    """Finds the article through `selectors.article_list`, the only road to articles: an article
    the member may not see (a draft for a requester, another team's restricted one, another
    tenant's) is a 404, whatever the page."""

    kwargs: dict[str, Any]
    request: HttpRequest
    roles_after_lookup: frozenset[str] | None = None

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        # 404 before 403: the shell checks `page_roles` before the view runs, which for a page
        # naming an article would confirm to a refused role that the article exists. Such a
        # page lets every member in and checks the role once the article is found.
        if "reference" in kwargs and type(self).page_roles != ALL_ROLES:
            self.roles_after_lookup = type(self).page_roles
            vars(self)["page_roles"] = ALL_ROLES  # this request only; the class keeps its roles
        return super().dispatch(request, *args, **kwargs)

    def role_refusal(self) -> HttpResponse | None:
        """The 403 page when the member's role may not open this page about the article."""
        if self.roles_after_lookup is not None and self.role not in self.roles_after_lookup:
            return forbidden(self.request)
        return None

    @property
    def role(self) -> str:
        return str(self.membership.role)

    @property
    def is_staff(self) -> bool:
        return self.role in STAFF_ROLES

    @property
    def is_requester(self) -> bool:
        return self.role == MembershipRole.REQUESTER

    @property
    def is_editor(self) -> bool:
        return self.role in EDITOR_ROLES

    @property
    def is_htmx(self) -> bool:
        return self.request.headers.get("HX-Request") == "true"

    def visible_articles(self) -> Any:
        return selectors.article_list(tenant=self.tenant, membership=self.membership)

    def get_article(self) -> Article:
        number = parse_reference(Article.NUMBER_PREFIX, self.kwargs["reference"])
        article: Article | None = (
            self.visible_articles().filter(number=number).first() if number is not None else None
        )
        if article is None:
            raise Http404("No such article.")
        return article

    def may_edit(self, article: Article) -> bool:
        return self.is_staff and article.status in EDITABLE_STATUSES

    def detail_url(self, article: Article) -> str:
        return reverse("knowledgebase:detail", args=[self.tenant.slug, article.reference])


@dataclass(frozen=True)
class DiffLine:
    text: str
    kind: str  # "added", "removed", "hunk", "file" or "same": the line's look

    @classmethod
    def of(cls, line: str) -> DiffLine:
        if line.startswith(("+++", "---")):
            return cls(line, "file")
        if line.startswith("@@"):
            return cls(line, "hunk")
        kind = {"+": "added", "-": "removed"}.get(line[:1], "same")
        return cls(line, kind)
