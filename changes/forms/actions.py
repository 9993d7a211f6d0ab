"""The forms of the change record page: one per action, each feeding one service.

The forms check shape only, as the API's input serializers do; the services decide the rest.
Each action is described once in `ACTIONS`: its form, its service, the roles that may run it
(the API's `ChangeViewSet.action_roles`; tests/changes/test_record_page.py holds them equal).
The generic parts (ActionSpec, the versioned form, the small note and reason forms) are the
problem record's.
"""

from __future__ import annotations

import re
from functools import partial
from typing import Any, Final

from django import forms
from django.db.models import QuerySet

from changes import services
from changes.choices import (
    CHANGE_MANAGERS,
    PROBLEM_LINKERS,
    ChangeAction,
    ChangeOutcome,
    ChangeType,
    RiskFactor,
)
from changes.models import Change, ChangeApproval
from changes.services.links import MAX_LINKS_PER_REQUEST
from itsm.tenancy.choices import STAFF_ROLES
from problems.forms.actions import (
    ActionSpec,
    NoInputForm,
    NoteForm,
    ReasonForm,
    ReferencesField,
    UserChoiceField,
    VersionedForm,
    lifecycle_spec,
    text_field,
)
from problems.models import KnownError

STAFF: Final = frozenset(STAFF_ROLES)
TITLE_MAX = Change._meta.get_field("title").max_length
COMMENT_MAX = ChangeApproval._meta.get_field("comment").max_length or 5000
# A reference is at most 32 characters (ReferencesField); with its separator, 34 per reference.
REFERENCES_MAX = MAX_LINKS_PER_REQUEST * 34
RISK_CHOICES: Final = [("", "— Choose —"), *RiskFactor.choices]
SEPARATORS = re.compile(r"[\s,;]+")


def split_references(text: str) -> list[str]:
    """The references in a comma or space separated text, each once, in the order given."""
    return list(dict.fromkeys(part.upper() for part in SEPARATORS.split(text) if part))


def split_fixes(references: list[str]) -> dict[str, list[str]]:
    """Problem and known-error references apart, as the link services take them."""
    prefix = f"{KnownError.NUMBER_PREFIX}-"
    return {
        "problems": [ref for ref in references if not ref.upper().startswith(prefix)],
        "known_errors": [ref for ref in references if ref.upper().startswith(prefix)],
    }


class ReferencesTextField(forms.CharField):
    """References typed into one box, separated by commas or spaces: a list of them."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(max_length=REFERENCES_MAX, strip=True, **kwargs)

    def clean(self, value: Any) -> list[str]:
        references = split_references(super().clean(value))
        if not references and self.required:
            raise forms.ValidationError(self.error_messages["required"], code="required")
        if len(references) > MAX_LINKS_PER_REQUEST:
            raise forms.ValidationError(
                f"At most {MAX_LINKS_PER_REQUEST} at once.", code="too_many"
            )
        if any(len(reference) > 32 for reference in references):
            raise forms.ValidationError("That is not a reference.", code="invalid")
        return references


# --- Lifecycle -----------------------------------------------------------------------------------


class CloseForm(VersionedForm):
    outcome = forms.ChoiceField(
        choices=[("", "— Choose —"), *ChangeOutcome.choices],
        help_text="Successful closes the problems the change fixes.",
    )
    note = text_field(required=False, rows=2, help_text="What the review found.")


# --- Editing and the risk ------------------------------------------------------------------------


class RiskForm(VersionedForm):
    """The three answers of the risk assessment (the page's own names; the service's below)."""

    impact = forms.TypedChoiceField(
        choices=RISK_CHOICES,
        coerce=int,
        label="Impact if it goes wrong",
        help_text="How much the services would suffer.",
    )
    likelihood = forms.TypedChoiceField(
        choices=RISK_CHOICES,
        coerce=int,
        label="Likelihood that it goes wrong",
    )
    backout = forms.TypedChoiceField(
        choices=RISK_CHOICES, coerce=int, label="Difficulty of backing it out"
    )

    def service_arguments(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "risk_impact": data["impact"],
            "risk_likelihood": data["likelihood"],
            "risk_backout": data["backout"],
            "expected_version": data["version"],
        }


class ChangeEditForm(VersionedForm):
    """The fields a change manager edits while the change is prepared (EDITABLE_FIELDS)."""

    title = forms.CharField(max_length=TITLE_MAX)
    description = text_field(required=False, rows=4)
    change_type = forms.ChoiceField(
        label="Type",
        choices=[(kind.value, kind.label) for kind in (ChangeType.NORMAL, ChangeType.EMERGENCY)],
        help_text="Standard changes are made from a template only.",
    )
    services: forms.ModelMultipleChoiceField[Any] = forms.ModelMultipleChoiceField(
        queryset=None, required=False, help_text="The services the change affects."
    )
    planned_start = forms.DateTimeField(
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )
    planned_end = forms.DateTimeField(
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )
    owner = UserChoiceField(
        queryset=None,
        required=False,
        empty_label="— Nobody —",
        label="Change owner",
        help_text="The change manager accountable for the change.",
    )
    implementer = UserChoiceField(queryset=None, required=False, empty_label="— Nobody —")
    implementation_plan = text_field(required=False, rows=4)
    backout_plan = text_field(required=False, rows=3)
    test_plan = text_field(required=False, rows=3)

    def __init__(
        self,
        *args: Any,
        choices: dict[str, QuerySet[Any]],
        standard: bool = False,
        time_zone: str = "",
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        for name, queryset in choices.items():
            self.fields[name].queryset = queryset  # type: ignore[attr-defined]
        if standard:  # a standard change stays one: its type is not offered
            del self.fields["change_type"]
        if time_zone:
            for name in ("planned_start", "planned_end"):
                self.fields[name].help_text = f"Your organisation's time ({time_zone})."

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("planned_start"), data.get("planned_end")
        if start is not None and end is not None and end <= start:
            self.add_error("planned_end", "Must be after the start.")
        return data

    def service_arguments(self) -> dict[str, Any]:
        data = {name: value for name, value in self.cleaned_data.items() if name != "version"}
        data["services"] = list(data["services"])
        return {"data": data, "expected_version": self.cleaned_data["version"]}


# --- Approvals (not versioned: approvers decide on the change as it stands) ---------------------


class ApproveForm(forms.Form):
    comment = text_field(required=False, rows=2, max_length=COMMENT_MAX)

    def service_arguments(self) -> dict[str, Any]:
        return {"comment": self.cleaned_data["comment"]}


class RejectForm(ApproveForm):
    comment = text_field(
        required=True, rows=2, max_length=COMMENT_MAX, help_text="Why: the change goes back."
    )


# --- Links ---------------------------------------------------------------------------------------


class LinkProblemsForm(VersionedForm):
    problems = ReferencesTextField(
        label="Problems and known errors",
        help_text="References such as PRB-000042 or KE-000007, separated by commas or spaces.",
    )

    def service_arguments(self) -> dict[str, Any]:
        return {
            **split_fixes(self.cleaned_data["problems"]),
            "expected_version": self.cleaned_data["version"],
        }


class UnlinkProblemsForm(VersionedForm):
    problems = ReferencesField(label="Problems and known errors to unlink")

    def service_arguments(self) -> dict[str, Any]:
        return {
            **split_fixes(list(self.cleaned_data["problems"])),
            "expected_version": self.cleaned_data["version"],
        }


class RecordIncidentsForm(VersionedForm):
    incidents = ReferencesTextField(
        label="Incidents", help_text="References such as INC-000042, separated by commas."
    )


class UnrecordIncidentsForm(VersionedForm):
    incidents = ReferencesField(label="Incidents to unrecord")


# --- The table -----------------------------------------------------------------------------------


_lifecycle = partial(lifecycle_spec, roles=CHANGE_MANAGERS)


ACTIONS: dict[str, ActionSpec] = {
    spec.slug: spec
    for spec in [
        _lifecycle(
            ChangeAction.SUBMIT,
            "submit",
            NoInputForm,
            services.change_submit,
            done="Submitted for assessment.",
        ),
        _lifecycle(
            ChangeAction.REQUEST_APPROVAL,
            "request-approval",
            NoInputForm,
            services.change_request_approval,
            done="Approval requested.",
        ),
        _lifecycle(
            ChangeAction.SCHEDULE,
            "schedule",
            NoInputForm,
            services.change_schedule,
            done="Scheduled.",
        ),
        _lifecycle(
            ChangeAction.START, "start", NoInputForm, services.change_start, done="Started."
        ),
        _lifecycle(
            ChangeAction.COMPLETE,
            "complete",
            NoteForm,
            services.change_complete,
            done="Completed: the change is in review.",
        ),
        _lifecycle(ChangeAction.CLOSE, "close", CloseForm, services.change_close, done="Closed."),
        _lifecycle(
            ChangeAction.CANCEL,
            "cancel",
            ReasonForm,
            services.change_cancel,
            danger=True,
            done="Cancelled.",
        ),
        ActionSpec(
            "edit",
            "Edit details",
            ChangeEditForm,
            services.change_update,
            CHANGE_MANAGERS,
            api_action="partial_update",
            done="Details saved.",
        ),
        ActionSpec(
            "assess-risk",
            "Assess the risk",
            RiskForm,
            services.change_assess_risk,
            CHANGE_MANAGERS,
            api_action="assess_risk",
            done="Risk assessed.",
        ),
        ActionSpec(
            "approve",
            "Approve",
            ApproveForm,
            services.change_approve,
            STAFF,
            api_action="approve",
            done="Approved.",
        ),
        ActionSpec(
            "reject",
            "Reject",
            RejectForm,
            services.change_reject,
            STAFF,
            api_action="reject",
            danger=True,
            done="Rejected: the change is back in draft.",
        ),
        ActionSpec(
            "link-problems",
            "Link problems",
            LinkProblemsForm,
            services.change_link_problems,
            PROBLEM_LINKERS,
            api_action="link_problems",
            done="Linked.",
        ),
        ActionSpec(
            "unlink-problems",
            "Unlink problems",
            UnlinkProblemsForm,
            services.change_unlink_problems,
            PROBLEM_LINKERS,
            api_action="unlink_problems",
            done="Unlinked.",
        ),
        ActionSpec(
            "record-incidents",
            "Record incidents",
            RecordIncidentsForm,
            services.change_record_incidents,
            STAFF,
            api_action="record_incidents",
            done="Recorded.",
        ),
        ActionSpec(
            "unrecord-incidents",
            "Unrecord incidents",
            UnrecordIncidentsForm,
            services.change_unrecord_incidents,
            CHANGE_MANAGERS,
            api_action="unrecord_incidents",
            done="Unrecorded.",
        ),
    ]
}
# Approvers' decisions: only holders of the change's approver grant find the change to decide.
DECISIONS: Final = frozenset({"approve", "reject"})
