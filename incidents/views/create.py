"""Record an incident: agents get the full form, requesters the simpler one, at the same URL.

Both post to `incidents.services.incident_create`, as the API does. Bad input re-renders the
form with its errors and status 400, everything typed kept; success redirects to the record
(Post/Redirect/Get) with a message.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.generic import TemplateView

from incidents import selectors, services
from incidents.forms.create import AgentIncidentForm, RequesterIncidentForm
from itsm.errors import InvalidInputError
from itsm.tenancy.choices import STAFF_ROLES
from itsm.web.views import TenantPageMixin


class IncidentCreatePage(TenantPageMixin, TemplateView):
    """The create form; staff roles record for a caller, requesters report for themselves."""

    template_name = "incidents/create.html"

    @property
    def is_agent(self) -> bool:
        return self.membership.role in STAFF_ROLES

    def get_form(self, data: Any = None) -> RequesterIncidentForm:
        form_class = AgentIncidentForm if self.is_agent else RequesterIncidentForm
        form = form_class(data=data, tenant=self.tenant, user=self.request.user)
        # As the title is typed, htmx shows open incidents that may be the same one under it.
        form.fields["title"].widget.attrs.update(
            {
                "hx-get": reverse("incidents:similar-open", args=[self.tenant.slug]),
                "hx-trigger": "input changed delay:400ms",
                "hx-target": "#similar-open",
                "hx-include": "this",
                "hx-sync": "this:replace",
            }
        )
        return form

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        return self.render_to_response(self.get_context_data(form=self.get_form()))

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        form = self.get_form(request.POST)
        if form.is_valid():
            try:
                with transaction.atomic():  # a refusal is shown on the form: keep the page's
                    incident = services.incident_create(
                        tenant=self.tenant, actor=request.user, data=form.service_data()
                    )
            except (InvalidInputError, ValidationError) as error:
                form.add_service_error(error)
            else:
                messages.success(
                    request,
                    _("%(reference)s recorded: %(title)s")
                    % {"reference": incident.reference, "title": incident.title},
                )
                return redirect("incidents:detail", self.tenant.slug, incident.reference)
        return self.render_to_response(self.get_context_data(form=form), status=400)

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["is_agent"] = self.is_agent
        if self.is_agent:
            context.update(self._priority_preview(context["form"]))
        return context

    def _priority_preview(self, form: RequesterIncidentForm) -> dict[str, Any]:
        """The tenant's matrix and labels for app.js, and the priority of what is selected
        now, shown as is when JavaScript does not run."""
        matrix = selectors.priority_matrix(tenant=self.tenant)
        labels = selectors.priority_labels(tenant=self.tenant)
        try:
            chosen = (int(form["impact"].value()), int(form["urgency"].value()))
        except (TypeError, ValueError):
            chosen = None
        current = matrix.get(chosen) if chosen is not None else None
        return {
            "priority_preview": {
                "matrix": {f"{impact},{urgency}": p for (impact, urgency), p in matrix.items()},
                "labels": {str(level): label for level, label in labels.items()},
            },
            "priority_now": labels.get(current, "—") if current is not None else "—",
        }
