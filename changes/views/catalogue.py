"""The standard change catalogue, kept by change managers (the API's template roles).

The list page shows the tenant's templates, active and retired, with how many changes were
raised from each, and a form for a new one. The edit page saves a template (a new version),
retires or reactivates it, or deletes it. Both write through the services the API uses; bad
input re-renders the form with its errors and status 400; success redirects with a message
(Post/Redirect/Get).
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db.models import Count, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.views.generic import TemplateView

from changes import selectors, services
from changes.choices import CHANGE_MANAGERS
from changes.forms.catalogue import TemplateForm, service_choices
from changes.models import ChangeTemplate
from changes.views.create import add_service_error
from changes.views.queues import rendered
from changes.views.record import risk_label
from itsm.errors import DomainError, NotFoundError
from itsm.web.views import TenantPageMixin
from problems.views.base import Notice, refusal_status

# The codes of the (tenant, name) constraint's error: the model reports it for no one field.
UNIQUE_CODES = frozenset({"unique", "unique_together"})
OPS = ("save", "retire", "reactivate", "delete")


def add_refusal(form: TemplateForm, error: DomainError | ValidationError) -> None:
    """The service's refusal next to its field; a name already taken next to the name."""
    if isinstance(error, ValidationError) and hasattr(error, "error_dict"):
        general = error.error_dict.get(NON_FIELD_ERRORS, [])
        taken = [item for item in general if item.code in UNIQUE_CODES]
        if taken:
            form.add_error("name", "A template with this name exists already.")
            rest = {k: v for k, v in error.error_dict.items() if k != NON_FIELD_ERRORS}
            rest_general = [item for item in general if item.code not in UNIQUE_CODES]
            if rest_general:
                rest[NON_FIELD_ERRORS] = rest_general
            if not rest:
                return
            error = ValidationError(rest)
    add_service_error(form, error)


class CatalogueMixin(TenantPageMixin):
    page_roles = CHANGE_MANAGERS

    def templates(self) -> QuerySet[ChangeTemplate]:
        """The tenant's templates with their services and how many changes each raised (one
        query for the rows and their counts, one for the services)."""
        templates: QuerySet[ChangeTemplate] = selectors.template_list(
            tenant=self.tenant, membership=self.membership
        ).annotate(changes_count=Count("changes"))
        return templates

    def make_form(self, data: Any = None, template: ChangeTemplate | None = None) -> TemplateForm:
        keep: list[int] = []
        initial: dict[str, Any] = {}
        if template is not None:
            initial = TemplateForm.initial_of(template)
            keep = initial["services"]
        form = TemplateForm(
            data, initial=initial, services=service_choices(self.tenant, keep), auto_id="t-%s"
        )
        form.wire_risk_preview(reverse("changes:risk-preview", args=[self.tenant.slug]))
        return form

    def form_context(self, form: TemplateForm) -> dict[str, Any]:
        return {"form": form, "risk_label": risk_label(form.risk_answers())}


class TemplateListPage(CatalogueMixin, TemplateView):
    """GET lists the catalogue and offers a new template; POST creates one."""

    template_name = "changes/catalogue/list.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        form: TemplateForm = kwargs.get("form") or self.make_form()
        context.update(templates=self.templates(), **self.form_context(form))
        return context

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        return rendered(self.render_to_response(self.get_context_data()))

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        form = self.make_form(request.POST)
        status = 400
        if form.is_valid():
            try:
                template = services.template_create(
                    tenant=self.tenant, actor=request.user, data=form.service_data()
                )
            except DomainError as error:
                add_refusal(form, error)
                status = refusal_status(error)
            except ValidationError as error:
                add_refusal(form, error)
            else:
                messages.success(request, f"Template added: {template.name}")
                return redirect("changes:catalogue", self.tenant.slug)
        return rendered(self.render_to_response(self.get_context_data(form=form), status=status))


class TemplateEditPage(CatalogueMixin, TemplateView):
    """GET shows one template's form; POST `op` saves, retires, reactivates or deletes it."""

    template_name = "changes/catalogue/edit.html"

    def get_template(self) -> ChangeTemplate:
        """The tenant's template the URL names (another tenant's, or none: 404)."""
        template: ChangeTemplate | None = self.templates().filter(pk=self.kwargs["pk"]).first()
        if template is None:
            raise Http404("No such change template.")
        return template

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        template: ChangeTemplate = kwargs["template"]
        form: TemplateForm = kwargs.get("form") or self.make_form(template=template)
        notices: list[Notice] = kwargs.get("notices") or []
        context.update(self.form_context(form), notices=notices)
        return context

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        template = self.get_template()
        return rendered(self.render_to_response(self.get_context_data(template=template)))

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        template = self.get_template()
        op = request.POST.get("op", "save")
        if op not in OPS:
            notices: list[Notice] = [("error", "Unknown operation.")]
            return self.refused(template, notices=notices, status=400)
        if op == "save":
            return self.save(template)
        try:
            if op == "delete":
                services.template_delete(
                    tenant=self.tenant, template_id=template.pk, actor=request.user
                )
            else:
                services.template_update(
                    tenant=self.tenant,
                    template_id=template.pk,
                    actor=request.user,
                    data={"is_active": op == "reactivate"},
                )
        except NotFoundError as error:
            raise Http404(error.message) from error
        except DomainError as error:
            notices = [("error", error.message)]
            return self.refused(template, notices=notices, status=refusal_status(error))
        if op == "delete":
            messages.success(request, f"Template deleted: {template.name}")
            return redirect("changes:catalogue", self.tenant.slug)
        done = (
            "Reactivated: back in the catalogue"
            if op == "reactivate"
            else "Retired: no longer in the catalogue"
        )
        messages.success(request, f"{done} ({template.name}).")
        return redirect("changes:catalogue-template", self.tenant.slug, template.pk)

    def save(self, template: ChangeTemplate) -> HttpResponse:
        form = self.make_form(self.request.POST, template=template)
        status = 400
        if form.is_valid():
            try:
                saved = services.template_update(
                    tenant=self.tenant,
                    template_id=template.pk,
                    actor=self.request.user,
                    data=form.service_data(),
                )
            except NotFoundError as error:
                raise Http404(error.message) from error
            except DomainError as error:
                add_refusal(form, error)
                status = refusal_status(error)
            except ValidationError as error:
                add_refusal(form, error)
            else:
                if saved.version == template.version:
                    messages.info(self.request, f"Nothing changed: still version {saved.version}")
                else:
                    messages.success(self.request, f"Saved: version {saved.version}")
                return redirect("changes:catalogue-template", self.tenant.slug, template.pk)
        return self.refused(template, form=form, status=status)

    def refused(
        self,
        template: ChangeTemplate,
        *,
        status: int,
        form: TemplateForm | None = None,
        notices: list[Notice] | None = None,
    ) -> HttpResponse:
        context = self.get_context_data(template=template, form=form, notices=notices)
        return rendered(self.render_to_response(context, status=status))
