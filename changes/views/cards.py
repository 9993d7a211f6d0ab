"""The cards changes add to lower apps' record pages (registered in changes/workspace.py and
loaded by htmx; without JavaScript each card is a page of its own):

- on a problem's and a known error's page: the changes that fix it, and "Raise a change for
  this fix";
- on an incident's page: the change recorded as its cause, and a form to record one (the same
  service as the change page's "Record incidents").
"""

from __future__ import annotations

from typing import Any, ClassVar

from django import forms
from django.contrib import messages
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.views import View

from changes import selectors, services
from changes.choices import PROBLEM_LINKERS
from changes.models import Change
from incidents.models import Incident
from incidents.selectors import incident_list
from itsm.errors import DomainError, NotFoundError
from itsm.tenancy.choices import STAFF_ROLES
from itsm.tenancy.models import MAX_NUMBER, parse_reference
from itsm.web.views import TenantPageMixin
from problems.views.base import refusal_status
from problems.views.known_errors import known_error_of
from problems.views.record import problem_of

Notice = tuple[str, str]  # (level, text)


class _Card(TenantPageMixin, View):
    page_roles = frozenset(STAFF_ROLES)
    template: ClassVar[str]  # a page with a partial "card", which htmx gets alone
    kwargs: dict[str, Any]
    request: HttpRequest

    def card(self, context: dict[str, Any], status: int = 200) -> HttpResponse:
        htmx = self.request.headers.get("HX-Request") == "true"
        template = f"{self.template}#card" if htmx else self.template
        return TemplateResponse(
            self.request, template, {"tenant": self.tenant, **context}, status=status
        )


class ProblemChangesCard(_Card):
    """GET /t/<tenant>/change-links/problem/PRB-…/: the changes that fix the problem."""

    template = "changes/cards/fixes.html"

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        problem = problem_of(self.tenant, self.membership, self.kwargs["reference"])
        changes = selectors.problem_changes(
            tenant=self.tenant, membership=self.membership, problem=problem
        )
        return self.fixes_card(problem, changes, "problems:detail")

    def fixes_card(self, record: Any, changes: QuerySet[Change], detail: str) -> HttpResponse:
        return self.card(
            {
                "record": record,
                "changes": list(changes.prefetch_related(None)),
                "may_raise": self.membership.role in PROBLEM_LINKERS,
                "record_url": reverse(detail, args=[self.tenant.slug, record.reference]),
            }
        )


class KnownErrorChangesCard(ProblemChangesCard):
    """GET /t/<tenant>/change-links/known-error/KE-…/: the changes that fix the known error."""

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        known_error = known_error_of(self.tenant, self.membership, self.kwargs["reference"])
        changes = selectors.problem_changes(
            tenant=self.tenant, membership=self.membership, known_error=known_error
        )
        return self.fixes_card(known_error, changes, "problems:known-error")


class CauseForm(forms.Form):
    change = forms.CharField(max_length=32, label="Change number", help_text="e.g. CHG-000042")


class IncidentChangesCard(_Card):
    """GET/POST /t/<tenant>/change-links/incident/INC-…/: the change that caused the incident;
    POST records one (any staff member, as on the change's page)."""

    template = "changes/cards/incident.html"

    def get_incident(self) -> Incident:
        number = parse_reference(Incident.NUMBER_PREFIX, self.kwargs["reference"])
        incident = (
            incident_list(tenant=self.tenant, membership=self.membership)
            .filter(number=number)
            .first()
            if number is not None and number <= MAX_NUMBER
            else None
        )
        if incident is None:
            raise Http404("No such incident.")
        return incident

    def render_card(
        self,
        incident: Incident,
        *,
        form: CauseForm | None = None,
        notice: Notice | None = None,
        status: int = 200,
    ) -> HttpResponse:
        cause = (
            selectors.incident_changes(
                tenant=self.tenant, membership=self.membership, incident=incident
            )
            .prefetch_related(None)
            .first()
        )
        return self.card(
            {
                "incident": incident,
                "cause": cause,
                "form": form or CauseForm(auto_id="cause-%s"),
                "notice": notice,
                "card_url": reverse(
                    "changes:incident-changes", args=[self.tenant.slug, incident.reference]
                ),
                "record_url": reverse(
                    "incidents:detail", args=[self.tenant.slug, incident.reference]
                ),
            },
            status,
        )

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        return self.render_card(self.get_incident())

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        incident = self.get_incident()
        form = CauseForm(request.POST, auto_id="cause-%s")
        if not form.is_valid():
            return self.render_card(incident, form=form, status=400)
        change = self._change(form.cleaned_data["change"])
        if change is None:
            form.add_error("change", "No such change.")
            return self.render_card(incident, form=form, status=400)
        try:
            services.change_record_incidents(
                tenant=self.tenant,
                change_id=change.pk,
                actor=request.user,
                incidents=[incident.reference],
            )
        except NotFoundError as error:
            raise Http404(error.message) from error
        except DomainError as error:  # the change is closed, the incident has another cause…
            reasons = [reason for found in error.fields.values() for reason in found]
            form.add_error("change", reasons or [error.message])
            return self.render_card(incident, form=form, status=refusal_status(error))
        text = f"Recorded as caused by {change.reference}."
        if request.headers.get("HX-Request") != "true":
            messages.success(request, text)
            return redirect(
                reverse("incidents:detail", args=[self.tenant.slug, incident.reference])
            )
        return self.render_card(incident, notice=("success", text))

    def _change(self, reference: str) -> Change | None:
        number = parse_reference(Change.NUMBER_PREFIX, reference)
        if number is None or number > MAX_NUMBER:
            return None
        changes = selectors.change_list(tenant=self.tenant, membership=self.membership)
        return changes.select_related(None).prefetch_related(None).filter(number=number).first()
