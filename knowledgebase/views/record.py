"""The article page and its actions.

GET shows the article as its reader sees it: the sanitised body, what it is about, its counts,
the feedback form (published articles), and for staff its status, restriction, recent versions
and a form for each lifecycle action the member's role may take now. Each action POSTs to
`<reference>/<action>/`, which runs the same service as the API with the version the form was
made on: a stale version changes nothing and says so. Without JavaScript a success redirects
back (Post/Redirect/Get); with htmx the article is re-rendered in place. Refusals are 400
(input), 403 (not for this role), 409 (the article's state or a stale version), always as a
usable page.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.safestring import mark_safe
from django.views import View

from itsm.errors import (
    ConflictError,
    DomainError,
    ForbiddenError,
    InvalidInputError,
    NotFoundError,
    PreconditionFailedError,
)
from itsm.web import workspace
from knowledgebase import selectors
from knowledgebase.choices import allowed_actions
from knowledgebase.forms.actions import ACTIONS, ActionSpec, FeedbackForm
from knowledgebase.models import Article
from knowledgebase.views.base import ArticlePageMixin

TEMPLATE = "knowledgebase/article/page.html"
RECENT_VERSIONS = 5


@dataclass
class Panel:
    """One action's form on the page."""

    spec: ActionSpec
    form: forms.Form
    url: str
    error: str = ""


@dataclass
class Outcome:
    """What the last POST left for the page to say."""

    status: int = 200
    notices: list[tuple[str, str]] = field(default_factory=list)


class ArticleRecordMixin(ArticlePageMixin):
    def action_url(self, article: Article, slug: str) -> str:
        return reverse("knowledgebase:action", args=[self.tenant.slug, article.reference, slug])

    def make_form(self, spec: ActionSpec, article: Article, data: Any = None) -> forms.Form:
        kwargs: dict[str, Any] = {"auto_id": f"{spec.slug}-%s"}
        if data is not None:
            return spec.form_class(data, **kwargs)
        if spec.form_class is FeedbackForm:
            vote = selectors.article_feedback_of(article=article, user=self.request.user)
            if vote is not None:
                kwargs["initial"] = {
                    "is_helpful": "yes" if vote.is_helpful else "no",
                    "comment": vote.comment,
                }
        else:
            kwargs["initial"] = {"version": article.version}
        return spec.form_class(**kwargs)

    def lifecycle_panels(self, article: Article) -> list[Panel]:
        """The lifecycle actions the table allows now and the member's role may run."""
        allowed = set(allowed_actions(article.status))
        return [
            Panel(spec, self.make_form(spec, article), self.action_url(article, spec.slug))
            for spec in ACTIONS.values()
            if spec.lifecycle is not None and spec.lifecycle in allowed and self.role in spec.roles
        ]

    def render_record(
        self, article: Article, *, outcome: Outcome | None = None, bound: Panel | None = None
    ) -> HttpResponse:
        outcome = outcome or Outcome()
        feedback = None
        if article.is_published:
            spec = ACTIONS["feedback"]
            feedback = Panel(
                spec, self.make_form(spec, article), self.action_url(article, spec.slug)
            )
        panels = self.lifecycle_panels(article)
        if bound is not None and bound.spec.slug == "feedback":
            feedback = bound
        elif bound is not None:
            panels = [bound if panel.spec.slug == bound.spec.slug else panel for panel in panels]
        context: dict[str, Any] = {
            "tenant": self.tenant,
            "membership": self.membership,
            "article": article,
            # body_html is the sanitised rendering the services store with every save of the
            # text (rendering.py: markdown-it without raw HTML, then nh3's allow-list); nothing
            # else on the page is marked safe.
            "body_html": mark_safe(article.body_html),  # noqa: S308
            "tags": list(article.tags.all()),
            "is_staff": self.is_staff,
            "is_requester": self.is_requester,
            "may_edit": self.may_edit(article),
            "panels": panels,
            "feedback": feedback,
            "notices": outcome.notices,
            "versions": (
                list(selectors.article_versions(article=article)[:RECENT_VERSIONS])
                if self.is_staff
                else []
            ),
            # What other apps add (problems: the records linked to the article).
            "cards": workspace.cards_for("article", self.tenant, self.role, article.reference),
        }
        template = f"{TEMPLATE}#record" if self.is_htmx else TEMPLATE
        return TemplateResponse(self.request, template, context, status=outcome.status)


class ArticlePage(ArticleRecordMixin, View):
    """GET /t/<tenant>/articles/KB-000042/: the article."""

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        return self.render_record(self.get_article())


class ArticleActionPage(ArticleRecordMixin, View):
    """POST /t/<tenant>/articles/KB-000042/<action>/: one action through its service."""

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        spec = ACTIONS.get(self.kwargs["action"])
        if spec is None:
            raise Http404("No such action.")
        article = self.get_article()  # first: a hidden article is a 404 whatever the role
        if self.role not in spec.roles:
            outcome = Outcome(403, [("error", f"Your role may not {spec.label.lower()}.")])
            return self.render_record(article, outcome=outcome)
        form = self.make_form(spec, article, request.POST)
        panel = Panel(spec, form, self.action_url(article, spec.slug))
        if not form.is_valid():
            outcome = Outcome(400, [("error", "Please correct the errors below.")])
            return self.render_record(article, outcome=outcome, bound=panel)
        try:
            spec.service(
                tenant=self.tenant,
                article_id=article.pk,
                actor=request.user,
                **form.service_arguments(),  # type: ignore[attr-defined]
                **spec.options,
            )
        except DomainError as error:
            return self.refused(panel, error)
        except ValidationError as error:  # a model's full_clean inside the service
            form.add_error(None, list(error.messages))
            outcome = Outcome(400, [("error", "Please correct the errors below.")])
            return self.render_record(article, outcome=outcome, bound=panel)
        article = self.get_article()
        if self.is_htmx:
            return self.render_record(article, outcome=Outcome(200, [("success", spec.done)]))
        messages.success(request, spec.done)
        anchor = "#feedback" if spec.slug == "feedback" else ""
        return redirect(self.detail_url(article) + anchor)

    def refused(self, panel: Panel, error: DomainError) -> HttpResponse:
        """The service said no: show why on the current article, keep what the user typed."""
        if isinstance(error, NotFoundError):
            raise Http404(error.message)
        current = self.get_article()
        if isinstance(error, PreconditionFailedError):
            # Nothing was written; the page offers the actions of the article as it is now.
            text = (
                f"{current.reference} was changed by someone else while you were reading it "
                f"(it is {current.get_status_display().lower()} now). Nothing was done: check "
                "it and try again if it still applies."
            )
            return self.render_record(current, outcome=Outcome(409, [("warning", text)]))
        if isinstance(error, InvalidInputError):
            for name, reasons in error.fields.items():
                panel.form.add_error(name if name in panel.form.fields else None, list(reasons))
            if not error.fields:
                panel.form.add_error(None, error.message)
            outcome = Outcome(400, [("error", error.message)])
            return self.render_record(current, outcome=outcome, bound=panel)
        status = 400
        if isinstance(error, ForbiddenError):
            status = 403
        elif isinstance(error, ConflictError):
            status = 409
        panel.error = error.message
        outcome = Outcome(status, [("error", error.message)])
        return self.render_record(current, outcome=outcome, bound=panel)
