"""The incident page's "Problem and known fixes" card, served here because incidents do not
import problems (the card is registered in problems/workspace.py and loaded by htmx).

It shows the incident's problem, the published known errors and articles that best match the
incident, and "apply": a known error's workaround goes on the incident's timeline (and counts
once), an article is recorded as having helped. Without JavaScript the card is a page and an
apply redirects back to the incident (Post/Redirect/Get).
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.views import View

from incidents.choices import TERMINAL_STATUSES
from incidents.models import Incident
from itsm.errors import ConflictError, NotFoundError
from itsm.tenancy.choices import STAFF_ROLES
from itsm.tenancy.models import parse_reference
from itsm.web.views import TenantPageMixin
from problems import selectors, services

TEMPLATE = "problems/diagnosis/page.html"


class ApplyForm(forms.Form):
    """What to apply: a known error or an article, by reference (exactly one)."""

    known_error = forms.CharField(max_length=32, required=False)
    article = forms.CharField(max_length=32, required=False)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if bool(data.get("known_error")) == bool(data.get("article")):
            raise forms.ValidationError("Choose a known error or an article to apply.")
        return data


class IncidentKnowledgeMixin(TenantPageMixin):
    page_roles = frozenset(STAFF_ROLES)
    kwargs: dict[str, Any]
    request: HttpRequest

    def get_incident(self) -> Incident:
        number = parse_reference(Incident.NUMBER_PREFIX, self.kwargs["reference"])
        incident = (
            selectors.diagnosable_incidents(tenant=self.tenant, membership=self.membership)
            .filter(number=number)
            .first()
            if number is not None
            else None
        )
        if incident is None:
            raise Http404("No such incident.")
        return incident

    def render_card(
        self, incident: Incident, *, notice: tuple[str, str] | None = None, status: int = 200
    ) -> HttpResponse:
        context = {
            "tenant": self.tenant,
            "incident": incident,
            "diagnosis": selectors.incident_diagnosis(
                incident=incident, membership=self.membership
            ),
            "may_apply": incident.status not in TERMINAL_STATUSES,
            "apply_url": reverse(
                "problems:incident-knowledge-apply", args=[self.tenant.slug, incident.reference]
            ),
            "incident_url": reverse(
                "incidents:detail", args=[self.tenant.slug, incident.reference]
            ),
            "notice": notice,
        }
        htmx = self.request.headers.get("HX-Request") == "true"
        template = f"{TEMPLATE}#card" if htmx else TEMPLATE
        return TemplateResponse(self.request, template, context, status=status)


class IncidentKnowledgeCard(IncidentKnowledgeMixin, View):
    """GET /t/<tenant>/diagnosis/INC-000042/: the card (a page without JavaScript)."""

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        return self.render_card(self.get_incident())


class IncidentKnowledgeApply(IncidentKnowledgeMixin, View):
    """POST /t/<tenant>/diagnosis/INC-000042/apply/: apply a known error or an article."""

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        incident = self.get_incident()
        form = ApplyForm(request.POST)
        if not form.is_valid():
            return self.render_card(
                incident,
                notice=("error", " ".join(str(e) for e in form.non_field_errors())),
                status=400,
            )
        try:
            applied = services.knowledge_apply(
                tenant=self.tenant,
                membership=self.membership,
                incident_id=incident.pk,
                **form.cleaned_data,
            )
        except NotFoundError as error:
            raise Http404(error.message) from error
        except ConflictError as error:
            return self.render_card(incident, notice=("error", error.message), status=409)
        text = f"{applied.reference} applied: recorded on the timeline."
        if applied.linked_problem:
            text += f" The incident is now linked to {applied.linked_problem}."
        if request.headers.get("HX-Request") != "true":
            messages.success(request, text)
            return redirect(
                reverse("incidents:detail", args=[self.tenant.slug, incident.reference])
                + "#timeline"
            )
        response = self.render_card(incident, notice=("success", text))
        response["HX-Trigger"] = "timeline-changed"  # the incident page reloads its timeline
        return response
