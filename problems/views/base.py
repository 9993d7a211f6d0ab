"""What the problem and known-error record pages share: action panels, and one POST flow.

An action POSTs to `<reference>/<action>/` and runs the same service as the API with the version
the form was made on: a stale version changes nothing and offers the user's input again on the
current version. Without JavaScript a success redirects back (Post/Redirect/Get); with htmx the
record is re-rendered in place. Refusals are 400 (input), 403 (not for this role), 409 (the
record's state), always as a usable page.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views import View

from itsm.errors import (
    ConflictError,
    DomainError,
    ForbiddenError,
    InvalidInputError,
    NotFoundError,
    PreconditionFailedError,
)
from itsm.tenancy.choices import STAFF_ROLES
from itsm.web.views import TenantPageMixin
from problems.forms.actions import ActionSpec, VersionedForm

STAFF = frozenset(STAFF_ROLES)
Notice = tuple[str, str]  # (level, text)


@dataclass
class Panel:
    """One action's form on the page."""

    spec: ActionSpec
    form: forms.Form
    url: str
    open: bool = False
    still_applies: bool = True
    error: str = ""


@dataclass
class Outcome:
    """What the last POST left for the page to say."""

    status: int = 200
    notices: list[Notice] = field(default_factory=list)
    changes: list[Any] = field(default_factory=list)  # timeline entries written meanwhile


def refusal_status(error: DomainError) -> int:
    """The status of a page refused by a service: 403 not for this role, 409 the record's state,
    400 anything else the service refuses."""
    if isinstance(error, ForbiddenError):
        return 403
    if isinstance(error, ConflictError):
        return 409
    return 400


def display_name(user: Any) -> str:
    if user is None:
        return "System"
    return str(user.get_full_name() or user.get_username())


def action_panels(
    page: Any, record: Any, *, bound: Panel | None = None, open_slug: str = ""
) -> dict[str, Panel]:
    """A form for each action the page offers on the record now, by slug; a bound form (the
    one just posted) replaces its empty twin, and says whether its action still applies."""
    panels: dict[str, Panel] = {
        spec.slug: Panel(
            spec,
            page.make_form(spec, record),
            page.action_url(record, spec.slug),
            open=spec.slug == open_slug,
        )
        for spec in page.available(record)
    }
    if bound is not None:
        bound.still_applies = bound.spec.slug in panels
        panels[bound.spec.slug] = bound
    return panels


class RecordPage(TenantPageMixin, View):
    """GET of a record page (problem, known error, suggestion): the record mixin renders it."""

    page_roles = STAFF

    @property
    def is_htmx(self) -> bool:
        return self.request.headers.get("HX-Request") == "true"

    def get_record(self) -> Any:
        raise NotImplementedError

    def render_record(self, record: Any) -> HttpResponse:
        raise NotImplementedError

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        return self.render_record(self.get_record())


class RecordActionPage(TenantPageMixin, View):
    """POST `<reference>/<action>/`: one action through its service. GET shows the record with
    that action's form open (a link that works without script). Subclasses name the record,
    its actions and how to render it."""

    page_roles = STAFF
    kwargs: dict[str, Any]
    actions: ClassVar[dict[str, ActionSpec]]
    record_name: ClassVar[str]  # "problem", "known error"

    # --- What a subclass provides ---

    def get_record(self) -> Any:
        raise NotImplementedError

    def make_form(self, spec: ActionSpec, record: Any, data: Any = None) -> forms.Form:
        raise NotImplementedError

    def run(self, spec: ActionSpec, record: Any, form: forms.Form) -> Any:
        raise NotImplementedError

    def render_record(
        self,
        record: Any,
        *,
        outcome: Outcome | None = None,
        bound: Panel | None = None,
        open_slug: str = "",
    ) -> HttpResponse:
        raise NotImplementedError

    def detail_url(self, record: Any) -> str:
        raise NotImplementedError

    def action_url(self, record: Any, slug: str) -> str:
        raise NotImplementedError

    def report(self, spec: ActionSpec, result: Any) -> list[Notice]:
        """What to say after the service succeeded."""
        return [("success", spec.done)]

    def changes_since(self, record: Any, version: int) -> list[Any]:
        """Timeline entries written since `version` (none known: an empty list)."""
        return []

    # --- The flow ---

    @property
    def role(self) -> str:
        return str(self.membership.role)

    @property
    def is_htmx(self) -> bool:
        return self.request.headers.get("HX-Request") == "true"

    def get_spec(self) -> ActionSpec:
        spec = self.actions.get(self.kwargs["action"])
        if spec is None:
            raise Http404("No such action.")
        return spec

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        spec = self.get_spec()
        return self.render_record(self.get_record(), open_slug=spec.slug)

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        spec = self.get_spec()
        record = self.get_record()  # first: a hidden record is a 404 whatever the role
        if self.role not in spec.roles:
            outcome = Outcome(403, [("error", f"Your role may not {spec.label.lower()}.")])
            return self.render_record(record, outcome=outcome)
        form = self.make_form(spec, record, request.POST)
        panel = Panel(spec, form, self.action_url(record, spec.slug), open=True)
        if not form.is_valid():
            outcome = Outcome(400, [("error", "Please correct the errors below.")])
            return self.render_record(record, outcome=outcome, bound=panel)
        try:
            result = self.run(spec, record, form)
        except DomainError as error:
            return self.refused(spec, panel, error)
        except ValidationError as error:  # a model's full_clean inside the service
            form.add_error(None, list(error.messages))
            outcome = Outcome(400, [("error", "Please correct the errors below.")])
            return self.render_record(self.get_record(), outcome=outcome, bound=panel)
        return self.succeeded(spec, result)

    def succeeded(self, spec: ActionSpec, result: Any) -> HttpResponse:
        """The service did it: htmx re-renders the record in place; a plain POST redirects
        back to it (Post/Redirect/Get) with the notices as messages."""
        notices = self.report(spec, result)
        if self.is_htmx:
            return self.render_record(self.get_record(), outcome=Outcome(200, notices))
        for level, text in notices:
            messages.add_message(self.request, getattr(messages, level.upper()), text)
        return redirect(self.detail_url(self.get_record()))

    def refused(self, spec: ActionSpec, panel: Panel, error: DomainError) -> HttpResponse:
        """The service said no: show why, keep what the user typed."""
        if isinstance(error, NotFoundError):
            raise Http404(error.message)
        current = self.get_record()
        if isinstance(error, PreconditionFailedError):
            return self.conflict(spec, current, panel)
        if isinstance(error, InvalidInputError):
            for name, reasons in error.fields.items():
                panel.form.add_error(name if name in panel.form.fields else None, list(reasons))
            if not error.fields:
                panel.form.add_error(None, error.message)
            outcome = Outcome(400, [("error", error.message)])
            return self.render_record(current, outcome=outcome, bound=panel)
        panel.error = error.message
        outcome = Outcome(refusal_status(error), [("error", error.message)])
        return self.render_record(current, outcome=outcome, bound=panel)

    def conflict(self, spec: ActionSpec, current: Any, panel: Panel) -> HttpResponse:
        """Someone changed the record since the form was made: nothing is written. Say so, and
        offer the user's input again on the current version."""
        assert isinstance(panel.form, VersionedForm)
        changes = self.changes_since(current, panel.form.cleaned_data["version"])
        who = ", ".join(dict.fromkeys(change.actor for change in changes))
        text = (
            f"{current.reference} was changed{f' by {who}' if who else ''} while you were "
            "working on it. Nothing you entered was saved: check it and submit again if it "
            "still applies."
        )
        data = self.request.POST.copy()
        data["version"] = str(current.version)
        form = self.make_form(spec, current, data)
        form.is_valid()
        rebound = Panel(spec, form, panel.url, open=True)
        outcome = Outcome(409, [("warning", text)], changes)
        return self.render_record(current, outcome=outcome, bound=rebound)
