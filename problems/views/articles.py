"""Knowledge articles beside problem management's records, as cards loaded by htmx (pages of
their own without JavaScript):

- on a problem's and a known error's record: the linked articles, and for problem managers a
  form to link articles by reference and a button to unlink each (the API's services);
- on an article's page (the knowledge base cannot name problems): the problems, known errors and
  incidents the article is linked to, registered in problems/workspace.py.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from django import forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.views import View

from itsm.errors import ConflictError, InvalidInputError
from itsm.tenancy.choices import STAFF_ROLES, MembershipRole
from itsm.tenancy.models import parse_reference
from itsm.web.views import TenantPageMixin
from itsm.web.workspace import PlacedCard
from knowledgebase.models import Article
from knowledgebase.selectors import article_list
from problems import selectors, services
from problems.choices import TERMINAL_PROBLEM_STATUSES, KnownErrorStatus
from problems.models import KnownError, Problem

LINKERS = frozenset({MembershipRole.PROBLEM_MANAGER, MembershipRole.TENANT_ADMIN})


class LinkArticlesForm(forms.Form):
    articles = forms.CharField(
        max_length=2000,
        label="Article numbers",
        help_text="One or more, e.g. KB-000042, separated by spaces or commas.",
    )
    unlink = forms.BooleanField(required=False)

    def references(self) -> list[str]:
        return [ref for ref in re.split(r"[\s,;]+", self.cleaned_data["articles"]) if ref]


class _CardMixin(TenantPageMixin):
    page_roles = frozenset(STAFF_ROLES)
    template: ClassVar[str]  # a page with a partial "card", which htmx gets alone
    kwargs: dict[str, Any]
    request: HttpRequest

    @property
    def is_htmx(self) -> bool:
        return self.request.headers.get("HX-Request") == "true"

    def card(self, context: dict[str, Any], status: int = 200) -> HttpResponse:
        template = f"{self.template}#card" if self.is_htmx else self.template
        return TemplateResponse(
            self.request, template, {"tenant": self.tenant, **context}, status=status
        )


def article_cards(tenant_slug: str, record: Problem | KnownError) -> list[PlacedCard]:
    """The record page's "Knowledge articles" card, loaded after the page like other cards."""
    name = "problems:articles" if isinstance(record, Problem) else "problems:known-error-articles"
    url = reverse(name, args=[tenant_slug, record.reference])
    return [PlacedCard("Knowledge articles", url, "articles")]


class RecordArticlesCard(_CardMixin, View):
    """GET/POST /t/<tenant>/problems/PRB-…/articles/ (and known-errors/KE-…/articles/)."""

    template = "problems/articles/record_card.html"
    model: ClassVar[type[Problem] | type[KnownError]]
    detail_name: ClassVar[str]
    url_name: ClassVar[str]

    def get_record(self) -> Problem | KnownError:
        number = parse_reference(self.model.NUMBER_PREFIX, self.kwargs["reference"])
        records = (
            selectors.problem_list(tenant=self.tenant, membership=self.membership)
            if self.model is Problem
            else selectors.known_error_list(tenant=self.tenant, membership=self.membership)
        )
        record = records.filter(number=number).first() if number is not None else None
        if record is None:
            raise Http404("No such record.")
        return record

    def may_link(self, record: Problem | KnownError) -> bool:
        problem = record if isinstance(record, Problem) else record.problem
        return (
            self.membership.role in LINKERS
            and problem.status not in TERMINAL_PROBLEM_STATUSES
            and not (isinstance(record, KnownError) and record.status == KnownErrorStatus.RETIRED)
        )

    def render_card(
        self,
        record: Problem | KnownError,
        *,
        form: LinkArticlesForm | None = None,
        notice: tuple[str, str] | None = None,
        status: int = 200,
    ) -> HttpResponse:
        return self.card(
            {
                "record": record,
                "record_url": reverse(self.detail_name, args=[self.tenant.slug, record.reference]),
                "articles": selectors.linked_articles(owner=record, membership=self.membership),
                "may_link": self.may_link(record),
                "form": form or LinkArticlesForm(auto_id="link-articles-%s"),
                "card_url": reverse(self.url_name, args=[self.tenant.slug, record.reference]),
                "notice": notice,
            },
            status,
        )

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        return self.render_card(self.get_record())

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        record = self.get_record()  # first: a hidden record is a 404 whatever the role
        form = LinkArticlesForm(request.POST, auto_id="link-articles-%s")
        if self.membership.role not in LINKERS:
            notice = ("error", "Your role may not link articles.")
            return self.render_card(record, notice=notice, status=403)
        if not form.is_valid():
            notice = ("error", "Please correct the errors below.")
            return self.render_card(record, form=form, notice=notice, status=400)
        unlink = form.cleaned_data["unlink"]
        try:
            result = services.articles_link(
                tenant=self.tenant,
                membership=self.membership,
                owner=record,
                articles=form.references(),
                linked=not unlink,
            )
        except InvalidInputError as error:
            for reason in error.fields.get("articles", [error.message]):
                form.add_error("articles", reason)
            return self.render_card(record, form=form, notice=("error", error.message), status=400)
        except ConflictError as error:
            return self.render_card(record, notice=("error", error.message), status=409)
        verb = "Unlinked" if unlink else "Linked"
        text = f"{verb}: {', '.join(result.changed)}." if result.changed else "Nothing changed."
        if not self.is_htmx:
            messages.success(request, text)
            return redirect(
                reverse(self.detail_name, args=[self.tenant.slug, record.reference]) + "#articles"
            )
        return self.render_card(record, notice=("success", text))


class ProblemArticlesCard(RecordArticlesCard):
    model = Problem
    detail_name = "problems:detail"
    url_name = "problems:articles"


class KnownErrorArticlesCard(RecordArticlesCard):
    model = KnownError
    detail_name = "problems:known-error"
    url_name = "problems:known-error-articles"


class ArticleRecordsCard(_CardMixin, View):
    """GET /t/<tenant>/knowledge-links/KB-…/: what an article is linked to (the article page's
    card)."""

    template = "problems/articles/article_card.html"

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        number = parse_reference(Article.NUMBER_PREFIX, self.kwargs["reference"])
        article = (
            article_list(tenant=self.tenant, membership=self.membership)
            .filter(number=number)
            .first()
            if number is not None
            else None
        )
        if article is None:
            raise Http404("No such article.")
        return self.card(
            {
                "article": article,
                "records": selectors.article_records(article=article, membership=self.membership),
                "article_url": reverse(
                    "knowledgebase:detail", args=[self.tenant.slug, article.reference]
                ),
            }
        )
