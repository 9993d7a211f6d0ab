"""The known-error record page and its actions: publish, retire and edit, through the services
the API uses (the POST flow of `problems.views.base.RecordActionPage`)."""

from __future__ import annotations

from typing import Any, ClassVar

from django import forms
from django.http import Http404, HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse

from itsm.tenancy.models import MAX_NUMBER, Membership, Tenant, parse_reference
from itsm.web import workspace
from problems import selectors
from problems.choices import KnownErrorStatus, allowed_known_error_actions
from problems.forms.actions import KNOWN_ERROR_ACTIONS, ActionSpec, VersionedForm
from problems.models import KnownError
from problems.views.articles import article_cards
from problems.views.base import Outcome, Panel, RecordActionPage, RecordPage, action_panels

TEMPLATE = "problems/known_error.html"


def known_error_of(tenant: Tenant, membership: Membership, reference: str) -> KnownError:
    """The known error the member may see, by reference; else 404."""
    number = parse_reference(KnownError.NUMBER_PREFIX, reference)
    known_error = (
        selectors.known_error_list(tenant=tenant, membership=membership)
        .filter(number=number)
        .first()
        if number is not None and number <= MAX_NUMBER
        else None
    )
    if known_error is None:
        raise Http404("No such known error.")
    return known_error


class KnownErrorRecordMixin:
    """Finds the known error the member may see and renders the record around it."""

    request: HttpRequest
    tenant: Tenant
    membership: Membership
    kwargs: dict[str, Any]
    actions: ClassVar[dict[str, ActionSpec]] = KNOWN_ERROR_ACTIONS
    is_htmx: bool

    def get_record(self) -> KnownError:
        return known_error_of(self.tenant, self.membership, self.kwargs["reference"])

    def detail_url(self, known_error: KnownError) -> str:
        return reverse("problems:known-error", args=[self.tenant.slug, known_error.reference])

    def action_url(self, known_error: KnownError, slug: str) -> str:
        return reverse(
            "problems:known-error-action", args=[self.tenant.slug, known_error.reference, slug]
        )

    def make_form(self, spec: ActionSpec, known_error: KnownError, data: Any = None) -> forms.Form:
        kwargs: dict[str, Any] = {"auto_id": f"{spec.slug}-%s"}
        if data is not None:
            return spec.form_class(data, **kwargs)
        initial: dict[str, Any] = {"version": known_error.version}
        if spec.slug == "edit":
            initial |= {
                name: getattr(known_error, name)
                for name in ("title", "symptoms", "workaround", "root_cause")
            }
        assert issubclass(spec.form_class, VersionedForm)
        return spec.form_class(initial=initial, **kwargs)

    def run(self, spec: ActionSpec, known_error: KnownError, form: forms.Form) -> Any:
        return spec.service(
            tenant=self.tenant,
            known_error_id=known_error.pk,
            actor=self.request.user,
            **form.service_arguments(),  # type: ignore[attr-defined]
        )

    def available(self, known_error: KnownError) -> list[ActionSpec]:
        lifecycle = {str(action) for action in allowed_known_error_actions(known_error.status)}
        offered = []
        for spec in KNOWN_ERROR_ACTIONS.values():
            if self.membership.role not in spec.roles:
                continue
            if spec.lifecycle and spec.lifecycle not in lifecycle:
                continue
            if spec.slug == "edit" and known_error.status == KnownErrorStatus.RETIRED:
                continue
            offered.append(spec)
        return offered

    def render_record(
        self,
        known_error: KnownError,
        *,
        outcome: Outcome | None = None,
        bound: Panel | None = None,
        open_slug: str = "",
    ) -> HttpResponse:
        outcome = outcome or Outcome()
        panels = action_panels(self, known_error, bound=bound, open_slug=open_slug)
        context = {
            "tenant": self.tenant,
            "membership": self.membership,
            "known_error": known_error,
            # Its own articles card, then those of higher apps (changes that fix it).
            "article_cards": [
                *article_cards(self.tenant.slug, known_error),
                *workspace.cards_for(
                    "known_error", self.tenant, self.membership.role, known_error.reference
                ),
            ],
            "panels": list(panels.values()),
            "notices": outcome.notices,
            "changes": outcome.changes,
        }
        template = f"{TEMPLATE}#record" if self.is_htmx else TEMPLATE
        return TemplateResponse(self.request, template, context, status=outcome.status)


class KnownErrorRecordPage(KnownErrorRecordMixin, RecordPage):
    """GET /t/<tenant>/known-errors/KE-000042/: the record."""


class KnownErrorActionPage(KnownErrorRecordMixin, RecordActionPage):
    """POST /t/<tenant>/known-errors/KE-000042/<action>/: one action through its service."""

    record_name = "known error"
