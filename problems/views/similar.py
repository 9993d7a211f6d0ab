"""The incident page's "Similar incidents" card: has this happened before? Served here because
incidents do not import problems (registered in problems/workspace.py, loaded by htmx; without
JavaScript the card is a page of its own).

The neighbours come from the last trend run (or a live match for an incident it has not read),
through `selectors.similar_incidents`, limited to what the member may see.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.views import View

from problems import selectors
from problems.views.diagnosis import IncidentKnowledgeMixin

TEMPLATE = "problems/similar/page.html"


class IncidentSimilarCard(IncidentKnowledgeMixin, View):
    """GET /t/<tenant>/similar/INC-000042/: the card (a page without JavaScript)."""

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        incident = self.get_incident()  # the same incidents the diagnosis card may show
        context = {
            "tenant": self.tenant,
            "incident": incident,
            "similar": selectors.similar_incidents(incident=incident, membership=self.membership),
            "incident_url": reverse(
                "incidents:detail", args=[self.tenant.slug, incident.reference]
            ),
        }
        htmx = request.headers.get("HX-Request") == "true"
        return TemplateResponse(request, f"{TEMPLATE}#card" if htmx else TEMPLATE, context)
