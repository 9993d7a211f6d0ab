"""The forms of the problem and known-error record pages: one per action, each feeding one service.

The forms check shape only, as the API's input serializers do; the services decide the rest.
Each action is described once (`ACTIONS` for problems, `KNOWN_ERROR_ACTIONS` for known errors):
its form, its service, the roles that may run it (the API's `action_roles`;
tests/problems/test_record_page.py holds the two together).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any, Final

from django import forms
from django.db.models import QuerySet

from incidents.choices import Impact, ResolutionCode, Urgency
from itsm.tenancy.choices import MembershipRole
from problems import services
from problems.choices import KnownErrorAction, ProblemAction
from problems.models import KnownError, Problem
from problems.services.links import MAX_LINKS_PER_REQUEST

MAX_TEXT = 20000  # as the API and the model's text fields
TITLE_MAX = Problem._meta.get_field("title").max_length

# Who may do what, as the API says (docs/problems.md, "Roles").
PROBLEM_MANAGERS: Final = frozenset({MembershipRole.PROBLEM_MANAGER, MembershipRole.TENANT_ADMIN})
LINKERS: Final = PROBLEM_MANAGERS | {MembershipRole.AGENT}


def text_field(
    *, required: bool, rows: int = 3, label: str = "", help_text: str = "", max_length: int = 0
) -> Any:
    return forms.CharField(
        label=label or None,
        required=required,
        max_length=max_length or MAX_TEXT,
        strip=True,
        widget=forms.Textarea(attrs={"rows": str(rows)}),
        help_text=help_text,
    )


class UserChoiceField(forms.ModelChoiceField):  # type: ignore[type-arg]
    """A user shown by full name (username when it has none)."""

    def label_from_instance(self, obj: Any) -> str:
        return str(obj.get_full_name() or obj.get_username())


class ReferencesField(forms.MultipleChoiceField):
    """Record references (checkboxes named alike); the service says which exist."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(choices=(), **kwargs)

    def valid_value(self, value: str) -> bool:
        return 0 < len(value) <= 32

    def validate(self, value: Any) -> None:
        super().validate(value)
        if len(value) > MAX_LINKS_PER_REQUEST:
            raise forms.ValidationError(
                f"At most {MAX_LINKS_PER_REQUEST} incidents at once.", code="too_many"
            )


class VersionedForm(forms.Form):
    """A write carries the version of the record it was made on (the form's If-Match)."""

    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1, max_value=2**31 - 1)

    def service_arguments(self) -> dict[str, Any]:
        arguments = dict(self.cleaned_data)
        arguments["expected_version"] = arguments.pop("version")
        return arguments


class NoInputForm(VersionedForm):
    pass


class NoteForm(VersionedForm):
    note = text_field(required=False, rows=2)


class ReasonForm(VersionedForm):
    reason = text_field(required=True, rows=2)


class RootCauseForm(VersionedForm):
    root_cause = text_field(
        required=False, rows=4, help_text="Required unless the problem already records one."
    )
    workaround = text_field(
        required=False, rows=3, help_text="How the service desk can restore service meanwhile."
    )


class ResolveForm(VersionedForm):
    fix_notes = text_field(required=True, rows=3, help_text="The fix that removed the root cause.")


class UnlinkForm(VersionedForm):
    incidents = ReferencesField(label="Incidents to unlink")


class ResolveLinkedForm(forms.Form):
    """Resolve the open linked incidents with the problem's fix (no version: each incident is
    resolved through its own service, which checks it)."""

    resolution_code = forms.ChoiceField(choices=ResolutionCode.choices, initial="fixed")
    resolution_notes = text_field(
        required=False, rows=2, help_text="Empty: “Resolved by problem …” and the fix notes."
    )

    def service_arguments(self) -> dict[str, Any]:
        return dict(self.cleaned_data)


class KnownErrorCreateForm(forms.Form):
    title = forms.CharField(
        max_length=KnownError._meta.get_field("title").max_length,
        required=False,
        help_text="Empty: the problem's title.",
    )
    symptoms = text_field(required=True, rows=3, help_text="What users and agents notice.")

    def service_arguments(self) -> dict[str, Any]:
        return {"data": {name: value for name, value in self.cleaned_data.items() if value}}


class ProblemFieldsForm(forms.Form):
    """The descriptive fields of a problem, as the create and edit pages offer them."""

    title = forms.CharField(max_length=TITLE_MAX)
    description = text_field(required=False, rows=5)
    services: forms.ModelMultipleChoiceField[Any] = forms.ModelMultipleChoiceField(
        queryset=None, required=False, help_text="The services whose incidents it causes."
    )
    category: forms.ModelChoiceField[Any] = forms.ModelChoiceField(
        queryset=None, required=False, empty_label="— None —"
    )
    impact = forms.TypedChoiceField(choices=Impact.choices, coerce=int, initial=Impact.LOW)
    urgency = forms.TypedChoiceField(choices=Urgency.choices, coerce=int, initial=Urgency.LOW)
    problem_manager = UserChoiceField(queryset=None, required=False, empty_label="— Nobody —")
    assignment_team: forms.ModelChoiceField[Any] = forms.ModelChoiceField(
        queryset=None, required=False, empty_label="— None —", label="Team"
    )
    root_cause = text_field(required=False, rows=3)
    workaround = text_field(required=False, rows=3)
    review_at = forms.DateTimeField(
        label="Review date",
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        help_text="The problem manager is reminded then.",
    )

    def __init__(self, *args: Any, choices: dict[str, QuerySet[Any]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name, queryset in choices.items():
            self.fields[name].queryset = queryset  # type: ignore[attr-defined]

    def field_data(self) -> dict[str, Any]:
        data = {name: self.cleaned_data[name] for name in self.fields if name != "version"}
        data["services"] = list(data["services"])
        return data


class ProblemEditForm(ProblemFieldsForm, VersionedForm):
    def service_arguments(self) -> dict[str, Any]:
        return {"data": self.field_data(), "expected_version": self.cleaned_data["version"]}


class KnownErrorEditForm(VersionedForm):
    title = forms.CharField(max_length=KnownError._meta.get_field("title").max_length)
    symptoms = text_field(required=True, rows=3)
    workaround = text_field(required=True, rows=3)
    root_cause = text_field(required=True, rows=3)

    def service_arguments(self) -> dict[str, Any]:
        data = {name: value for name, value in self.cleaned_data.items() if name != "version"}
        return {"data": data, "expected_version": self.cleaned_data["version"]}


@dataclass(frozen=True)
class ActionSpec:
    """One action of a record page: its URL slug, form, service and who may run it."""

    slug: str
    label: str
    form_class: type[forms.Form]
    service: Callable[..., Any]
    roles: frozenset[str]
    api_action: str  # the API viewset's action name
    lifecycle: str = ""  # its entry in the lifecycle table ("": not a lifecycle action)
    danger: bool = False
    done: str = "Done."


def lifecycle_spec(
    action: Any,
    slug: str,
    form: type[forms.Form],
    service: Callable[..., Any],
    *,
    roles: frozenset[str],
    **kw: Any,
) -> ActionSpec:
    """An action of a lifecycle table (a TextChoices verb): labelled by it, and named by it in
    the API and in the table."""
    return ActionSpec(
        slug,
        str(action.label),
        form,
        service,
        roles,
        api_action=str(action),
        lifecycle=str(action),
        **kw,
    )


_lifecycle = partial(lifecycle_spec, roles=PROBLEM_MANAGERS)


ACTIONS: dict[str, ActionSpec] = {
    spec.slug: spec
    for spec in [
        _lifecycle(
            ProblemAction.INVESTIGATE,
            "investigate",
            NoInputForm,
            services.problem_investigate,
            done="Investigation started.",
        ),
        _lifecycle(
            ProblemAction.IDENTIFY_ROOT_CAUSE,
            "identify-root-cause",
            RootCauseForm,
            services.problem_identify_root_cause,
            done="Root cause recorded.",
        ),
        _lifecycle(
            ProblemAction.START_FIX,
            "start-fix",
            NoteForm,
            services.problem_start_fix,
            done="Fix started.",
        ),
        _lifecycle(
            ProblemAction.REINVESTIGATE,
            "reinvestigate",
            ReasonForm,
            services.problem_reinvestigate,
            done="Investigating again.",
        ),
        _lifecycle(
            ProblemAction.RESOLVE,
            "resolve",
            ResolveForm,
            services.problem_resolve,
            done="Resolved.",
        ),
        _lifecycle(ProblemAction.CLOSE, "close", NoteForm, services.problem_close, done="Closed."),
        _lifecycle(
            ProblemAction.REOPEN, "reopen", ReasonForm, services.problem_reopen, done="Reopened."
        ),
        _lifecycle(
            ProblemAction.CANCEL,
            "cancel",
            ReasonForm,
            services.problem_cancel,
            danger=True,
            done="Cancelled.",
        ),
        ActionSpec(
            "edit",
            "Edit details",
            ProblemEditForm,
            services.problem_update,
            PROBLEM_MANAGERS,
            api_action="partial_update",
            done="Details saved.",
        ),
        ActionSpec(
            "create-known-error",
            "Create known error",
            KnownErrorCreateForm,
            services.known_error_create,
            PROBLEM_MANAGERS,
            api_action="create_known_error",
            done="Known error recorded as a draft.",
        ),
        ActionSpec(
            "unlink",
            "Unlink selected incidents",
            UnlinkForm,
            services.problem_unlink_incidents,
            PROBLEM_MANAGERS,
            api_action="unlink_incidents",
            done="Unlinked.",
        ),
        ActionSpec(
            "resolve-linked-incidents",
            "Resolve linked incidents",
            ResolveLinkedForm,
            services.problem_resolve_linked_incidents,
            PROBLEM_MANAGERS,
            api_action="resolve_linked_incidents",
            done="Linked incidents resolved.",
        ),
    ]
}

KNOWN_ERROR_ACTIONS: dict[str, ActionSpec] = {
    spec.slug: spec
    for spec in [
        ActionSpec(
            "publish",
            str(KnownErrorAction.PUBLISH.label),
            NoInputForm,
            services.known_error_publish,
            PROBLEM_MANAGERS,
            api_action="publish",
            lifecycle=str(KnownErrorAction.PUBLISH),
            done="Published.",
        ),
        ActionSpec(
            "retire",
            str(KnownErrorAction.RETIRE.label),
            NoInputForm,
            services.known_error_retire,
            PROBLEM_MANAGERS,
            api_action="retire",
            lifecycle=str(KnownErrorAction.RETIRE),
            danger=True,
            done="Retired.",
        ),
        ActionSpec(
            "edit",
            "Edit",
            KnownErrorEditForm,
            services.known_error_update,
            PROBLEM_MANAGERS,
            api_action="partial_update",
            done="Saved.",
        ),
    ]
}
