"""The forms of the change manager's settings page: a board member, an approval rule (added, or
its board and count edited), a blackout window.

Several of each stand on one page, so each gets its own prefix (and so its own ids): `member`,
`rule` and `blackout` for the add forms, `rule-<id>` and `blackout-<id>` for a row's edit form.
Times are typed in the tenant's time zone, as on "Raise a change" (`in_tenant_time_zone`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django import forms
from django.db.models import QuerySet

from changes.choices import ApprovalBoard, ChangeType, Risk
from changes.forms.create import local_datetime_field
from changes.models import BlackoutWindow
from itsm.catalog.models import Service
from problems.forms.actions import UserChoiceField, text_field

# Standard changes are pre-approved: a rule for them would never apply.
RULE_TYPES = [(t.value, t.label) for t in (ChangeType.NORMAL, ChangeType.EMERGENCY)]
MAX_APPROVALS = 20
NAME_MAX = BlackoutWindow._meta.get_field("name").max_length


class CabMemberForm(forms.Form):
    """Put a staff member on a board."""

    user = UserChoiceField(queryset=None, label="Staff member")
    board = forms.ChoiceField(choices=ApprovalBoard.choices, initial=ApprovalBoard.CAB)

    def __init__(self, *args: Any, people: QuerySet[Any], **kwargs: Any) -> None:
        kwargs.setdefault("prefix", "member")
        super().__init__(*args, **kwargs)
        self.fields["user"].queryset = people  # type: ignore[attr-defined]


class ApprovalRuleEditForm(forms.Form):
    """What a rule says: which board approves, and how many of its members must."""

    board = forms.ChoiceField(choices=ApprovalBoard.choices, initial=ApprovalBoard.CAB)
    approvals_required = forms.IntegerField(
        label="Approvals needed", min_value=1, max_value=MAX_APPROVALS, initial=1
    )


class ApprovalRuleForm(ApprovalRuleEditForm):
    """A rule for one type and risk (the service refuses a second one for the pair)."""

    field_order = ["change_type", "risk", "board", "approvals_required"]

    change_type = forms.ChoiceField(label="Type", choices=RULE_TYPES)
    risk = forms.ChoiceField(choices=Risk.choices)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("prefix", "rule")
        super().__init__(*args, **kwargs)


class ServicesField(forms.MultipleChoiceField):
    """Services picked from a list read once for the page: every row's form shares it, where a
    model choice field would query the services again for each row."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(choices=(), **kwargs)
        self.services: dict[str, Service] = {}

    def set_services(self, services: Sequence[Service]) -> None:
        self.services = {str(service.pk): service for service in services}
        self.choices = [(key, service.name) for key, service in self.services.items()]

    def clean(self, value: Any) -> list[Service]:
        keys: list[str] = super().clean(value)
        return [self.services[key] for key in keys]


class BlackoutWindowForm(forms.Form):
    """A time when no change but an emergency one may be made."""

    name = forms.CharField(max_length=NAME_MAX)
    starts_at = local_datetime_field(label="Starts", required=True)
    ends_at = local_datetime_field(label="Ends", required=True)
    services = ServicesField(
        required=False,
        label="Services",
        help_text="None chosen: the window covers every service.",
    )
    reason = text_field(required=False, rows=2)

    def __init__(self, *args: Any, services: Sequence[Service], **kwargs: Any) -> None:
        kwargs.setdefault("prefix", "blackout")
        super().__init__(*args, **kwargs)
        field = self.fields["services"]
        assert isinstance(field, ServicesField)
        field.set_services(services)

    def clean(self) -> dict[str, Any] | None:
        cleaned = super().clean()
        start, end = self.cleaned_data.get("starts_at"), self.cleaned_data.get("ends_at")
        if start is not None and end is not None and end <= start:
            self.add_error("ends_at", "Must be after the start.")
        return cleaned


def blackout_initial(window: BlackoutWindow) -> dict[str, Any]:
    """A window's values for its edit form (its services from the prefetched links)."""
    return {
        "name": window.name,
        "starts_at": window.starts_at,
        "ends_at": window.ends_at,
        "services": [str(link.service_id) for link in window.service_links.all()],
        "reason": window.reason,
    }
