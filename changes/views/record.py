"""The change record page, its actions, and the live risk preview.

GET shows the change: header, details, the risk assessment, approvals, schedule warnings, the
problems it fixes, the incidents it caused, the timeline, and a form for each action the member
may take now. The actions post through `problems.views.base.RecordActionPage`, to the services
the API uses. Approving and rejecting are for the holders of the change's approver grant: to
anyone else those URLs are absent (404), as in the API.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

from django import forms
from django.db.models import Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.views import View

from changes import selectors, services
from changes.choices import (
    ApprovalBoard,
    ApprovalDecision,
    ChangeEventKind,
    ChangeOutcome,
    ChangeStatus,
    ChangeType,
    Risk,
    RiskFactor,
    allowed_change_actions,
)
from changes.forms.actions import ACTIONS, DECISIONS, ChangeEditForm
from changes.lifecycle import risk_of
from changes.models import Change, ChangeEvent
from changes.schedule import Conflict
from changes.services.recording import EDITABLE_STATUSES
from itsm.calendars.selectors import tenant_time_zone
from itsm.catalog import selectors as catalog_selectors
from itsm.tenancy.models import MAX_NUMBER, Membership, Tenant, parse_reference
from itsm.tenancy.selectors import agent_list
from itsm.web.views import TenantPageMixin
from problems.forms.actions import ActionSpec, VersionedForm
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

TEMPLATE = "changes/record/page.html"
RISK_RESULT = "changes/record/risk_result.html"
# Panels shown in the card of what they act on rather than in the actions column.
IN_CARDS = (
    "assess-risk",
    "approve",
    "reject",
    "link-problems",
    "unlink-problems",
    "record-incidents",
    "unrecord-incidents",
)
# The events that come with a new version of the change (what a stale form missed).
VERSIONED_KINDS = frozenset({ChangeEventKind.STATUS, ChangeEventKind.FIELDS, ChangeEventKind.RISK})
STATUS_PHRASES = {
    "submit": "submitted it for assessment",
    "request_approval": "requested approval",
    "schedule": "scheduled it",
    "approve": "scheduled it: the approvals are complete",
    "reject": "sent it back to draft: rejected",
    "start": "started implementing it",
    "complete": "completed the implementation: in review",
    "cancel": "cancelled it",
}
# The edit form's fields that are the change's own columns (services and people come apart).
EDITED_FIELDS = (
    "title",
    "description",
    "change_type",
    "planned_start",
    "planned_end",
    "implementation_plan",
    "backout_plan",
    "test_plan",
)
RISK_QUESTIONS = ("impact", "likelihood", "backout")
SHOWN_REFERENCES = 10  # a timeline line names this many records, then counts the rest


def _label(choices: Any, value: Any) -> str:
    try:
        return str(choices(value).label)
    except ValueError:
        return str(value)


def _listed(references: list[str]) -> str:
    shown = ", ".join(references[:SHOWN_REFERENCES])
    more = len(references) - SHOWN_REFERENCES
    return f"{shown} and {more} more" if more > 0 else shown


def _at(value: Any, zone: ZoneInfo) -> str:
    try:
        when = datetime.fromisoformat(str(value))
    except ValueError:
        return str(value)
    return f"{when.astimezone(zone):%d %b %Y, %H:%M} ({zone.key})"


# --- The timeline in words ----------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    """A timeline event as the page shows it (the shape problems/record/entry.html reads)."""

    event: ChangeEvent
    actor: str
    what: str
    body: str

    @property
    def css(self) -> str:
        return str(self.event.kind).replace("_", "-")


def _status_phrase(event: ChangeEvent, data: dict[str, Any]) -> str:
    action = str(data.get("action", ""))
    if action == "close":
        phrase = f"closed it as {_label(ChangeOutcome, data.get('outcome')).lower()}"
    elif action == "request_approval":
        phrase = (
            f"requested approval from the {_label(ApprovalBoard, data.get('board'))} "
            f"({data.get('approvals_required')} needed)"
        )
    else:
        default = f"moved it to {_label(ChangeStatus, event.to_status).lower()}"
        phrase = STATUS_PHRASES.get(action, default)
    warnings = list(data.get("conflicts") or [])
    return f"{phrase}, with schedule warnings: {_listed(warnings)}" if warnings else phrase


def describe(event: ChangeEvent, zone: ZoneInfo) -> str:
    """What the event's actor did, as a phrase ("linked PRB-000001 as fixed by this change")."""
    data: dict[str, Any] = event.data or {}
    kind = event.kind
    if kind == ChangeEventKind.CREATED:
        if data.get("template"):
            version = data.get("template_version")
            return f"recorded the standard change from its template (version {version})"
        return "recorded the change"
    if kind == ChangeEventKind.STATUS:
        return _status_phrase(event, data)
    if kind == ChangeEventKind.FIELDS:
        return "edited " + ", ".join(str(name).replace("_", " ") for name in data["fields"])
    if kind == ChangeEventKind.RISK:
        answers = ", ".join(
            f"{question} {_label(RiskFactor, data.get(question)).lower()}"
            for question in RISK_QUESTIONS
        )
        return f"assessed the risk as {_label(Risk, data.get('risk')).lower()} ({answers})"
    if kind == ChangeEventKind.APPROVAL:
        verb = "approved" if data.get("decision") == ApprovalDecision.APPROVED else "rejected"
        return f"{verb} it (round {data.get('round')})"
    if kind == ChangeEventKind.PROBLEMS:
        if data.get("linked"):
            return f"linked {_listed(list(data['linked']))} as fixed by this change"
        return f"unlinked {_listed(list(data.get('unlinked', [])))}"
    if kind == ChangeEventKind.INCIDENTS:
        if data.get("recorded"):
            return f"recorded {_listed(list(data['recorded']))} as caused by this change"
        return f"unrecorded {_listed(list(data.get('unrecorded', [])))}"
    if kind == ChangeEventKind.REMINDER:
        return f"reminded: the change starts {_at(data.get('planned_start'), zone)}"
    if kind == ChangeEventKind.OVERRUN:
        return (
            f"warned: the window ended {_at(data.get('planned_end'), zone)} and the change "
            "is still being implemented"
        )
    return str(event.get_kind_display()).lower()


def entries(events: Any, zone: ZoneInfo) -> list[Entry]:
    return [
        Entry(
            event,
            display_name(event.actor),
            describe(event, zone),
            # A rejection's comment is the decision's body; the move back to draft repeats it.
            "" if (event.data or {}).get("action") == "reject" else event.body,
        )
        for event in events
    ]


# --- Finding the change --------------------------------------------------------------------------


def _number(reference: str) -> int:
    number = parse_reference(Change.NUMBER_PREFIX, reference)
    if number is None or number > MAX_NUMBER:
        raise Http404("No such change.")
    return number


def change_of(tenant: Tenant, membership: Membership, reference: str) -> Change:
    """The change the member may see, by reference, with its services and links; else 404."""
    change = (
        selectors.change_list(tenant=tenant, membership=membership)
        .filter(number=_number(reference))
        .first()
    )
    if change is None:
        raise Http404("No such change.")
    return change


def edit_choices(tenant: Tenant, change: Change) -> dict[str, QuerySet[Any]]:
    """The tenant's active services and its staff; the change's own services and people stay
    choices even once retired or gone, so that saving other fields does not drop them."""
    kept_services = [link.service_id for link in change.service_links.all()]
    kept_people = [pk for pk in (change.owner_id, change.implementer_id) if pk is not None]
    staff = agent_list(tenant=tenant)
    people = staff.model.objects.filter(
        Q(pk__in=staff.values("pk")) | Q(pk__in=kept_people)
    ).order_by("username")
    return {
        "services": catalog_selectors.service_list(tenant=tenant)
        .filter(Q(is_active=True) | Q(pk__in=kept_services))
        .order_by("name"),
        "owner": people,
        "implementer": people,
    }


def risk_answer(value: Any) -> int | None:
    """One answer of the risk assessment as given (1, 2, 3); None if not given.

    Raises:
        ValueError: anything else.
    """
    if value in (None, ""):
        return None
    answer = int(value)
    if answer not in RiskFactor.values:
        raise ValueError(value)
    return answer


def risk_label(answers: list[Any]) -> str:
    """The risk the answers give, as a label; "" until all three are answered (or if one is
    not an answer)."""
    try:
        risk = risk_of(*(risk_answer(value) for value in answers))
    except ValueError:
        return ""
    return _label(Risk, risk) if risk else ""


def fixed_records(change: Change) -> dict[str, list[Any]]:
    """The problems and the known errors the change fixes, each by number (prefetched by the
    selector with the records themselves)."""
    fixes = change.fixes.all()
    return {
        "problems": sorted((f.problem for f in fixes if f.problem), key=lambda p: p.number),
        "known_errors": sorted(
            (f.known_error for f in fixes if f.known_error), key=lambda k: k.number
        ),
    }


# The notes a status move keeps as its event's body (the change has no column for them).
STATUS_NOTES = {"complete": "completion_note", "close": "outcome_notes", "cancel": "cancel_reason"}


def status_notes(events: list[ChangeEvent]) -> dict[str, str]:
    """The notes of the latest completion, close and cancellation, for the details card."""
    notes: dict[str, str] = {}
    for event in events:
        name = STATUS_NOTES.get(str((event.data or {}).get("action")))
        if event.kind == ChangeEventKind.STATUS and name:
            notes[name] = event.body
    return notes


def conflict_notices(found: list[Conflict]) -> list[Notice]:
    return [("warning", f"Schedule warning: {conflict.message}") for conflict in found]


LINK_PHRASES = {  # slug -> (what was done, what was already so)
    "link-problems": ("Linked {} as fixed by this change.", "Already linked: {}."),
    "unlink-problems": ("Unlinked {}.", "Not linked: {}."),
    "record-incidents": ("Recorded {} as caused by this change.", "Already recorded: {}."),
    "unrecord-incidents": ("Unrecorded {}.", "Not recorded here: {}."),
}


# --- The page ------------------------------------------------------------------------------------


class ChangeRecordMixin:
    """Finds the change the member may see and renders the record around it."""

    request: HttpRequest
    tenant: Tenant
    membership: Membership
    kwargs: dict[str, Any]
    actions: ClassVar[dict[str, ActionSpec]] = ACTIONS
    is_htmx: bool

    @property
    def zone(self) -> ZoneInfo:
        return tenant_time_zone(tenant=self.tenant)

    def get_record(self) -> Change:
        return change_of(self.tenant, self.membership, self.kwargs["reference"])

    def detail_url(self, change: Change) -> str:
        return reverse("changes:detail", args=[self.tenant.slug, change.reference])

    def action_url(self, change: Change, slug: str) -> str:
        return reverse("changes:action", args=[self.tenant.slug, change.reference, slug])

    # Forms

    def make_form(self, spec: ActionSpec, change: Change, data: Any = None) -> forms.Form:
        kwargs: dict[str, Any] = {"auto_id": f"{spec.slug}-%s"}
        if spec.form_class is ChangeEditForm:
            kwargs["choices"] = edit_choices(self.tenant, change)
            kwargs["standard"] = change.change_type == ChangeType.STANDARD
            kwargs["time_zone"] = self.zone.key
        if data is None:
            kwargs["initial"] = self.initial(spec, change)
            form = spec.form_class(**kwargs)
        else:
            form = spec.form_class(data, **kwargs)
        if spec.slug == "assess-risk":
            self.preview_risk(form)
        return form

    def preview_risk(self, form: forms.Form) -> None:
        """Each answer, when changed, asks for the risk the three give and shows it in the
        form's output (htmx); without script the risk shows once the form is saved."""
        ids = ", ".join(f"#assess-risk-{question}" for question in RISK_QUESTIONS)
        for question in RISK_QUESTIONS:
            form.fields[question].widget.attrs.update(
                {
                    "hx-get": reverse("changes:risk-preview", args=[self.tenant.slug]),
                    "hx-trigger": "change",
                    "hx-include": ids,
                    "hx-target": "#risk-result",
                    "hx-swap": "innerHTML",
                    "aria-controls": "risk-result",
                }
            )

    def initial(self, spec: ActionSpec, change: Change) -> dict[str, Any]:
        initial: dict[str, Any] = {}
        if issubclass(spec.form_class, VersionedForm):
            initial["version"] = change.version
        if spec.slug == "edit":
            initial |= {name: getattr(change, name) for name in EDITED_FIELDS}
            initial |= {
                "services": [link.service_id for link in change.service_links.all()],
                "owner": change.owner_id,
                "implementer": change.implementer_id,
            }
        elif spec.slug == "assess-risk":
            initial |= {
                "impact": change.risk_impact,
                "likelihood": change.risk_likelihood,
                "backout": change.risk_backout,
            }
        return initial

    def run(self, spec: ActionSpec, change: Change, form: forms.Form) -> Any:
        return spec.service(
            tenant=self.tenant,
            change_id=change.pk,
            actor=self.request.user,
            **form.service_arguments(),  # type: ignore[attr-defined]
        )

    def report(self, spec: ActionSpec, result: Any) -> list[Notice]:
        if isinstance(result, services.Decided):
            if result.approval.decision == ApprovalDecision.REJECTED:
                return [("success", spec.done)]
            if result.change.status == ChangeStatus.SCHEDULED:
                done = f"Approved: {result.change.reference} is scheduled."
            else:
                done = "Approved: the change waits for more approvals."
            return [("success", done), *conflict_notices(result.conflicts)]
        if isinstance(result, services.Scheduled):
            return [("success", spec.done), *conflict_notices(result.conflicts)]
        if isinstance(result, services.LinkResult):
            done, unchanged = LINK_PHRASES[spec.slug]
            notices: list[Notice] = []
            if result.changed:
                notices.append(("success", done.format(_listed(result.changed))))
            if result.unchanged:
                notices.append(("info", unchanged.format(_listed(result.unchanged))))
            return notices
        return [("success", spec.done)]

    def changes_since(self, change: Change, version: int) -> list[Entry]:
        missed = change.version - version
        if missed <= 0:
            return []
        events = selectors.change_timeline(change=change).filter(kind__in=VERSIONED_KINDS)
        return entries(reversed(events.order_by("-created_at", "-id")[:missed]), self.zone)

    # What the member may do now

    def may_decide_now(self, change: Change) -> bool:
        """The member holds the approver's grant and has not decided in this round."""
        if change.status != ChangeStatus.AWAITING_APPROVAL:
            return False
        mine = selectors.change_list(tenant=self.tenant, membership=self.membership)
        return selectors.awaiting_approval_of(mine.filter(pk=change.pk), self.request.user).exists()

    def available(self, change: Change) -> list[ActionSpec]:
        """The actions to offer: the lifecycle allows them now, the role may run them, and the
        conditions the services check on the change hold."""
        role = self.membership.role
        lifecycle = {
            str(action) for action in allowed_change_actions(change.status, change.change_type)
        }
        conditions = {
            "edit": change.status in EDITABLE_STATUSES,
            "assess-risk": change.status in EDITABLE_STATUSES,
            "approve": False,
            "reject": False,
            "link-problems": change.is_open,
            "unlink-problems": change.is_open and bool(change.fixes.all()),
            "unrecord-incidents": bool(change.caused_incidents.all()),
        }
        offered = [
            spec
            for spec in ACTIONS.values()
            if role in spec.roles
            and (not spec.lifecycle or spec.lifecycle in lifecycle)
            and conditions.get(spec.slug, True)
        ]
        if role in ACTIONS["approve"].roles and self.may_decide_now(change):
            offered += [ACTIONS["approve"], ACTIONS["reject"]]
        return offered

    # Rendering

    def render_record(
        self,
        change: Change,
        *,
        outcome: Outcome | None = None,
        bound: Panel | None = None,
        open_slug: str = "",
    ) -> HttpResponse:
        outcome = outcome or Outcome()
        panels = action_panels(self, change, bound=bound, open_slug=open_slug)
        cards = {slug.replace("-", "_"): panels.pop(slug, None) for slug in IN_CARDS}
        approvals = list(selectors.change_approvals(change=change))
        events = list(selectors.change_timeline(change=change))
        this_round = [a for a in approvals if a.approval_round == change.approval_round]
        unlink, unrecord = cards["unlink_problems"], cards["unrecord_incidents"]
        risk = cards["assess_risk"]
        answers = (
            [risk.form[question].value() for question in RISK_QUESTIONS]
            if risk
            else [change.risk_impact, change.risk_likelihood, change.risk_backout]
        )
        context: dict[str, Any] = {
            "tenant": self.tenant,
            "membership": self.membership,
            "change": change,
            "zone": self.zone.key,
            "services": [link.service for link in change.service_links.all()],
            "approvals": approvals,
            "received": sum(a.decision == ApprovalDecision.APPROVED for a in this_round),
            **fixed_records(change),
            "fixes_ticked": set(unlink.form["problems"].value() or []) if unlink else set(),
            "incidents": [link.incident for link in change.caused_incidents.all()],
            "incidents_ticked": (
                set(unrecord.form["incidents"].value() or []) if unrecord else set()
            ),
            "conflicts": selectors.change_conflicts(change=change) if change.is_open else [],
            "risk_label": risk_label(answers),
            "timeline": entries(events, self.zone),
            **status_notes(events),
            "panels": list(panels.values()),
            **cards,
            "may_record": self.membership.role in ACTIONS["record-incidents"].roles,
            "notices": outcome.notices,
            "changes": outcome.changes,
        }
        template = f"{TEMPLATE}#record" if self.is_htmx else TEMPLATE
        return TemplateResponse(self.request, template, context, status=outcome.status)


class ChangeRecordPage(ChangeRecordMixin, RecordPage):
    """GET /t/<tenant>/changes/CHG-000042/: the record."""


class ChangeActionPage(ChangeRecordMixin, RecordActionPage):
    """POST /t/<tenant>/changes/CHG-000042/<action>/: one action through its service."""

    record_name = "change"

    def check_decider(self) -> None:
        """Approving and rejecting: to a member without the approver's grant on the change,
        the change is absent (404, as the API answers), whatever the form says."""
        if self.kwargs["action"] not in DECISIONS:
            return
        deciding = selectors.changes_to_decide(tenant=self.tenant, membership=self.membership)
        if not deciding.filter(number=_number(self.kwargs["reference"])).exists():
            raise Http404("No such change awaiting your approval.")

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        self.check_decider()
        return super().get(request, *args, **kwargs)

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        self.check_decider()
        # Times typed into the form are the tenant's wall-clock times.
        with timezone.override(self.zone):
            return super().post(request, *args, **kwargs)


class RiskPreview(TenantPageMixin, View):
    """GET /t/<tenant>/changes/risk/?impact=&likelihood=&backout=: the risk three answers
    give (changes.lifecycle.risk_of), as the fragment the assessment form swaps into its
    output while the answers change (a small page when asked without htmx). An answer that
    is not 1, 2 or 3 is a 400."""

    page_roles = STAFF

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        values = [request.GET.get(question, "") for question in RISK_QUESTIONS]
        htmx = request.headers.get("HX-Request") == "true"
        template = RISK_RESULT if htmx else "changes/record/risk_page.html"
        context: dict[str, Any] = {"tenant": self.tenant}
        try:
            for value in values:
                risk_answer(value)
        except ValueError:
            return TemplateResponse(request, template, {**context, "invalid": True}, status=400)
        return TemplateResponse(request, template, {**context, "risk_label": risk_label(values)})
