"""The incident record page and its actions.

GET shows the incident: header and SLA clocks, fields, the timeline (filterable; htmx swaps only
the timeline), and a form for each action the member may take now. Each action POSTs to
`<reference>/<action>/`, which runs the same service as the API with the version the form was
made on: a stale version changes nothing and shows who changed what meanwhile, with the user's
input kept. Without JavaScript a success redirects back (Post/Redirect/Get); with htmx the
record is re-rendered in place. Refusals are 400 (input), 403 (not for this member), 409 (the
incident's state), always as a usable page.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.views import View

from incidents import selectors
from incidents.choices import (
    TERMINAL_STATUSES,
    EscalationKind,
    EventKind,
    HoldReason,
    Impact,
    IncidentStatus,
    ResolutionCode,
    SlaClockKind,
    Urgency,
    allowed_actions,
)
from incidents.forms.actions import (
    ACTIONS,
    ActionSpec,
    AssignForm,
    DeclareMajorForm,
    EscalateForm,
)
from incidents.models import Incident, IncidentEvent, SlaClock
from incidents.services.routing import NEXT_TIER
from itsm.errors import (
    ConflictError,
    DomainError,
    ForbiddenError,
    InvalidInputError,
    NotFoundError,
    PreconditionFailedError,
)
from itsm.tenancy.choices import STAFF_ROLES, MembershipRole, TeamKind
from itsm.tenancy.models import Team, parse_reference
from itsm.tenancy.selectors import agent_list
from itsm.web import workspace
from itsm.web.views import TenantPageMixin

TEMPLATE = "incidents/record/page.html"

# The timeline filter: ?kind=<slug> -> (label, the event kinds it shows; None: all).
APPEND_KINDS = frozenset({EventKind.COMMENT, EventKind.WORK_NOTE})
TIMELINE_KINDS: dict[str, tuple[str, frozenset[str] | None]] = {
    "all": ("All", None),
    "comments": ("Comments", frozenset({EventKind.COMMENT})),
    "work-notes": ("Work notes", frozenset({EventKind.WORK_NOTE})),
    "events": ("Events", frozenset(EventKind.values) - APPEND_KINDS),
}
# Where each action's form sits on the page.
CONVERSATION = ("comment", "work-note")
MAJOR = ("stakeholder-update",)


# --- What the page shows -----------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    """A timeline event as the page shows it."""

    event: IncidentEvent
    actor: str
    what: str

    @property
    def css(self) -> str:
        return str(self.event.kind).replace("_", "-")


@dataclass(frozen=True)
class Clock:
    """An SLA clock as the header shows it; running and paused ones tick in the browser
    through incidents' `{% sla_countdown %}`, the queues' own markup."""

    label: str
    state: str  # running, paused, met, breached
    warn: str  # the policy's warning thresholds, percent of the target
    at: datetime | None  # when a stopped clock stopped or breached
    source: SlaClock


@dataclass
class Panel:
    """One action's form on the page."""

    spec: ActionSpec
    form: forms.Form
    url: str
    open: bool = False
    label: str = ""
    still_applies: bool = True
    error: str = ""

    def __post_init__(self) -> None:
        self.label = self.label or self.spec.label


@dataclass
class Outcome:
    """What the last POST left for the page to say."""

    status: int = 200
    notices: list[tuple[str, str]] = field(default_factory=list)
    changes: list[Entry] = field(default_factory=list)


def display_name(user: Any) -> str:
    if user is None:
        return "System"
    return str(user.get_full_name() or user.get_username())


@dataclass(frozen=True)
class Names:
    """How the timeline names what events store by key: priorities and teams (by slug)."""

    priorities: dict[int, str]
    teams: dict[str, str]

    def team(self, slug: Any) -> Any:
        return self.teams.get(slug, slug)


def describe(event: IncidentEvent, names: Names) -> str:
    """What the event's actor did, as a phrase ("put it on hold: awaiting vendor")."""
    labels = names.priorities
    data: dict[str, Any] = event.data or {}
    kind = event.kind
    if kind == EventKind.CREATED:
        return "recorded the incident"
    if kind == EventKind.STATUS:
        return _describe_status(event, data)
    if kind == EventKind.ASSIGNMENT:
        team = names.team(data.get("to_team")) if data.get("to_team") else None
        target = [part for part in (team, data.get("to_assignee")) if part]
        return "assigned it to " + (", ".join(target) or "nobody")
    if kind == EventKind.ESCALATION:
        if data.get("kind") == EscalationKind.HIERARCHICAL:
            return "engaged management"
        return f"escalated it to {names.team(data.get('to_team')) or 'the next tier'}"
    if kind == EventKind.PRIORITY:
        before = data.get("from", {}).get("priority")
        after = data.get("to", {}).get("priority")
        return (
            f"changed the priority from {labels.get(before, before)} to {labels.get(after, after)}"
        )
    if kind == EventKind.FIELDS:
        return "edited " + ", ".join(str(name) for name in data.get("fields", []))
    if kind == EventKind.COMMENT:
        return "commented"
    if kind == EventKind.WORK_NOTE:
        return "added a work note"
    if kind == EventKind.MAJOR_DECLARED:
        return f"declared a major incident, commanded by {data.get('commander', '?')}"
    if kind == EventKind.STAKEHOLDER_UPDATE:
        return "posted a stakeholder update"
    if kind == EventKind.KNOWLEDGE:
        if data.get("known_error"):
            return f"applied the workaround of {data['known_error']}"
        return f"used article {data.get('article', '')}".strip()
    if kind == EventKind.SLA:
        known = data.get("clock") in SlaClockKind.values
        clock = SlaClockKind(data["clock"]).label if known else ""
        if data.get("breach"):
            return f"{clock} SLA breached".strip()
        return f"{clock} SLA at {data.get('threshold')} % of its target".strip()
    return str(event.get_kind_display()).lower()


# (from, to) -> what the status change means; "*" matches any status.
STATUS_PHRASES: dict[tuple[str, str], str] = {
    (IncidentStatus.NEW, IncidentStatus.IN_PROGRESS): "acknowledged it",
    (IncidentStatus.ON_HOLD, IncidentStatus.IN_PROGRESS): "resumed work on it",
    (IncidentStatus.RESOLVED, IncidentStatus.IN_PROGRESS): "reopened it",
    ("*", IncidentStatus.CLOSED): "closed it",
    ("*", IncidentStatus.CANCELLED): "cancelled it",
}


def _describe_status(event: IncidentEvent, data: dict[str, Any]) -> str:
    to = IncidentStatus(event.to_status) if event.to_status in IncidentStatus.values else None
    if to is None:
        return "changed the status"
    if to == IncidentStatus.ON_HOLD and data.get("hold_reason") in HoldReason.values:
        return f"put it on hold: {HoldReason(data['hold_reason']).label.lower()}"
    if to == IncidentStatus.RESOLVED and data.get("resolution_code") in ResolutionCode.values:
        return f"resolved it: {ResolutionCode(data['resolution_code']).label.lower()}"
    if to == IncidentStatus.CLOSED and data.get("automatic"):
        return "closed it automatically"
    phrase = STATUS_PHRASES.get((event.from_status, to)) or STATUS_PHRASES.get(("*", to))
    return phrase or f"changed the status to {to.label.lower()}"


def entries(events: Any, names: Names) -> list[Entry]:
    return [Entry(event, display_name(event.actor), describe(event, names)) for event in events]


def clocks_of(incident: Incident) -> list[Clock]:
    # The timer: the countdown turns its colour when the clock's next warning fires.
    clocks = selectors.incident_sla_clocks(incident=incident).select_related("timer")
    return [_clock(clock) for clock in clocks]


def _clock(clock: SlaClock) -> Clock:
    label = f"{clock.get_kind_display()} SLA"
    warn = ",".join(str(value) for value in sorted(set(clock.policy.warning_thresholds or [])))
    if clock.stopped_at is not None:
        if clock.breached_at is not None:
            return Clock(label, "breached", warn, clock.breached_at, clock)
        return Clock(label, "met", warn, clock.stopped_at, clock)
    return Clock(label, "paused" if clock.is_paused else "running", warn, None, clock)


# --- The views ---------------------------------------------------------------------------------


class IncidentRecordMixin(TenantPageMixin):
    """Finds the incident the member may see and renders the record around it."""

    kwargs: dict[str, Any]

    @property
    def role(self) -> str:
        return str(self.membership.role)

    @property
    def is_requester(self) -> bool:
        return self.role == MembershipRole.REQUESTER

    def get_incident(self) -> Incident:
        """The incident, if this member may see it (a requester: their own); else 404."""
        number = parse_reference(Incident.NUMBER_PREFIX, self.kwargs["reference"])
        if number is None:
            raise Http404("No such incident.")
        incident = (
            selectors.incident_list(tenant=self.tenant, membership=self.membership)
            .filter(number=number)
            .first()
        )
        if incident is None:
            raise Http404("No such incident.")
        return incident

    def detail_url(self, incident: Incident) -> str:
        return reverse("incidents:detail", args=[self.tenant.slug, incident.reference])

    def action_url(self, incident: Incident, slug: str) -> str:
        return reverse("incidents:action", args=[self.tenant.slug, incident.reference, slug])

    # Forms

    def make_form(self, spec: ActionSpec, incident: Incident, data: Any = None) -> forms.Form:
        kwargs: dict[str, Any] = {"auto_id": f"{spec.slug}-%s"}
        if spec.form_class is AssignForm:
            kwargs |= {"teams": self.teams, "agents": self.agents}
        elif spec.form_class is EscalateForm:
            kwargs["teams"] = self.escalation_teams(incident)
        elif spec.form_class is DeclareMajorForm:
            kwargs["agents"] = self.agents
        if data is None:
            kwargs["initial"] = self.initial(spec, incident)
            return spec.form_class(**kwargs)
        return spec.form_class(data, **kwargs)

    def initial(self, spec: ActionSpec, incident: Incident) -> dict[str, Any]:
        initial: dict[str, Any] = {"version": incident.version}
        if spec.slug == "assign":
            initial |= {"team": incident.assignment_team_id, "assignee": incident.assignee_id}
        elif spec.slug == "change-priority":
            initial |= {"impact": incident.impact, "urgency": incident.urgency}
        elif spec.slug == "declare-major":
            initial["commander"] = incident.commander_id
        return initial

    @cached_property
    def names(self) -> Names:
        return Names(
            priorities=selectors.priority_labels(tenant=self.tenant),
            teams=dict(self.teams.values_list("slug", "name")),
        )

    @property
    def teams(self) -> QuerySet[Team]:
        return Team.objects.for_tenant(self.tenant).order_by("name", "id")

    @property
    def agents(self) -> QuerySet[Any]:
        return agent_list(tenant=self.tenant)

    def escalation_teams(self, incident: Incident) -> QuerySet[Team]:
        """The next tier's teams (and the team's own escalation target)."""
        team = incident.assignment_team
        next_kind = NEXT_TIER.get(TeamKind(team.kind)) if team is not None else TeamKind.L1
        wanted = Q(pk__in=[])
        if next_kind is not None:
            wanted |= Q(kind=next_kind)
        if team is not None and team.escalation_team_id is not None:
            wanted |= Q(pk=team.escalation_team_id)
        teams = self.teams.filter(wanted)
        return teams.exclude(pk=team.pk) if team is not None else teams

    # What the member may do now

    def available(self, incident: Incident) -> list[ActionSpec]:
        """The actions to offer: the lifecycle allows them now, the role may run them, and the
        conditions the services check on the incident hold."""
        lifecycle = set(allowed_actions(incident.status))
        terminal = incident.status in TERMINAL_STATUSES
        offered = []
        for spec in ACTIONS.values():
            if self.role not in spec.roles:
                continue
            if spec.lifecycle is not None and spec.lifecycle not in lifecycle:
                continue
            if spec.slug in ("change-priority", "declare-major") and not incident.is_open:
                continue
            if spec.slug in CONVERSATION and terminal:
                continue
            if spec.slug == "resolve" and not self.may_resolve(incident):
                continue
            if spec.slug == "stakeholder-update" and not (
                incident.is_major and not terminal and self.may_brief(incident)
            ):
                continue
            offered.append(spec)
        return offered

    def may_resolve(self, incident: Incident) -> bool:
        return selectors.may_resolve(tenant=self.tenant, incident=incident, user=self.request.user)

    def may_brief(self, incident: Incident) -> bool:
        return selectors.may_brief(tenant=self.tenant, incident=incident, user=self.request.user)

    # Rendering

    def kind_filter(self) -> str:
        kind = self.request.GET.get("kind", "all")
        if kind not in TIMELINE_KINDS or (kind == "work-notes" and self.is_requester):
            return "all"
        return kind

    def timeline_context(self, incident: Incident) -> dict[str, Any]:
        kind = self.kind_filter()
        events = selectors.incident_timeline(incident=incident, public_only=self.is_requester)
        shown = TIMELINE_KINDS[kind][1]
        if shown is not None:
            events = events.filter(kind__in=shown)
        tabs = [
            {"slug": slug, "label": label, "current": slug == kind}
            for slug, (label, _kinds) in TIMELINE_KINDS.items()
            if not (slug == "work-notes" and self.is_requester)
        ]
        return {
            "timeline": entries(events, self.names),
            "timeline_kind": kind,
            "timeline_tabs": tabs,
            "detail_url": self.detail_url(incident),
        }

    def render_record(
        self,
        incident: Incident,
        *,
        outcome: Outcome | None = None,
        bound: Panel | None = None,
        open_slug: str = "",
    ) -> HttpResponse:
        outcome = outcome or Outcome()
        labels = self.names.priorities
        now = timezone.now()
        panels: dict[str, Panel] = {}
        for spec in self.available(incident):
            panels[spec.slug] = Panel(
                spec,
                self.make_form(spec, incident),
                self.action_url(incident, spec.slug),
                open=spec.slug == open_slug,
                label=self.label_for(spec, incident),
            )
        if bound is not None:
            bound.still_applies = bound.spec.slug in panels
        # A form with nothing typed into it is not kept once its action no longer applies.
        if bound is not None and (bound.still_applies or bound.spec.slug != "acknowledge"):
            bound.label = self.label_for(bound.spec, incident)
            panels[bound.spec.slug] = bound
        context: dict[str, Any] = {
            "tenant": self.tenant,
            "membership": self.membership,
            "incident": incident,
            "priority_label": labels.get(incident.priority, f"SEV{incident.priority}"),
            "clocks": clocks_of(incident),
            "server_now": now,
            "is_requester": self.is_requester,
            "is_staff": self.role in STAFF_ROLES,
            "acknowledge": panels.pop("acknowledge", None),
            "conversation": [panels.pop(slug) for slug in CONVERSATION if slug in panels],
            "briefing": panels.pop("stakeholder-update", None),
            "panels": list(panels.values()),
            "notices": outcome.notices,
            "changes": outcome.changes,
            "priority_matrix": {
                "matrix": {
                    f"{impact},{urgency}": priority
                    for (impact, urgency), priority in selectors.priority_matrix(
                        tenant=self.tenant
                    ).items()
                },
                "labels": labels,
            },
            "impact_label": Impact(incident.impact).label,
            "urgency_label": Urgency(incident.urgency).label,
            # What other apps add (problems: the incident's problem and matching knowledge).
            "cards": workspace.cards_for("incident", self.tenant, self.role, incident.reference),
            **self.timeline_context(incident),
        }
        if incident.is_major and not self.is_requester:
            updates = selectors.incident_timeline(incident=incident).filter(
                kind=EventKind.STAKEHOLDER_UPDATE
            )
            context["stakeholder_updates"] = entries(
                updates.order_by("-created_at", "-id"), self.names
            )
        template = f"{TEMPLATE}#record" if self.is_htmx else TEMPLATE
        return TemplateResponse(self.request, template, context, status=outcome.status)

    def label_for(self, spec: ActionSpec, incident: Incident) -> str:
        if spec.slug == "close" and self.is_requester:
            return "Confirm the resolution and close"
        if spec.slug == "declare-major" and incident.is_major:
            return "Hand over command"
        return spec.label

    @property
    def is_htmx(self) -> bool:
        return self.request.headers.get("HX-Request") == "true"


class IncidentRecordPage(IncidentRecordMixin, View):
    """GET /t/<tenant>/incidents/INC-000042/: the record; ?kind= filters the timeline."""

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        incident = self.get_incident()
        if self.is_htmx and request.headers.get("HX-Target") == "timeline":
            return TemplateResponse(
                request, f"{TEMPLATE}#timeline", self.timeline_context(incident)
            )
        return self.render_record(incident)


class IncidentActionPage(IncidentRecordMixin, View):
    """POST /t/<tenant>/incidents/INC-000042/<action>/: one action through its service.

    GET shows the record with that action's form open (a link that works without script).
    """

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        spec = self.get_spec()
        return self.render_record(self.get_incident(), open_slug=spec.slug)

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        spec = self.get_spec()
        incident = self.get_incident()  # first: a hidden incident is a 404 whatever the role
        if self.role not in spec.roles:
            outcome = Outcome(403, [("error", f"Your role may not {spec.label.lower()}.")])
            return self.render_record(incident, outcome=outcome)
        form = self.make_form(spec, incident, request.POST)
        panel = Panel(spec, form, self.action_url(incident, spec.slug), open=True)
        if not form.is_valid():
            outcome = Outcome(400, [("error", "Please correct the errors below.")])
            return self.render_record(incident, outcome=outcome, bound=panel)
        try:
            with transaction.atomic():  # after a refusal the page is rendered in this transaction
                spec.service(
                    tenant=self.tenant,
                    incident_id=incident.pk,
                    actor=request.user,
                    **form.service_arguments(),  # type: ignore[attr-defined]
                    **spec.options,
                )
        except DomainError as error:
            return self.refused(spec, incident, panel, error)
        except ValidationError as error:  # a model's full_clean inside the service
            # As messages: its field names are the model's, which the form may not have.
            form.add_error(None, list(error.messages))
            outcome = Outcome(400, [("error", "Please correct the errors below.")])
            return self.render_record(incident, outcome=outcome, bound=panel)
        incident = self.get_incident()
        if self.is_htmx:
            return self.render_record(incident, outcome=Outcome(200, [("success", spec.done)]))
        messages.success(request, spec.done)
        anchor = "#timeline" if spec.appends else ""
        return redirect(self.detail_url(incident) + anchor)

    def get_spec(self) -> ActionSpec:
        spec = ACTIONS.get(self.kwargs["action"])
        if spec is None:
            raise Http404("No such action.")
        return spec

    def refused(
        self, spec: ActionSpec, incident: Incident, panel: Panel, error: DomainError
    ) -> HttpResponse:
        """The service said no: show why, keep what the user typed."""
        if isinstance(error, NotFoundError):
            raise Http404(error.message)
        current = self.get_incident()
        if isinstance(error, PreconditionFailedError):
            return self.conflict(spec, current, panel)
        if isinstance(error, InvalidInputError):
            for name, reasons in error.fields.items():
                panel.form.add_error(name if name in panel.form.fields else None, list(reasons))
            if not error.fields:
                panel.form.add_error(None, error.message)
            outcome = Outcome(400, [("error", error.message)])
            return self.render_record(current, outcome=outcome, bound=panel)
        status = 403 if isinstance(error, ForbiddenError) else 409
        if not isinstance(error, ForbiddenError | ConflictError):
            status = 400
        panel.error = error.message
        outcome = Outcome(status, [("error", error.message)])
        return self.render_record(current, outcome=outcome, bound=panel)

    def conflict(self, spec: ActionSpec, current: Incident, panel: Panel) -> HttpResponse:
        """Someone changed the incident since the form was made: nothing is written. Say who
        and what, and offer the user's input again on the current version."""
        read = panel.form.cleaned_data["version"]
        changes = entries(
            selectors.incident_changes_since(
                incident=current, version=read, public_only=self.is_requester
            ),
            self.names,
        )
        if changes:
            who = ", ".join(dict.fromkeys(change.actor for change in changes))
            text = (
                f"{current.reference} was changed by {who} while you were working on it. "
                "Nothing you entered was saved: check the changes below and submit again "
                "if it still applies."
            )
        else:
            text = (
                f"{current.reference} was changed by the service desk while you were working "
                "on it. Nothing you entered was saved: check it and submit again if it still "
                "applies."
            )
        data = self.request.POST.copy()
        data["version"] = str(current.version)
        form = self.make_form(spec, current, data)
        form.is_valid()
        rebound = Panel(spec, form, panel.url, open=True)
        outcome = Outcome(409, [("warning", text)], changes)
        return self.render_record(current, outcome=outcome, bound=rebound)
