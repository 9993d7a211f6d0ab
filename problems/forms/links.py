"""The forms of the bulk link page: which incidents to list, and which to link."""

from __future__ import annotations

from typing import Any

from django import forms

from itsm.catalog import selectors as catalog_selectors
from itsm.tenancy.models import Tenant
from itsm.web.queues import MAX_QUERY_LENGTH
from problems.forms.actions import ReferencesField, VersionedForm


class IncidentFilterForm(forms.Form):
    """The list's narrowing: text, open or all, service, category (the tenant's only)."""

    q = forms.CharField(label="Text", required=False, max_length=MAX_QUERY_LENGTH)
    status = forms.ChoiceField(
        choices=[("open", "Open"), ("all", "All")], required=False, initial="open"
    )
    service: forms.ModelChoiceField[Any] = forms.ModelChoiceField(
        queryset=None, required=False, to_field_name="slug", empty_label="Any"
    )
    category: forms.ModelChoiceField[Any] = forms.ModelChoiceField(
        queryset=None, required=False, to_field_name="slug", empty_label="Any"
    )

    def __init__(self, *args: Any, tenant: Tenant, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["service"].queryset = catalog_selectors.service_list(tenant=tenant)  # type: ignore[attr-defined]
        self.fields["category"].queryset = catalog_selectors.category_list(tenant=tenant)  # type: ignore[attr-defined]


class LinkForm(VersionedForm):
    incidents = ReferencesField(label="Incidents", error_messages={"required": "Tick an incident."})
    hold = forms.BooleanField(
        required=False, label="Put the incidents in progress on hold, awaiting the problem"
    )
