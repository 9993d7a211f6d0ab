"""Record a problem, for problem managers and tenant administrators (the API's create roles).

Posts to `problems.services.problem_create`, as the API does, and links the incidents named by
`?incidents=INC-1,INC-2` in the same transaction through the link service: a refused link
records no problem either. Bad input re-renders the form with its errors and status 400;
success redirects to the record (Post/Redirect/Get).
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.generic import TemplateView

from itsm.errors import DomainError
from itsm.web.views import TenantPageMixin
from problems import services
from problems.forms.actions import PROBLEM_MANAGERS
from problems.forms.create import ProblemCreateForm, field_choices
from problems.models import Problem


class ProblemCreatePage(TenantPageMixin, TemplateView):
    template_name = "problems/create.html"
    page_roles = PROBLEM_MANAGERS

    def get_form(self, data: Any = None) -> ProblemCreateForm:
        initial = {
            "problem_manager": self.request.user.pk,
            "incidents": self.request.GET.get("incidents", "")[:4000],
        }
        return ProblemCreateForm(data, initial=initial, choices=field_choices(self.tenant))

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        return self.render_to_response(self.get_context_data(form=self.get_form()))

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        form = self.get_form(request.POST)
        if form.is_valid():
            try:
                problem = self.record(form)
            except (DomainError, ValidationError) as error:
                add_service_error(form, error)
            else:
                messages.success(request, f"{problem.reference} recorded: {problem.title}")
                return redirect("problems:detail", self.tenant.slug, problem.reference)
        return self.render_to_response(self.get_context_data(form=form), status=400)

    @transaction.atomic
    def record(self, form: ProblemCreateForm) -> Problem:
        problem = services.problem_create(
            tenant=self.tenant, actor=self.request.user, data=form.field_data()
        )
        if form.references():
            services.problem_link_incidents(
                tenant=self.tenant,
                problem_id=problem.pk,
                actor=self.request.user,
                incidents=form.references(),
            )
        return problem


def add_service_error(form: ProblemCreateForm, error: DomainError | ValidationError) -> None:
    """Show what the service refused next to the field it names (else above the form)."""
    if isinstance(error, DomainError):
        fields = {name: list(reasons) for name, reasons in error.fields.items()}
        general = [error.message]
    else:
        fields = dict(error.message_dict) if hasattr(error, "error_dict") else {}
        general = error.messages
    if not fields:
        form.add_error(None, general)
    for name, reasons in fields.items():
        form.add_error(name if name in form.fields else None, reasons)
