"""The forms of the incident record page: one per action, each feeding one service.

The forms check shape only (choices, lengths, numbers); the services decide everything else,
exactly as they do for the API, whose input serializers these forms mirror. Each action is
described once in `ACTIONS`: its form, its service, the roles that may run it (the API's
`action_roles`; tests/incidents/test_record_page.py holds the two together).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django import forms
from django.db.models import QuerySet

from incidents import services
from incidents.choices import (
    EscalationKind,
    HoldReason,
    Impact,
    IncidentAction,
    ResolutionCode,
    Urgency,
)
from itsm.tenancy.choices import ALL_ROLES, STAFF_ROLES

MAX_TEXT = 20000  # as the API and the model's text fields


def _text(
    *,
    required: bool,
    rows: int = 3,
    label: str = "",
    help_text: str = "",
    attrs: dict[str, str] | None = None,
) -> Any:
    return forms.CharField(
        label=label or None,
        required=required,
        max_length=MAX_TEXT,
        strip=True,
        widget=forms.Textarea(attrs={"rows": str(rows), **(attrs or {})}),
        help_text=help_text,
    )


class UserChoiceField(forms.ModelChoiceField):  # type: ignore[type-arg]
    """A user shown by full name (username when it has none)."""

    def label_from_instance(self, obj: Any) -> str:
        return str(obj.get_full_name() or obj.get_username())


class VersionedForm(forms.Form):
    """A state change carries the version of the incident it was made on (the form's If-Match)."""

    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1, max_value=2**31 - 1)

    def service_arguments(self) -> dict[str, Any]:
        arguments = dict(self.cleaned_data)
        arguments["expected_version"] = arguments.pop("version")
        return arguments


class AppendForm(forms.Form):
    """Comments, work notes and stakeholder updates only append: they need no version."""

    body = _text(required=True, rows=3, label="Text")

    def service_arguments(self) -> dict[str, Any]:
        return dict(self.cleaned_data)


class AcknowledgeForm(VersionedForm):
    pass


class AssignForm(VersionedForm):
    team: forms.ModelChoiceField[Any] = forms.ModelChoiceField(
        queryset=None, required=False, empty_label="(keep the team)"
    )
    assignee = UserChoiceField(queryset=None, required=False, empty_label="(nobody)")

    def __init__(self, *args: Any, teams: QuerySet[Any], agents: QuerySet[Any], **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.fields["team"].queryset = teams  # type: ignore[attr-defined]
        self.fields["assignee"].queryset = agents  # type: ignore[attr-defined]


class EscalateForm(VersionedForm):
    kind = forms.ChoiceField(choices=EscalationKind.choices, initial=EscalationKind.FUNCTIONAL)
    team: forms.ModelChoiceField[Any] = forms.ModelChoiceField(
        queryset=None,
        required=False,
        empty_label="(the next tier's team)",
        help_text="Functional escalation only.",
    )
    reason = _text(required=True, rows=2, label="Why")

    def __init__(self, *args: Any, teams: QuerySet[Any], **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.fields["team"].queryset = teams  # type: ignore[attr-defined]


class HoldForm(VersionedForm):
    hold_reason = forms.ChoiceField(label="Waiting for", choices=HoldReason.choices)
    note = _text(required=False, rows=2)


class NoteForm(VersionedForm):
    note = _text(required=False, rows=2)


class ResolveForm(VersionedForm):
    resolution_code = forms.ChoiceField(choices=ResolutionCode.choices)
    resolution_notes = _text(
        required=True, rows=3, help_text="How was service restored? The caller reads this."
    )


class OptionalReasonForm(VersionedForm):
    reason = _text(required=False, rows=2)


class ReasonForm(VersionedForm):
    reason = _text(required=True, rows=2)


class ChangePriorityForm(VersionedForm):
    impact = forms.TypedChoiceField(choices=Impact.choices, coerce=int)
    urgency = forms.TypedChoiceField(choices=Urgency.choices, coerce=int)
    reason = _text(required=True, rows=2)


class DeclareMajorForm(VersionedForm):
    commander = UserChoiceField(queryset=None, label="Incident commander")
    reason = _text(required=True, rows=2, label="Why is it major")

    def __init__(self, *args: Any, agents: QuerySet[Any], **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.fields["commander"].queryset = agents  # type: ignore[attr-defined]


class CommentForm(AppendForm):
    # "c" focuses it (app.js opens its <details>).
    body = _text(
        required=True,
        rows=3,
        label="Comment",
        help_text="The caller sees comments.",
        attrs={"data-shortcut": "c"},
    )


class WorkNoteForm(AppendForm):
    body = _text(required=True, rows=3, label="Work note", help_text="Internal: staff only.")


class StakeholderUpdateForm(AppendForm):
    body = _text(required=True, rows=3, label="Stakeholder update")


@dataclass(frozen=True)
class ActionSpec:
    """One action of the record page: its URL slug, form, service and who may run it."""

    slug: str
    label: str
    form_class: type[forms.Form]
    service: Callable[..., Any]
    roles: frozenset[str]
    lifecycle: IncidentAction | None = None  # None: not in the lifecycle table
    options: dict[str, Any] = field(default_factory=dict)  # fixed service arguments
    api_action: str = ""  # the API viewset's action name
    danger: bool = False
    done: str = "Done."

    @property
    def appends(self) -> bool:
        return issubclass(self.form_class, AppendForm)


ACTIONS: dict[str, ActionSpec] = {
    spec.slug: spec
    for spec in [
        ActionSpec(
            "acknowledge",
            "Acknowledge",
            AcknowledgeForm,
            services.incident_acknowledge,
            STAFF_ROLES,
            IncidentAction.ACKNOWLEDGE,
            api_action="acknowledge",
            done="Acknowledged.",
        ),
        ActionSpec(
            "assign",
            "Assign",
            AssignForm,
            services.incident_assign,
            STAFF_ROLES,
            IncidentAction.ASSIGN,
            api_action="assign",
            done="Assigned.",
        ),
        ActionSpec(
            "escalate",
            "Escalate",
            EscalateForm,
            services.incident_escalate,
            STAFF_ROLES,
            IncidentAction.ESCALATE,
            api_action="escalate",
            done="Escalated.",
        ),
        ActionSpec(
            "hold",
            "Put on hold",
            HoldForm,
            services.incident_hold,
            STAFF_ROLES,
            IncidentAction.HOLD,
            api_action="hold",
            done="Put on hold.",
        ),
        ActionSpec(
            "resume",
            "Resume",
            NoteForm,
            services.incident_resume,
            STAFF_ROLES,
            IncidentAction.RESUME,
            api_action="resume",
            done="Resumed.",
        ),
        ActionSpec(
            "resolve",
            "Resolve",
            ResolveForm,
            services.incident_resolve,
            STAFF_ROLES,
            IncidentAction.RESOLVE,
            api_action="resolve",
            done="Resolved.",
        ),
        ActionSpec(
            "close",
            "Close",
            NoteForm,
            services.incident_close,
            ALL_ROLES,
            IncidentAction.CLOSE,
            api_action="close",
            done="Closed.",
        ),
        ActionSpec(
            "reopen",
            "Reopen",
            OptionalReasonForm,
            services.incident_reopen,
            ALL_ROLES,
            IncidentAction.REOPEN,
            api_action="reopen",
            done="Reopened.",
        ),
        ActionSpec(
            "cancel",
            "Cancel incident",
            ReasonForm,
            services.incident_cancel,
            STAFF_ROLES,
            IncidentAction.CANCEL,
            api_action="cancel",
            danger=True,
            done="Cancelled.",
        ),
        ActionSpec(
            "change-priority",
            "Change priority",
            ChangePriorityForm,
            services.incident_change_priority,
            STAFF_ROLES,
            api_action="change_priority",
            done="Priority changed.",
        ),
        ActionSpec(
            "declare-major",
            "Declare major incident",
            DeclareMajorForm,
            services.incident_declare_major,
            STAFF_ROLES,
            api_action="declare_major",
            danger=True,
            done="Declared a major incident.",
        ),
        ActionSpec(
            "comment",
            "Comment",
            CommentForm,
            services.incident_comment,
            ALL_ROLES,
            options={"is_public": True},
            api_action="comment",
            done="Comment added.",
        ),
        ActionSpec(
            "work-note",
            "Add work note",
            WorkNoteForm,
            services.incident_comment,
            STAFF_ROLES,
            options={"is_public": False},
            api_action="work_note",
            done="Work note added.",
        ),
        ActionSpec(
            "stakeholder-update",
            "Post update",
            StakeholderUpdateForm,
            services.incident_stakeholder_update,
            STAFF_ROLES,
            api_action="stakeholder_update",
            done="Stakeholder update posted.",
        ),
    ]
}
