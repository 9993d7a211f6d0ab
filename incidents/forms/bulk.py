"""The queue's bulk action: assign or move the selected incidents."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.utils.http import url_has_allowed_host_and_scheme

from itsm.tenancy.models import Team, Tenant
from itsm.tenancy.selectors import agent_list

MAX_ROWS = 200  # one queue page at most


class ReferenceListField(forms.Field):
    """The references (INC-000042) of the ticked rows."""

    widget = forms.MultipleHiddenInput

    def to_python(self, value: Any) -> list[str]:
        values = value if isinstance(value, list | tuple) else [value] if value else []
        if len(values) > MAX_ROWS:
            raise ValidationError(f"Select at most {MAX_ROWS} incidents at once.")
        if any(not isinstance(item, str) or len(item) > 30 for item in values):
            raise ValidationError("Not an incident reference.")
        return list(dict.fromkeys(values))  # each once, in the order ticked

    def validate(self, value: Any) -> None:
        if not value:
            raise ValidationError("Select the incidents first.", code="required")


class BulkAssignForm(forms.Form):
    incident = ReferenceListField()
    team = forms.ModelChoiceField(
        queryset=Team.objects.none(), to_field_name="slug", required=False, label="Team"
    )
    assignee = forms.ModelChoiceField(
        queryset=get_user_model().objects.none(),
        to_field_name="username",
        required=False,
        label="Assignee",
    )
    back = forms.CharField(required=False, max_length=1000, widget=forms.HiddenInput)

    def __init__(self, *args: Any, tenant: Tenant, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        fields: Any = self.fields
        fields["team"].queryset = Team.objects.for_tenant(tenant).order_by("name")
        fields["assignee"].queryset = agent_list(tenant=tenant)

    def clean_back(self) -> str:
        back: str = self.cleaned_data["back"]
        return back if url_has_allowed_host_and_scheme(back, allowed_hosts=None) else ""

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if not cleaned.get("team") and not cleaned.get("assignee"):
            raise ValidationError("Choose a team, an assignee or both.")
        return cleaned
