"""Trend analysis pages: the problem suggestions with the latest run, and one suggestion with its
evidence, its incidents and the problem manager's decision (accept, merge or dismiss).

The list is an `itsm.web.queues.QueuePage` (tabs Open / Decided / All). The latest run sits on
top with a progress bar that htmx refreshes while the run is queued or running; problem managers
start one from there. A suggestion's actions post through `RecordActionPage` to the services the
API uses; accepting or merging leads to the problem.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django import forms
from django.contrib import messages
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse

from itsm.catalog import selectors as catalog_selectors
from itsm.errors import ConflictError, InvalidInputError
from itsm.tenancy.models import MAX_NUMBER, Membership, Tenant, parse_reference
from itsm.web.queues import MAX_QUERY_LENGTH, Queue, QueuePage
from problems import selectors, services
from problems.choices import SuggestionStatus, TrendRunStatus, TrendRunTrigger
from problems.filters import SuggestionFilterSet
from problems.forms.actions import PROBLEM_MANAGERS, ActionSpec, VersionedForm
from problems.forms.suggestions import SUGGESTION_ACTIONS
from problems.models import Problem, ProblemSuggestion, TrendRun
from problems.tasks import start_trend_run
from problems.views.base import (
    STAFF,
    Notice,
    Outcome,
    Panel,
    RecordActionPage,
    RecordPage,
    action_panels,
    display_name,
)
from problems.views.queues import words_match

LIST_TEMPLATE = "problems/suggestions/list.html"
RECORD_TEMPLATE = "problems/suggestions/record.html"
RUN_PANEL_ID = "trend-run"  # the element htmx refreshes while a run is active
RUN_FINISHED_EVENT = "trend-run-finished"  # the rows reload on it (list.html)
SHOWN_TERMS = 5  # shared terms on a list row (the suggestion page shows them all)
ACTIVE_RUN = frozenset({TrendRunStatus.QUEUED, TrendRunStatus.RUNNING})


# --- Evidence ------------------------------------------------------------------------------------


def _moment(value: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(str(value)) if value else None
    except ValueError:
        return None


def _count(value: Any) -> int:
    return value if isinstance(value, int) else 0


def _counted(items: Any) -> list[tuple[int, int]]:
    """[{value: id, count: n}, …] as (id, n) pairs; anything else is left out."""
    return [
        (item["value"], _count(item.get("count")))
        for item in (items if isinstance(items, list) else [])
        if isinstance(item, dict) and isinstance(item.get("value"), int)
    ]


@dataclass(frozen=True)
class Evidence:
    """Why the incidents belong together, read from the suggestion's evidence (which an older
    run may have written with fewer keys: whatever is missing shows as nothing)."""

    terms: list[str]
    first_at: datetime | None
    last_at: datetime | None
    span_hours: float | None
    sev1: int
    sev2: int
    sla_breaches: int
    reassignments: int
    services: list[tuple[int, int]] = field(default_factory=list)
    categories: list[tuple[int, int]] = field(default_factory=list)

    @classmethod
    def of(cls, suggestion: ProblemSuggestion) -> Evidence:
        data: dict[str, Any] = suggestion.evidence if isinstance(suggestion.evidence, dict) else {}
        span = data.get("span_hours")
        return cls(
            terms=[str(term) for term in data.get("terms") or []],
            first_at=_moment(data.get("first_at")),
            last_at=_moment(data.get("last_at")),
            span_hours=float(span) if isinstance(span, (int, float)) else None,
            sev1=_count(data.get("sev1")),
            sev2=_count(data.get("sev2")),
            sla_breaches=_count(data.get("sla_breaches")),
            reassignments=_count(data.get("reassignments")),
            services=_counted(data.get("services")),
            categories=_counted(data.get("categories")),
        )

    @property
    def top_terms(self) -> list[str]:
        return self.terms[:SHOWN_TERMS]

    @property
    def span(self) -> str:
        """The time between the first and the last incident, in words."""
        if self.span_hours is None:
            return ""
        if self.span_hours < 48:
            return f"{self.span_hours:g} hours"
        return f"{self.span_hours / 24:.1f} days"


def _names(queryset: QuerySet[Any], pairs: list[tuple[int, int]]) -> list[tuple[str, int]]:
    """(name, count) of the tenant's services or categories; an id the tenant does not have
    (deleted since the run) is left out."""
    names = dict(queryset.filter(pk__in=[pk for pk, _ in pairs]).values_list("pk", "name"))
    return [(names[pk], count) for pk, count in pairs if pk in names]


# --- The list and the latest run -----------------------------------------------------------------


def _open(suggestions: QuerySet[Any], membership: Membership) -> QuerySet[Any]:
    return suggestions.filter(status=SuggestionStatus.OPEN)


def _decided(suggestions: QuerySet[Any], membership: Membership) -> QuerySet[Any]:
    return suggestions.exclude(status=SuggestionStatus.OPEN)


def _everything(suggestions: QuerySet[Any], membership: Membership) -> QuerySet[Any]:
    return suggestions


SUGGESTION_QUEUES = (
    Queue("open", "Open", _open, STAFF, "-score"),
    Queue("decided", "Decided", _decided, STAFF, "-created_at"),
    Queue("all", "All", _everything, STAFF, "-created_at"),
)


class SuggestionListPage(QueuePage):
    """GET /t/<tenant>/problems/suggestions/: the suggestions, best first, under the latest run."""

    page_roles = STAFF
    template_name = LIST_TEMPLATE
    rows_template = f"{LIST_TEMPLATE}#rows"
    page_name = "problems:suggestions"
    queues = SUGGESTION_QUEUES
    filterset_class = SuggestionFilterSet
    ordering_fields = {
        "score": "Score",
        "incident_count": "Incidents",
        "created_at": "Suggested",
        "number": "Number",
    }
    search_kind = ""  # suggestions are not in the search structure: titles are matched directly
    # What a refused run request leaves for the page: (status, notice).
    refusal: tuple[int, Notice] | None = None
    run_active = False  # whether the latest run is queued or running (set by run_context)

    def get_base_queryset(self) -> QuerySet[ProblemSuggestion]:
        return selectors.suggestion_list(tenant=self.tenant, membership=self.membership)

    def search(self, queryset: QuerySet[Any], query: str) -> QuerySet[Any]:
        return words_match(queryset, ("title",), query[:MAX_QUERY_LENGTH])

    def decorate(self, rows: list[Any]) -> list[Any]:
        return [(suggestion, Evidence.of(suggestion)) for suggestion in rows]

    def run_context(self, notice: Notice | None = None) -> dict[str, Any]:
        run: TrendRun | None = selectors.trend_run_list(
            tenant=self.tenant, membership=self.membership
        ).first()
        self.run_active = run is not None and run.status in ACTIVE_RUN
        return {
            "run": run,
            "run_active": self.run_active,
            "run_url": reverse("problems:trend-run", args=[self.tenant.slug]),
            "run_panel_id": RUN_PANEL_ID,
            "may_run": self.membership.role in PROBLEM_MANAGERS,
            "run_notice": notice,
        }

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        if not self.rows_only:
            context.update(self.run_context(self.refusal[1] if self.refusal else None))
        return context

    def render_to_response(self, context: dict[str, Any], **kwargs: Any) -> HttpResponse:
        if self.refusal is not None:
            kwargs["status"] = self.refusal[0]
        return super().render_to_response(context, **kwargs)


class TrendRunPage(SuggestionListPage):
    """/t/<tenant>/problems/suggestions/run/. POST starts an analysis now (problem managers);
    GET is the run panel htmx polls while a run is active (without JavaScript: the list)."""

    @property
    def is_htmx(self) -> bool:
        return self.request.headers.get("HX-Request") == "true"

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if self.is_htmx and request.headers.get("HX-Target") == RUN_PANEL_ID:
            response = self.render_run()
            if not self.run_active:
                # The poll that finds the run finished: the rows reload with what it made.
                response["HX-Trigger"] = RUN_FINISHED_EVENT
            return response
        return super().get(request, *args, **kwargs)

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if self.membership.role not in PROBLEM_MANAGERS:
            return self.refuse(403, "Your role may not start an analysis.")
        try:
            start_trend_run(tenant=self.tenant, actor=request.user, trigger=TrendRunTrigger.MANUAL)
        except ConflictError as error:
            return self.refuse(409, f"{error.message} Wait for it to finish.")
        text = "Analysis queued: its progress shows here."
        if self.is_htmx:
            return self.render_run(("success", text))
        messages.success(request, text)
        return redirect("problems:suggestions", self.tenant.slug)

    def refuse(self, status: int, text: str) -> HttpResponse:
        if self.is_htmx:
            return self.render_run(("error", text), status=status)
        self.refusal = (status, ("error", text))
        return super().get(self.request)

    def render_run(self, notice: Notice | None = None, status: int = 200) -> HttpResponse:
        context = {"tenant": self.tenant, **self.run_context(notice)}
        return TemplateResponse(self.request, f"{LIST_TEMPLATE}#run", context, status=status)


# --- One suggestion ------------------------------------------------------------------------------


def suggestion_of(tenant: Tenant, membership: Membership, reference: str) -> ProblemSuggestion:
    """The suggestion the member may see, by reference; else 404."""
    number = parse_reference(ProblemSuggestion.NUMBER_PREFIX, reference)
    suggestion = (
        selectors.suggestion_list(tenant=tenant, membership=membership)
        .filter(number=number)
        .first()
        if number is not None and number <= MAX_NUMBER
        else None
    )
    if suggestion is None:
        raise Http404("No such suggestion.")
    return suggestion


class SuggestionRecordMixin:
    """Finds the suggestion the member may see and renders the page around it."""

    request: HttpRequest
    tenant: Tenant
    membership: Membership
    kwargs: dict[str, Any]
    actions = SUGGESTION_ACTIONS
    is_htmx: bool

    def get_record(self) -> ProblemSuggestion:
        return suggestion_of(self.tenant, self.membership, self.kwargs["reference"])

    def detail_url(self, suggestion: ProblemSuggestion) -> str:
        return reverse("problems:suggestion", args=[self.tenant.slug, suggestion.reference])

    def action_url(self, suggestion: ProblemSuggestion, slug: str) -> str:
        return reverse(
            "problems:suggestion-action", args=[self.tenant.slug, suggestion.reference, slug]
        )

    def make_form(
        self, spec: ActionSpec, suggestion: ProblemSuggestion, data: Any = None
    ) -> forms.Form:
        kwargs: dict[str, Any] = {"auto_id": f"{spec.slug}-%s"}
        if data is not None:
            return spec.form_class(data, **kwargs)
        initial: dict[str, Any] = {"version": suggestion.version}
        if spec.slug == "accept":
            initial["title"] = suggestion.title
        return spec.form_class(initial=initial, **kwargs)

    def run(self, spec: ActionSpec, suggestion: ProblemSuggestion, form: forms.Form) -> Any:
        ids: dict[str, Any] = {
            "tenant": self.tenant,
            "suggestion_id": suggestion.pk,
            "actor": self.request.user,
        }
        if spec.slug == "merge":
            assert isinstance(form, VersionedForm)
            return services.suggestion_merge(
                **ids,
                problem_id=self.merge_target(form.cleaned_data["problem"]).pk,
                expected_version=form.cleaned_data["version"],
            )
        return spec.service(**ids, **form.service_arguments())  # type: ignore[attr-defined]

    def merge_target(self, reference: str) -> Problem:
        """The problem named in the merge form, as the member may see it (as the API finds it)."""
        number = parse_reference(Problem.NUMBER_PREFIX, reference)
        problem = (
            selectors.problem_list(tenant=self.tenant, membership=self.membership)
            .filter(number=number)
            .first()
            if number is not None and number <= MAX_NUMBER
            else None
        )
        if problem is None:
            raise InvalidInputError(
                f"{reference} is not a problem of this tenant.",
                fields={"problem": [f"{reference} is not a problem of this tenant."]},
            )
        return problem

    def report(self, spec: ActionSpec, result: Any) -> list[Notice]:
        if isinstance(result, Problem):
            verb = "recorded" if spec.slug == "accept" else "now has"
            return [("success", f"{result.reference} {verb} the suggestion's incidents linked.")]
        return [("success", spec.done)]

    def changes_since(self, suggestion: ProblemSuggestion, version: int) -> list[Any]:
        return []  # a suggestion has no timeline: a stale form is refused with the reason

    def available(self, suggestion: ProblemSuggestion) -> list[ActionSpec]:
        """A decided suggestion offers nothing; an open one what the role may do."""
        if suggestion.status != SuggestionStatus.OPEN:
            return []
        return [spec for spec in SUGGESTION_ACTIONS.values() if self.membership.role in spec.roles]

    def render_record(
        self,
        suggestion: ProblemSuggestion,
        *,
        outcome: Outcome | None = None,
        bound: Panel | None = None,
        open_slug: str = "",
    ) -> HttpResponse:
        outcome = outcome or Outcome()
        panels = action_panels(self, suggestion, bound=bound, open_slug=open_slug)
        evidence = Evidence.of(suggestion)
        context: dict[str, Any] = {
            "tenant": self.tenant,
            "membership": self.membership,
            "suggestion": suggestion,
            "evidence": evidence,
            "services": _names(
                catalog_selectors.service_list(tenant=self.tenant), evidence.services
            ),
            "categories": _names(
                catalog_selectors.category_list(tenant=self.tenant), evidence.categories
            ),
            "incidents": list(selectors.suggestion_incidents(suggestion=suggestion)),
            "decided_by": display_name(suggestion.decided_by) if suggestion.decided_at else "",
            "panels": list(panels.values()),
            "notices": outcome.notices,
            "changes": outcome.changes,
        }
        template = f"{RECORD_TEMPLATE}#record" if self.is_htmx else RECORD_TEMPLATE
        return TemplateResponse(self.request, template, context, status=outcome.status)


class SuggestionRecordPage(SuggestionRecordMixin, RecordPage):
    """GET /t/<tenant>/problems/suggestions/SUG-000042/: the suggestion."""


class SuggestionActionPage(SuggestionRecordMixin, RecordActionPage):
    """POST /t/<tenant>/problems/suggestions/SUG-000042/<action>/: accept, merge or dismiss."""

    record_name = "suggestion"

    def succeeded(self, spec: ActionSpec, result: Any) -> HttpResponse:
        """Accepted or merged: on to the problem, where the work goes on (htmx follows
        HX-Redirect; without it, Post/Redirect/Get). Dismissed: back to the suggestion."""
        if not isinstance(result, Problem):
            return super().succeeded(spec, result)
        for level, text in self.report(spec, result):
            messages.add_message(self.request, getattr(messages, level.upper()), text)
        url = reverse("problems:detail", args=[self.tenant.slug, result.reference])
        if self.is_htmx:
            response = HttpResponse(status=200)
            response["HX-Redirect"] = url
            return response
        return redirect(url)
