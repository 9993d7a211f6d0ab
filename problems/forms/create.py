"""The form of "Record a problem": the problem's descriptive fields, every related choice limited
to the request's tenant, and the incidents to link at once (from `?incidents=INC-1,INC-2`)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.db.models import Q, QuerySet

from itsm.catalog import selectors as catalog_selectors
from itsm.tenancy.models import Tenant
from itsm.tenancy.selectors import agent_list, team_list
from problems.forms.actions import ProblemFieldsForm
from problems.models import Problem
from problems.services.links import MAX_LINKS_PER_REQUEST


def field_choices(tenant: Tenant, keep: Problem | None = None) -> dict[str, QuerySet[Any]]:
    """The tenant's active services and categories, its staff and its teams. Editing `keep`,
    its own services and category stay choices even once retired, so that saving other fields
    does not drop them."""
    services, categories = Q(is_active=True), Q(is_active=True)
    if keep is not None:
        services |= Q(pk__in=[link.service_id for link in keep.service_links.all()])
        categories |= Q(pk=keep.category_id)
    return {
        "services": catalog_selectors.service_list(tenant=tenant).filter(services),
        "category": catalog_selectors.category_list(tenant=tenant).filter(categories),
        "problem_manager": agent_list(tenant=tenant),
        # The select shows names only: the selector's prefetch of members would be wasted.
        "assignment_team": team_list(tenant=tenant).prefetch_related(None).order_by("name"),
    }


class ProblemCreateForm(ProblemFieldsForm):
    incidents = forms.CharField(
        required=False,
        max_length=MAX_LINKS_PER_REQUEST * 12,
        widget=forms.HiddenInput,
        help_text="Incident references to link, separated by commas.",
    )

    def references(self) -> list[str]:
        text: str = self.cleaned_data.get("incidents") or ""
        return list(dict.fromkeys(part.strip() for part in text.split(",") if part.strip()))

    def field_data(self) -> dict[str, Any]:
        data = super().field_data()
        data.pop("incidents", None)
        return data
