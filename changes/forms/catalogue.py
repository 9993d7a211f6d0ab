"""The form of the standard change catalogue: one template, the fields of the API's
`ChangeTemplateWriteSerializer` but `is_active` (the edit page retires and reactivates).

The three risk answers take the record page's names (`impact`, `likelihood`, `backout`), so the
`changes:risk-preview` fragment reads them as it reads the assessment form's; `service_data`
gives them the service's names.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Final

from django import forms
from django.db.models import Q, QuerySet

from changes.forms.actions import RISK_CHOICES
from changes.forms.create import field_choices
from changes.models import ChangeTemplate
from itsm.catalog import selectors as catalog_selectors
from itsm.tenancy.models import Tenant
from problems.forms.actions import text_field

NAME_MAX = ChangeTemplate._meta.get_field("name").max_length
# The API's bound: a standard change lasts at most two weeks.
DURATION_MAX: Final = 60 * 24 * 14
# The page's names of the risk answers, and the service's.
RISK_FIELDS: Final = {
    "impact": "risk_impact",
    "likelihood": "risk_likelihood",
    "backout": "risk_backout",
}


def service_choices(tenant: Tenant, keep: Iterable[int] = ()) -> QuerySet[Any]:
    """The tenant's active services, plus those the template already names (a service retired
    since stays a choice, so saving the template does not drop it unasked)."""
    keep = list(keep)
    active: QuerySet[Any] = field_choices(tenant)["services"]
    if not keep:
        return active
    return (
        catalog_selectors.service_list(tenant=tenant)
        .filter(Q(is_active=True) | Q(pk__in=keep))
        .select_related(None)
        .order_by("name")
    )


def risk_field(label: str, help_text: str = "") -> Any:
    return forms.TypedChoiceField(
        choices=RISK_CHOICES,
        coerce=int,
        empty_value=None,
        required=False,
        label=label,
        help_text=help_text,
    )


class TemplateForm(forms.Form):
    """A standard change template: what it does, its plans, its risk and its window."""

    name = forms.CharField(max_length=NAME_MAX)
    description = text_field(required=False, rows=3)
    services: forms.ModelMultipleChoiceField[Any] = forms.ModelMultipleChoiceField(
        queryset=None, required=False, label="Affected services"
    )
    implementation_plan = text_field(required=False, rows=4)
    backout_plan = text_field(required=False, rows=3)
    test_plan = text_field(required=False, rows=3)
    impact = risk_field("Impact if it goes wrong", "How much the services would suffer.")
    likelihood = risk_field("Likelihood that it goes wrong")
    backout = risk_field("Difficulty of backing it out")
    duration_minutes = forms.IntegerField(
        label="Duration (minutes)",
        min_value=1,
        max_value=DURATION_MAX,
        initial=60,
        help_text="The planned window a change from this template gets.",
    )

    def __init__(self, *args: Any, services: QuerySet[Any], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["services"].queryset = services  # type: ignore[attr-defined]

    def wire_risk_preview(self, url: str) -> None:
        """Each answer, when changed, asks `url` (changes:risk-preview) for the risk the three
        give and shows it in the form's output (htmx); without script it shows once saved."""
        ids = ", ".join(f"#{self[question].auto_id}" for question in RISK_FIELDS)
        for question in RISK_FIELDS:
            self.fields[question].widget.attrs.update(
                {
                    "hx-get": url,
                    "hx-trigger": "change",
                    "hx-include": ids,
                    "hx-target": "#risk-result",
                    "hx-swap": "innerHTML",
                    "aria-controls": "risk-result",
                }
            )

    def risk_answers(self) -> list[Any]:
        """The three answers as given (bound) or as stored (initial), for the risk shown."""
        return [self[question].value() for question in RISK_FIELDS]

    def service_data(self) -> dict[str, Any]:
        """What `template_create` and `template_update` take."""
        data = {RISK_FIELDS.get(name, name): value for name, value in self.cleaned_data.items()}
        data["services"] = list(data["services"])
        return data

    @staticmethod
    def initial_of(template: ChangeTemplate) -> dict[str, Any]:
        """The form filled in from a template (its service links prefetched)."""
        initial: dict[str, Any] = {
            name: getattr(template, name)
            for name in (
                "name",
                "description",
                "implementation_plan",
                "backout_plan",
                "test_plan",
                "duration_minutes",
            )
        }
        initial.update(
            {question: getattr(template, field) for question, field in RISK_FIELDS.items()}
        )
        initial["services"] = [link.service_id for link in template.service_links.all()]
        return initial
