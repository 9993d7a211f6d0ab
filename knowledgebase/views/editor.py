"""Write and edit articles, with a preview of the rendered text.

Create and edit post to the same services as the API (`article_create`, `article_update`, then
`article_restrict` when an editor changed the teams), in one transaction so that a refused
restriction leaves no half-saved article. Bad input re-renders the form with its errors and
status 400, everything typed kept; a stale version (someone saved meanwhile) is 409 and keeps
the user's text beside what changed. Success redirects to the article (Post/Redirect/Get).

The preview is the stored rendering's twin: `rendering.render_markdown`, the same Markdown
parser and sanitiser. With htmx the body is posted to `preview/` as it is typed (after a pause);
without JavaScript the form's "Preview" button re-renders the form with the preview.
"""

from __future__ import annotations

import difflib
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.utils.safestring import mark_safe
from django.utils.text import slugify
from django.views import View
from django.views.generic import TemplateView

from itsm.errors import DomainError, InvalidInputError, PreconditionFailedError
from knowledgebase import services
from knowledgebase.forms.actions import STAFF
from knowledgebase.forms.article import BODY_MAX, ArticleForm
from knowledgebase.models import Article
from knowledgebase.rendering import render_markdown
from knowledgebase.views.base import ArticlePageMixin, DiffLine

TEMPLATE = "knowledgebase/editor.html"


def preview_of(body: str) -> Any:
    # The same function the services store `body_html` with: its output is sanitised.
    return mark_safe(render_markdown(body[:BODY_MAX]))  # noqa: S308


class ArticleEditorPage(ArticlePageMixin, TemplateView):
    """What create and edit share: the form, the preview button, refusals."""

    template_name = TEMPLATE
    page_roles = STAFF
    article: Article | None = None

    def get_form(self, data: Any = None) -> ArticleForm:
        article = self.article
        kwargs: dict[str, Any] = {
            "tenant": self.tenant,
            "may_restrict": self.is_editor,
            "versioned": article is not None,
        }
        if data is None and article is not None:
            kwargs["initial"] = {
                "title": article.title,
                "summary": article.summary,
                "body": article.body,
                "audience": article.audience,
                "service": article.service.slug if article.service else None,
                "category": article.category.slug if article.category else None,
                "tags": ", ".join(tag.name for tag in article.tags.all()),
                "teams": [team.slug for team in article.restricted_teams.all()],
                "version": article.version,
            }
        return ArticleForm(data, **kwargs)

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        return self.render_to_response(self.get_context_data(form=self.get_form()))

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        form = self.get_form(request.POST)
        if "preview" in request.POST:  # the no-script preview: nothing is saved
            preview = preview_of(request.POST.get("body", ""))
            return self.render_to_response(self.get_context_data(form=form, preview=preview))
        if not form.is_valid():
            return self.render_to_response(self.get_context_data(form=form), status=400)
        try:
            with transaction.atomic():  # a refused restriction undoes the save too
                article = self.save(form)
        except PreconditionFailedError:
            return self.conflict(form)
        except (InvalidInputError, ValidationError) as error:
            form.add_service_error(error)
            return self.render_to_response(self.get_context_data(form=form), status=400)
        except DomainError as error:  # e.g. retired meanwhile: 409, the text kept
            form.add_service_error(error)
            return self.render_to_response(self.get_context_data(form=form), status=409)
        messages.success(request, self.done_message(article))
        return redirect(self.detail_url(article))

    def save(self, form: ArticleForm) -> Article:
        raise NotImplementedError

    def done_message(self, article: Article) -> str:
        raise NotImplementedError

    def restrict(self, article: Article, form: ArticleForm) -> None:
        """Apply the chosen teams when an editor changed them (the restriction's own service)."""
        if not form.restricts:
            return
        wanted = form.chosen_teams()
        current = {team.pk for team in article.restricted_teams.all()} if self.article else set()
        if {team.pk for team in wanted} != current:
            services.article_restrict(
                tenant=self.tenant, article_id=article.pk, actor=self.request.user, teams=wanted
            )

    def conflict(self, form: ArticleForm) -> HttpResponse:
        """A stale version: nothing was written (only an edit carries a version)."""
        return self.render_to_response(self.get_context_data(form=form), status=409)

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        form: ArticleForm = context["form"]
        article = self.article
        context.update(
            article=article,
            editable=article is None or self.may_edit(article),
            preview=context.get("preview") or preview_of(str(form["body"].value() or "")),
        )
        return context


class ArticleCreatePage(ArticleEditorPage):
    """GET/POST /t/<tenant>/articles/new/: a new draft (staff roles, as the API's create)."""

    def save(self, form: ArticleForm) -> Article:
        article = services.article_create(
            tenant=self.tenant, actor=self.request.user, data=form.service_data()
        )
        self.restrict(article, form)
        return article

    def done_message(self, article: Article) -> str:
        return f"{article.reference} saved as a draft: submit it for review when it is ready."


class ArticleEditPage(ArticleEditorPage):
    """GET/POST /t/<tenant>/articles/KB-000042/edit/: edit the text and descriptive fields."""

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        self.article = self.get_article()  # first: a hidden article is a 404
        return self.role_refusal() or super().get(request, *args, **kwargs)

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        self.article = self.get_article()
        return self.role_refusal() or super().post(request, *args, **kwargs)

    def save(self, form: ArticleForm) -> Article:
        assert self.article is not None
        data = form.service_data()
        # Tags are replaced whenever they are given; unchanged ones are left out so that saving
        # an untouched form does not count as a change of the article.
        current = sorted(tag.slug for tag in self.article.tags.all())
        if sorted({slugify(name)[:64] for name in data["tags"]}) == current:
            del data["tags"]
        article = services.article_update(
            tenant=self.tenant,
            article_id=self.article.pk,
            actor=self.request.user,
            data=data,
            expected_version=form.cleaned_data["version"],
        )
        self.restrict(article, form)
        return article

    def done_message(self, article: Article) -> str:
        if article.is_published:
            return f"{article.reference} saved: readers see the new text now."
        return f"{article.reference} saved."

    def conflict(self, form: ArticleForm) -> HttpResponse:
        """Someone saved the article since this form was made: nothing was written. Keep the
        user's text, show what the current text is, and let them save again over it."""
        current = self.get_article()
        self.article = current
        data = self.request.POST.copy()
        data["version"] = str(current.version)
        rebound = self.get_form(data)
        rebound.is_valid()
        theirs = str(form.cleaned_data.get("body", ""))
        diff = difflib.unified_diff(
            current.body.splitlines(keepends=True),
            theirs.splitlines(keepends=True),
            fromfile=f"{current.reference} now (v{current.revision})",
            tofile="your text",
        )
        context = self.get_context_data(
            form=rebound,
            conflict=True,
            conflict_diff=[DiffLine.of(line.rstrip("\n")) for line in diff],
        )
        return self.render_to_response(context, status=409)


class ArticlePreviewPage(ArticlePageMixin, View):
    """POST /t/<tenant>/articles/preview/: the body rendered as it would be saved (htmx)."""

    page_roles = STAFF

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        context = {"preview": preview_of(request.POST.get("body", ""))}
        return TemplateResponse(request, f"{TEMPLATE}#preview", context)
