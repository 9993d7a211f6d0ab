"""Raise a change, for any staff member (the API's create roles): a normal or emergency change,
or a standard one from the tenant's catalogue of templates (change managers, as the API's
`create-change/` on a template).

A normal change posts to `changes.services.change_create` and links the problems it fixes
through `change_link_problems` in the same transaction: a reference the link refuses records no
change either. `?problem=PRB-000042` (or KE-…) fills in the fix and the title: the way a change
manager raises a change from a problem's page. Members who may not link problems (the API's
`link_problems` roles) get no such field, and the page says so. Bad input re-renders the form
with its errors and status 400; success redirects to the change (Post/Redirect/Get).
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.generic import TemplateView

from changes import selectors, services
from changes.choices import CHANGE_MANAGERS, PROBLEM_LINKERS
from changes.forms.create import (
    FIX_PREFIXES,
    ChangeCreateForm,
    StandardChangeForm,
    field_choices,
    in_tenant_time_zone,
)
from changes.models import Change, ChangeTemplate
from changes.views.queues import rendered
from itsm.errors import DomainError, NotFoundError
from itsm.tenancy.models import MAX_NUMBER, parse_reference
from itsm.web.views import TenantPageMixin
from problems import selectors as problem_selectors
from problems.models import KnownError, Problem
from problems.views.base import STAFF, Notice

# Where the link service names a reference it refused: the form's one field for both.
FIX_FIELDS = frozenset(FIX_PREFIXES.values())


class ChangeCreatePage(TenantPageMixin, TemplateView):
    """GET shows both ways to raise a change; POST records one of them."""

    template_name = "changes/create.html"
    page_roles = STAFF

    @property
    def may_link(self) -> bool:
        return self.membership.role in PROBLEM_LINKERS

    @property
    def may_raise_standard(self) -> bool:
        return self.membership.role in CHANGE_MANAGERS

    def get_form(self, data: Any = None) -> ChangeCreateForm:
        initial: dict[str, Any] = {}
        fixed = self.fixed_record()
        if fixed is not None:
            initial.update(fixes=fixed.reference, title=f"Fix for {fixed.reference}: {fixed.title}")
        return ChangeCreateForm(
            data, initial=initial, choices=field_choices(self.tenant), may_link=self.may_link
        )

    def fixed_record(self) -> Problem | KnownError | None:
        """The problem or known error named by `?problem=`, if the member may see it."""
        reference = self.request.GET.get("problem", "").strip().upper()[:32]
        for model, records in (
            (Problem, problem_selectors.problem_list),
            (KnownError, problem_selectors.known_error_list),
        ):
            if not reference.startswith(f"{model.NUMBER_PREFIX}-"):
                continue
            number = parse_reference(model.NUMBER_PREFIX, reference)
            if number is None or number > MAX_NUMBER:
                return None
            found: Problem | KnownError | None = (
                records(tenant=self.tenant, membership=self.membership)
                .filter(number=number)
                .first()
            )
            return found
        return None

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        bound: StandardChangeForm | None = kwargs.get("standard_form")
        templates = list(
            selectors.template_list(tenant=self.tenant, membership=self.membership).filter(
                is_active=True
            )
        )
        listed = {str(template.pk) for template in templates}
        notices: list[Notice] = kwargs.get("notices") or self.notices()
        if bound is not None and bound.data.get("standard-template") not in listed:
            # Its template is not in the catalogue (any more): say what was wrong up here.
            errors = [str(error) for errors in bound.errors.values() for error in errors]
            notices = [*notices, *(("error", error) for error in errors)]
        context.update(
            templates=[
                (
                    template,
                    bound
                    if bound is not None and bound.data.get("standard-template") == str(template.pk)
                    else StandardChangeForm(
                        initial={"template": template.pk},
                        auto_id=f"standard-{template.pk}-%s",
                    ),
                )
                for template in templates
            ],
            may_raise_standard=self.may_raise_standard,
            notices=notices,
        )
        if "form" not in context:
            context["form"] = self.get_form()
        return context

    def notices(self) -> list[Notice]:
        reference = self.request.GET.get("problem", "").strip()[:32]
        if reference and not self.may_link:
            return [
                (
                    "info",
                    (
                        "Your role may not link problems to changes: once the change is "
                        f"raised, ask a change or problem manager to link {reference} to it."
                    ),
                )
            ]
        return []

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        with in_tenant_time_zone(self.tenant):
            return rendered(self.render_to_response(self.get_context_data()))

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        with in_tenant_time_zone(self.tenant):
            if "standard-template" in request.POST:
                return rendered(self.raise_standard())
            return rendered(self.raise_change())

    # --- A normal or emergency change ---

    def raise_change(self) -> HttpResponse:
        form = self.get_form(self.request.POST)
        if form.is_valid():
            try:
                change = self.record(form)
            except (DomainError, ValidationError) as error:
                add_service_error(form, error)
            else:
                return self.created(change)
        return self.render_to_response(self.get_context_data(form=form), status=400)

    def record(self, form: ChangeCreateForm) -> Change:
        fixes = form.fix_references()
        return services.change_create_fixing(
            tenant=self.tenant,
            actor=self.request.user,
            data=form.field_data(),
            problems=fixes.get("problems", []),
            known_errors=fixes.get("known_errors", []),
        )

    # --- A standard change from the catalogue ---

    def raise_standard(self) -> HttpResponse:
        form = StandardChangeForm(
            self.request.POST,
            auto_id=f"standard-{self.request.POST.get('standard-template', '')[:12]}-%s",
        )
        if not self.may_raise_standard:
            notices: list[Notice] = [("error", "Your role may not raise standard changes.")]
            return self.render_to_response(self.get_context_data(notices=notices), status=403)
        if form.is_valid():
            try:
                change = services.change_create_from_template(
                    tenant=self.tenant,
                    template_id=self.template_of(form).pk,
                    actor=self.request.user,
                    data=form.service_data(),
                )
            except NotFoundError as error:
                raise Http404(error.message) from error
            except (DomainError, ValidationError) as error:
                add_service_error(form, error)
            else:
                return self.created(change)
        notices = [("error", "The standard change was not raised: see its template below.")]
        return self.render_to_response(
            self.get_context_data(standard_form=form, notices=notices), status=400
        )

    def template_of(self, form: StandardChangeForm) -> ChangeTemplate:
        """The tenant's template the form names (another tenant's, or none: 404)."""
        template: ChangeTemplate | None = (
            selectors.template_list(tenant=self.tenant, membership=self.membership)
            .filter(pk=form.cleaned_data["template"])
            .first()
        )
        if template is None:
            raise Http404("No such change template.")
        return template

    def created(self, change: Change) -> HttpResponse:
        messages.success(self.request, f"{change.reference} raised: {change.title}")
        return redirect("changes:detail", self.tenant.slug, change.reference)


def add_service_error(form: forms.Form, error: DomainError | ValidationError) -> None:
    """Show what the service refused next to the field it names (else above the form); the
    link service's `problems` and `known_errors` are the form's `fixes`."""
    if isinstance(error, DomainError):
        fields = {name: list(reasons) for name, reasons in error.fields.items()}
        general = [error.message]
    else:
        fields = dict(error.message_dict) if hasattr(error, "error_dict") else {}
        general = error.messages
    if not fields:
        form.add_error(None, general)
    for name, reasons in fields.items():
        target = "fixes" if name in FIX_FIELDS else name
        form.add_error(target if target in form.fields else None, reasons)
