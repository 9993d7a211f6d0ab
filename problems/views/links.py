"""Link incidents to a problem in bulk: a searchable list of the tenant's incidents with a
checkbox each, and one call of the link service with every ticked reference.

All or nothing, as the service is: one reference it refuses (no such incident, linked to another
problem) writes nothing, and the page lists why, per incident, with the ticks kept.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.views import View

from incidents import selectors as incident_selectors
from incidents.choices import OPEN_STATUSES
from incidents.models import Incident
from itsm.errors import ConflictError, DomainError, NotFoundError, PreconditionFailedError
from itsm.search.selectors import filter_matching
from itsm.web.views import TenantPageMixin
from problems import selectors, services
from problems.choices import TERMINAL_PROBLEM_STATUSES
from problems.forms.actions import LINKERS
from problems.forms.links import IncidentFilterForm, LinkForm
from problems.models import Problem
from problems.views.base import Notice
from problems.views.record import _references, problem_of

TEMPLATE = "problems/link.html"
PAGE_SIZE = 200  # the newest first; search or filter to reach older ones


class ProblemLinkPage(TenantPageMixin, View):
    """GET lists the incidents to pick from; POST links the ticked ones, all in one call."""

    page_roles = LINKERS
    kwargs: dict[str, Any]

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        problem = problem_of(self.tenant, self.membership, self.kwargs["reference"])
        return self.render_page(problem, LinkForm(initial={"version": problem.version}))

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        problem = problem_of(self.tenant, self.membership, self.kwargs["reference"])
        form = LinkForm(request.POST)
        if not form.is_valid():
            return self.render_page(
                problem, form, [("error", "Please correct the errors below.")], status=400
            )
        try:
            result = services.problem_link_incidents(
                tenant=self.tenant,
                problem_id=problem.pk,
                actor=request.user,
                incidents=form.cleaned_data["incidents"],
                hold=form.cleaned_data["hold"],
                expected_version=form.cleaned_data["version"],
            )
        except DomainError as error:
            return self.refused(form, error)
        notices: list[Notice] = [("success", f"Linked {len(result.changed)} incidents.")]
        if result.changed:
            notices.append(("success", f"Linked: {_references(result.changed)}."))
        if result.unchanged:
            notices.append(("info", f"Already linked: {_references(result.unchanged)}."))
        if result.held:
            notices.append(("info", f"Put on hold: {_references(result.held)}."))
        if self.is_htmx:
            problem = problem_of(self.tenant, self.membership, self.kwargs["reference"])
            return self.render_page(
                problem, LinkForm(initial={"version": problem.version}), notices
            )
        for level, text in notices:
            messages.add_message(request, getattr(messages, level.upper()), text)
        return redirect(request.get_full_path())

    def refused(self, form: LinkForm, error: DomainError) -> HttpResponse:
        """Nothing was written: say why, per incident where the service says so."""
        if isinstance(error, NotFoundError):
            raise Http404(error.message)
        problem = problem_of(self.tenant, self.membership, self.kwargs["reference"])
        if isinstance(error, PreconditionFailedError):
            data = self.request.POST.copy()
            data["version"] = str(problem.version)
            text = (
                f"{problem.reference} was changed while you were choosing. Nothing was linked: "
                "check the list and link again."
            )
            return self.render_page(problem, LinkForm(data), [("warning", text)], status=409)
        notices: list[Notice] = [("error", error.message)]
        notices += [("error", str(reason)) for reason in error.fields.get("incidents", [])]
        return self.render_page(
            problem, form, notices, status=409 if isinstance(error, ConflictError) else 400
        )

    @property
    def is_htmx(self) -> bool:
        return self.request.headers.get("HX-Request") == "true"

    def render_page(
        self,
        problem: Problem,
        form: LinkForm,
        notices: list[Notice] | None = None,
        status: int = 200,
    ) -> HttpResponse:
        filters = IncidentFilterForm(self.request.GET or None, tenant=self.tenant)
        rows: list[tuple[Incident, str]] = []
        problems = list(notices or [])
        if filters.is_bound and not filters.is_valid():
            problems += [
                ("error", f"{name}: {' '.join(str(e) for e in errors)}")
                for name, errors in filters.errors.items()
            ]
            status = 400 if status == 200 else status
        else:
            incidents = self.incidents(filters)
            linked = selectors.incident_problem_references(
                tenant=self.tenant, incident_ids=[incident.pk for incident in incidents]
            )
            rows = [(incident, linked.get(incident.pk, "")) for incident in incidents]
        ticked = set(form["incidents"].value() or []) if form.is_bound else set()
        context = {
            "tenant": self.tenant,
            "membership": self.membership,
            "problem": problem,
            "form": form,
            "filters": filters,
            "rows": [
                (incident, linked_to, incident.reference in ticked) for incident, linked_to in rows
            ],
            "page_size": PAGE_SIZE,
            "services": _pairs(filters.fields["service"]),
            "categories": _pairs(filters.fields["category"]),
            "notices": problems,
            "may_link": problem.status not in TERMINAL_PROBLEM_STATUSES,
        }
        template = f"{TEMPLATE}#picker" if self.is_htmx else TEMPLATE
        return TemplateResponse(self.request, template, context, status=status)

    def incidents(self, filters: IncidentFilterForm) -> list[Incident]:
        """The tenant's incidents the filters ask for, newest first (one query)."""
        data = filters.cleaned_data if filters.is_bound else {}
        incidents = incident_selectors.incident_list(
            tenant=self.tenant, membership=self.membership
        ).prefetch_related(None)
        if data.get("status", "open") != "all":
            incidents = incidents.filter(status__in=OPEN_STATUSES)
        if data.get("service"):
            incidents = incidents.filter(service=data["service"])
        if data.get("category"):
            incidents = incidents.filter(category=data["category"])
        incidents = filter_matching(
            incidents, tenant_id=self.tenant.pk, kind="incident", text=data.get("q", "")
        )
        return list(incidents.order_by("-created_at", "-id")[:PAGE_SIZE])


def _pairs(field: Any) -> list[tuple[str, str]]:
    """(slug, name) of a filter's choices, for the filter bar's select."""
    return list(field.queryset.values_list("slug", "name"))
