"""The forms of "Raise a change": a normal or emergency change with its services, people, window,
plans and the problems it fixes; and a standard change from a catalogue template.

Times are typed in the tenant's time zone (`itsm.calendars.selectors.tenant_time_zone`): the
pages activate it, so a `datetime-local` value is read, and shown back, as a wall-clock time
there.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from zoneinfo import ZoneInfo

from django import forms
from django.db.models import QuerySet
from django.utils import timezone

from changes.choices import ChangeType
from changes.models import Change
from changes.services.links import MAX_LINKS_PER_REQUEST
from itsm.calendars.selectors import tenant_time_zone
from itsm.catalog import selectors as catalog_selectors
from itsm.tenancy.models import Tenant
from itsm.tenancy.selectors import agent_list
from problems.forms.actions import UserChoiceField, text_field
from problems.models import KnownError, Problem

TITLE_MAX = Change._meta.get_field("title").max_length
# What "fixes" accepts: the two kinds of record a change fixes, by their own prefix.
FIX_PREFIXES = {
    f"{Problem.NUMBER_PREFIX}-": "problems",
    f"{KnownError.NUMBER_PREFIX}-": "known_errors",
}


@contextmanager
def in_tenant_time_zone(tenant: Tenant) -> Iterator[ZoneInfo]:
    """Read and render date-times in the tenant's zone (forms, filters and templates alike)."""
    zone = tenant_time_zone(tenant=tenant)
    with timezone.override(zone):
        yield zone


def local_datetime_field(*, label: str, required: bool = False, help_text: str = "") -> Any:
    return forms.DateTimeField(
        label=label,
        required=required,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        help_text=help_text,
    )


def field_choices(tenant: Tenant) -> dict[str, QuerySet[Any]]:
    """The tenant's active services and its staff (owner and implementer)."""
    people = agent_list(tenant=tenant)
    return {
        "services": catalog_selectors.service_list(tenant=tenant)
        .filter(is_active=True)
        .select_related(None)
        .order_by("name"),
        "owner": people,
        "implementer": people,
    }


class ChangeCreateForm(forms.Form):
    """A normal or emergency change (standard ones come from a template)."""

    change_type = forms.ChoiceField(
        label="Type",
        choices=[(t.value, t.label) for t in (ChangeType.NORMAL, ChangeType.EMERGENCY)],
        initial=ChangeType.NORMAL,
        help_text="An emergency change is approved by the emergency CAB.",
    )
    title = forms.CharField(max_length=TITLE_MAX)
    description = text_field(required=False, rows=4)
    services: forms.ModelMultipleChoiceField[Any] = forms.ModelMultipleChoiceField(
        queryset=None, required=False, label="Affected services"
    )
    owner = UserChoiceField(
        queryset=None,
        required=False,
        empty_label="— Me —",
        label="Change owner",
        help_text="The change manager accountable for it.",
    )
    implementer = UserChoiceField(queryset=None, required=False, empty_label="— Nobody yet —")
    planned_start = local_datetime_field(label="Planned start")
    planned_end = local_datetime_field(label="Planned end")
    implementation_plan = text_field(required=False, rows=4)
    backout_plan = text_field(required=False, rows=3)
    test_plan = text_field(required=False, rows=3)
    fixes = forms.CharField(
        label="Fixes problems",
        required=False,
        max_length=MAX_LINKS_PER_REQUEST * 12,
        help_text="Problem and known-error references (PRB-000042, KE-000007), separated by "
        "commas or spaces.",
    )

    def __init__(
        self, *args: Any, choices: dict[str, QuerySet[Any]], may_link: bool, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        for name, queryset in choices.items():
            self.fields[name].queryset = queryset  # type: ignore[attr-defined]
        if not may_link:  # the API's link_problems roles; the page says so instead
            del self.fields["fixes"]

    def clean_fixes(self) -> dict[str, list[str]]:
        """The references by kind (`problems`, `known_errors`), each once, in the order given."""
        text: str = self.cleaned_data.get("fixes") or ""
        references = list(dict.fromkeys(part.upper() for part in text.replace(",", " ").split()))
        found: dict[str, list[str]] = {"problems": [], "known_errors": []}
        unknown = []
        for reference in references:
            kind = next((k for p, k in FIX_PREFIXES.items() if reference.startswith(p)), None)
            if kind is None:
                unknown.append(reference)
            else:
                found[kind].append(reference)
        if unknown:
            raise forms.ValidationError(
                f"Not a problem or known-error reference: {', '.join(unknown)}.", code="invalid"
            )
        if len(references) > MAX_LINKS_PER_REQUEST:
            raise forms.ValidationError(f"At most {MAX_LINKS_PER_REQUEST} at once.")
        return found

    def clean(self) -> dict[str, Any] | None:
        cleaned = super().clean()
        start, end = self.cleaned_data.get("planned_start"), self.cleaned_data.get("planned_end")
        if start is not None and end is not None and end <= start:
            self.add_error("planned_end", "Must be after the start.")
        return cleaned

    def field_data(self) -> dict[str, Any]:
        """What `change_create` takes: the fields given (an empty owner: the creator)."""
        data = {name: value for name, value in self.cleaned_data.items() if name != "fixes"}
        data["services"] = list(data["services"])
        if data["owner"] is None:
            del data["owner"]
        return data

    def fix_references(self) -> dict[str, list[str]]:
        fixes: dict[str, list[str]] = self.cleaned_data.get("fixes") or {}
        return {kind: references for kind, references in fixes.items() if references}


class StandardChangeForm(forms.Form):
    """A standard change from one catalogue template (prefixed "standard": the page also holds
    the normal change's form, whose names it must not take)."""

    template = forms.IntegerField(widget=forms.HiddenInput, min_value=1, max_value=2**31 - 1)
    title = forms.CharField(
        max_length=TITLE_MAX, required=False, help_text="Empty: the template's name."
    )
    planned_start = local_datetime_field(
        label="Planned start", help_text="The window lasts the template's duration."
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("prefix", "standard")
        super().__init__(*args, **kwargs)

    def service_data(self) -> dict[str, Any]:
        return {
            name: value
            for name, value in self.cleaned_data.items()
            if name != "template" and value not in (None, "")
        }
