"""The create form's "possibly the same" hint: open incidents whose words match the title being
typed, so that a caller's second report of the same outage joins the first instead.

htmx asks for it as the title changes and puts the fragment under the field; without JavaScript
it simply does not show. Requesters see only the incidents they reported, as everywhere.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.views import View

from incidents import selectors
from incidents.choices import OPEN_STATUSES
from incidents.models import Incident
from itsm.search.selectors import ranked
from itsm.tenancy.choices import MembershipRole
from itsm.tenancy.models import Membership, Tenant
from itsm.web.views import TenantPageMixin

TEMPLATE = "incidents/similar_open.html"
SHOWN = 5
# A requester may see few of the tenant's matches: ask for more, keep the first visible ones.
REQUESTER_CANDIDATES = 50
MAX_TITLE = Incident._meta.get_field("title").max_length


def similar_open(*, tenant: Tenant, membership: Membership, title: str) -> list[Incident]:
    """Up to SHOWN open incidents the member may see, best match first."""
    if not title.strip():
        return []
    requester = membership.role == MembershipRole.REQUESTER
    hits = ranked(
        tenant_id=tenant.pk,
        kinds=["incident"],
        text=title,
        limit=REQUESTER_CANDIDATES if requester else SHOWN,
        statuses=sorted(OPEN_STATUSES),
    )
    order = {hit.object_id: position for position, hit in enumerate(hits)}
    visible = selectors.incident_list(tenant=tenant, membership=membership).filter(
        pk__in=list(order), status__in=OPEN_STATUSES
    )
    return sorted(visible, key=lambda incident: order[incident.pk])[:SHOWN]


class SimilarOpenIncidents(TenantPageMixin, View):
    """GET /t/<tenant>/incidents/new/similar/?title=…: the list (empty for no title)."""

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        title = request.GET.get("title", "")[:MAX_TITLE]
        incidents = similar_open(tenant=self.tenant, membership=self.membership, title=title)
        context = {"tenant": self.tenant, "incidents": incidents, "title": title}
        # htmx puts the list under the field; asked for as a page, it is one.
        htmx = request.headers.get("HX-Request") == "true"
        return TemplateResponse(request, f"{TEMPLATE}#hint" if htmx else TEMPLATE, context)
