"""The problem record page and its actions.

GET shows the problem: header, details, linked incidents (with unlink checkboxes for those who
may unlink), its known errors, the timeline, and a form for each action the member may take now.
The actions post through `problems.views.base.RecordActionPage`, to the services the API uses.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from django import forms
from django.http import Http404, HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse

from incidents import selectors as incident_selectors
from incidents.choices import OPEN_STATUSES
from itsm.tenancy.models import MAX_NUMBER, Membership, Tenant, parse_reference
from itsm.web import workspace
from problems import selectors
from problems.choices import (
    TERMINAL_PROBLEM_STATUSES,
    ProblemEventKind,
    ProblemStatus,
    allowed_problem_actions,
)
from problems.forms.actions import (
    ACTIONS,
    LINKERS,
    ActionSpec,
    ProblemEditForm,
    VersionedForm,
)
from problems.forms.create import field_choices
from problems.models import Problem, ProblemEvent
from problems.services import LinkResult, RowResult
from problems.views.articles import article_cards
from problems.views.base import (
    Notice,
    Outcome,
    Panel,
    RecordActionPage,
    RecordPage,
    action_panels,
    display_name,
)

TEMPLATE = "problems/record/page.html"
# Panels shown beside what they act on rather than in the actions column.
UNLINK = "unlink"
# The events that come with a new version of the problem (what a stale form missed).
VERSIONED_KINDS = frozenset(
    {
        ProblemEventKind.STATUS,
        ProblemEventKind.FIELDS,
        ProblemEventKind.INCIDENTS_LINKED,
        ProblemEventKind.INCIDENTS_UNLINKED,
    }
)
STATUS_PHRASES = {
    "investigate": "started investigating",
    "identify_root_cause": "recorded the root cause",
    "start_fix": "started the fix",
    "reinvestigate": "investigates it again",
    "resolve": "resolved it",
    "close": "closed it",
    "reopen": "reopened it",
    "cancel": "cancelled it",
}
# The edit form's fields that are the problem's own columns.
EDITED_FIELDS = (
    "title",
    "description",
    "impact",
    "urgency",
    "root_cause",
    "workaround",
    "review_at",
)
SHOWN_REFERENCES = 10  # a timeline line names this many incidents, then counts the rest


@dataclass(frozen=True)
class Entry:
    """A timeline event as the page shows it."""

    event: ProblemEvent
    actor: str
    what: str
    body: str

    @property
    def css(self) -> str:
        return str(self.event.kind).replace("_", "-")


def _references(references: list[str]) -> str:
    shown = ", ".join(references[:SHOWN_REFERENCES])
    more = len(references) - SHOWN_REFERENCES
    return f"{shown} and {more} more" if more > 0 else shown


def describe(event: ProblemEvent) -> str:
    """What the event's actor did, as a phrase ("linked INC-000001, INC-000002")."""
    data: dict[str, Any] = event.data or {}
    kind = event.kind
    if kind == ProblemEventKind.CREATED:
        return "recorded the problem"
    if kind == ProblemEventKind.STATUS:
        return STATUS_PHRASES.get(str(data.get("action")), "changed the status")
    if kind == ProblemEventKind.FIELDS:
        return "edited " + ", ".join(str(name).replace("_", " ") for name in data["fields"])
    if kind == ProblemEventKind.INCIDENTS_LINKED:
        return "linked " + _references(list(data.get("incidents", [])))
    if kind == ProblemEventKind.INCIDENTS_UNLINKED:
        return "unlinked " + _references(list(data.get("incidents", [])))
    if kind == ProblemEventKind.INCIDENTS_RESOLVED:
        resolved, refused = len(data.get("resolved", [])), len(data.get("refused", []))
        return f"resolved the linked incidents: {resolved} resolved, {refused} refused"
    if kind == ProblemEventKind.KNOWN_ERROR:
        reference = data.get("known_error", "")
        if data.get("fields"):
            return f"edited known error {reference}"
        if event.to_status and not event.from_status:
            return f"recorded known error {reference}"
        return f"{event.to_status or 'changed'} known error {reference}"
    if kind == ProblemEventKind.REVIEW_DUE:
        return "the review is due"
    return str(event.get_kind_display()).lower()


def entries(events: Any) -> list[Entry]:
    return [
        Entry(
            event,
            display_name(event.actor),
            describe(event),
            "" if event.kind == ProblemEventKind.KNOWN_ERROR else event.body,
        )
        for event in events
    ]


def problem_of(tenant: Tenant, membership: Membership, reference: str) -> Problem:
    """The problem the member may see, by reference; else 404."""
    number = parse_reference(Problem.NUMBER_PREFIX, reference)
    problem = (
        selectors.problem_list(tenant=tenant, membership=membership).filter(number=number).first()
        if number is not None and number <= MAX_NUMBER
        else None
    )
    if problem is None:
        raise Http404("No such problem.")
    return problem


class ProblemRecordMixin:
    """Finds the problem the member may see and renders the record around it."""

    request: HttpRequest
    tenant: Tenant
    membership: Membership
    kwargs: dict[str, Any]
    actions: ClassVar[dict[str, ActionSpec]] = ACTIONS
    is_htmx: bool

    def get_record(self) -> Problem:
        return problem_of(self.tenant, self.membership, self.kwargs["reference"])

    def detail_url(self, problem: Problem) -> str:
        return reverse("problems:detail", args=[self.tenant.slug, problem.reference])

    def action_url(self, problem: Problem, slug: str) -> str:
        return reverse("problems:action", args=[self.tenant.slug, problem.reference, slug])

    # Forms

    def make_form(self, spec: ActionSpec, problem: Problem, data: Any = None) -> forms.Form:
        kwargs: dict[str, Any] = {"auto_id": f"{spec.slug}-%s"}
        if spec.form_class is ProblemEditForm:
            kwargs["choices"] = field_choices(self.tenant, keep=problem)
        if data is None:
            kwargs["initial"] = self.initial(spec, problem)
            return spec.form_class(**kwargs)
        return spec.form_class(data, **kwargs)

    def initial(self, spec: ActionSpec, problem: Problem) -> dict[str, Any]:
        initial: dict[str, Any] = {}
        if issubclass(spec.form_class, VersionedForm):
            initial["version"] = problem.version
        if spec.slug == "identify-root-cause":
            initial |= {"root_cause": problem.root_cause, "workaround": problem.workaround}
        elif spec.slug == "edit":
            initial |= {name: getattr(problem, name) for name in EDITED_FIELDS}
            initial |= {
                "services": [link.service_id for link in problem.service_links.all()],
                "category": problem.category_id,
                "problem_manager": problem.problem_manager_id,
                "assignment_team": problem.assignment_team_id,
            }
        return initial

    def run(self, spec: ActionSpec, problem: Problem, form: forms.Form) -> Any:
        return spec.service(
            tenant=self.tenant,
            problem_id=problem.pk,
            actor=self.request.user,
            **form.service_arguments(),  # type: ignore[attr-defined]
        )

    def report(self, spec: ActionSpec, result: Any) -> list[Notice]:
        if isinstance(result, LinkResult):  # unlink
            return [("success", f"Unlinked {_references(result.changed)}.")]
        if isinstance(result, list):  # resolve linked incidents: one row per incident
            return resolved_rows(result)
        return [("success", spec.done)]

    def changes_since(self, problem: Problem, version: int) -> list[Entry]:
        missed = problem.version - version
        if missed <= 0:
            return []
        events = selectors.problem_timeline(problem=problem).filter(kind__in=VERSIONED_KINDS)
        return entries(reversed(events.order_by("-created_at", "-id")[:missed]))

    # What the member may do now

    def available(self, problem: Problem) -> list[ActionSpec]:
        """The actions to offer: the lifecycle allows them now, the role may run them, and the
        conditions the services check on the problem hold."""
        role = self.membership.role
        lifecycle = {str(action) for action in allowed_problem_actions(problem.status)}
        terminal = problem.status in TERMINAL_PROBLEM_STATUSES
        linked = getattr(problem, "incident_count", 0) > 0
        offered = []
        for spec in ACTIONS.values():
            if role not in spec.roles:
                continue
            if spec.lifecycle and spec.lifecycle not in lifecycle:
                continue
            if spec.slug in ("edit", "create-known-error") and terminal:
                continue
            if spec.slug == UNLINK and not linked:
                continue
            if spec.slug == "resolve-linked-incidents" and not (
                linked and problem.status in (ProblemStatus.RESOLVED, ProblemStatus.CLOSED)
            ):
                continue
            offered.append(spec)
        return offered

    # Rendering

    def render_record(
        self,
        problem: Problem,
        *,
        outcome: Outcome | None = None,
        bound: Panel | None = None,
        open_slug: str = "",
    ) -> HttpResponse:
        outcome = outcome or Outcome()
        panels = action_panels(self, problem, bound=bound, open_slug=open_slug)
        unlink = panels.pop(UNLINK, None)
        role = self.membership.role
        linked = list(selectors.problem_incidents(problem=problem))
        checked = set(unlink.form["incidents"].value() or []) if unlink else set()
        context: dict[str, Any] = {
            "tenant": self.tenant,
            "membership": self.membership,
            "problem": problem,
            "priority_label": incident_selectors.priority_labels(tenant=self.tenant).get(
                problem.priority, problem.get_priority_display()
            ),
            "services": [link.service for link in problem.service_links.all()],
            "linked": [
                (incident, incident.reference in checked, incident.status in OPEN_STATUSES)
                for incident in linked
            ],
            "known_errors": list(
                selectors.known_error_list(tenant=self.tenant, membership=self.membership)
                .filter(problem=problem)
                .order_by("number")
            ),
            "timeline": entries(selectors.problem_timeline(problem=problem)),
            # Its own articles card, then those of higher apps (changes that fix it).
            "article_cards": [
                *article_cards(self.tenant.slug, problem),
                *workspace.cards_for("problem", self.tenant, role, problem.reference),
            ],
            "panels": list(panels.values()),
            "unlink": unlink,
            "may_link": role in LINKERS and problem.status not in TERMINAL_PROBLEM_STATUSES,
            "notices": outcome.notices,
            "changes": outcome.changes,
        }
        template = f"{TEMPLATE}#record" if self.is_htmx else TEMPLATE
        return TemplateResponse(self.request, template, context, status=outcome.status)


def resolved_rows(rows: list[RowResult]) -> list[Notice]:
    """A line per incident of "resolve linked incidents", the refused ones with the reason."""
    resolved = [row.incident for row in rows if row.result == "resolved"]
    notices: list[Notice] = [
        ("success" if resolved else "warning", f"{len(resolved)} of {len(rows)} resolved.")
    ]
    if resolved:
        notices.append(("success", f"Resolved: {_references(resolved)}."))
    notices += [
        ("error", f"{row.incident} refused: {row.message}")
        for row in rows
        if row.result != "resolved"
    ]
    return notices


class ProblemRecordPage(ProblemRecordMixin, RecordPage):
    """GET /t/<tenant>/problems/PRB-000042/: the record."""


class ProblemActionPage(ProblemRecordMixin, RecordActionPage):
    """POST /t/<tenant>/problems/PRB-000042/<action>/: one action through its service."""

    record_name = "problem"
