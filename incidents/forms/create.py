"""The forms of "Record an incident": the agent's, and the requester's simpler one.

They validate shape only, as the API's input serializers do, and hand `service_data()` to
`incidents.services.incident_create`; the service decides. Every related field sees only the
request's tenant, so another tenant's id posted by hand is reported like a missing one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django import forms
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from incidents.choices import Impact, IncidentSource, Urgency
from incidents.models import Incident
from itsm.catalog import selectors as catalog_selectors
from itsm.catalog.models import Category, Service
from itsm.errors import DomainError
from itsm.tenancy.choices import STAFF_ROLES
from itsm.tenancy.models import Team, Tenant
from itsm.tenancy.selectors import membership_list, team_list

TITLE_MAX = Incident._meta.get_field("title").max_length
DESCRIPTION_MAX = Incident._meta.get_field("description").max_length
# Keys a browser sends besides the form's fields.
FORM_OVERHEAD = frozenset({"csrfmiddlewaretoken"})
# The service names the team of an assignment "team"; the form calls it assignment_team.
SERVICE_FIELD_NAMES: Mapping[str, str] = {"team": "assignment_team"}


def member_users(*, tenant: Tenant, roles: frozenset[str] | None = None) -> QuerySet[Any]:
    """Active users with an active membership of the tenant (of `roles`, if given)."""
    memberships = membership_list(tenant=tenant).filter(is_active=True)
    if roles is not None:
        memberships = memberships.filter(role__in=roles)
    return (
        get_user_model()
        .objects.filter(is_active=True, pk__in=memberships.values("user_id"))
        .order_by("first_name", "last_name", "username")
    )


class MemberChoiceField(forms.ModelChoiceField[Any]):
    """A member of the tenant, shown by name and username."""

    def label_from_instance(self, obj: Any) -> str:
        name = obj.get_full_name()
        return f"{name} ({obj.get_username()})" if name else str(obj.get_username())


class CategoryChoiceField(forms.ModelChoiceField[Category]):
    """A category, shown under its parent (loaded with it by the selector)."""

    def label_from_instance(self, obj: Category) -> str:
        return f"{obj.parent.name} / {obj.name}" if obj.parent is not None else obj.name


class RequesterIncidentForm(forms.Form):
    """What an end user reports: what is wrong. They are the caller; routing is the desk's."""

    title = forms.CharField(
        label=_("Title"),
        max_length=TITLE_MAX,
        help_text=_("In a few words, what is not working?"),
    )
    description = forms.CharField(
        label=_("Description"),
        required=False,
        max_length=DESCRIPTION_MAX,
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text=_("What happened, since when, what you expected, and who else is affected."),
    )

    def __init__(self, *args: Any, tenant: Tenant, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.tenant, self.user = tenant, user

    def clean(self) -> dict[str, Any] | None:
        """Refuse keys the form does not have, as the API's input serializers do: routing
        fields posted by hand are an error, not something silently dropped."""
        cleaned = super().clean()
        unknown = sorted(set(self.data) - set(self.fields) - FORM_OVERHEAD)
        if unknown:
            shown = ", ".join(name[:40] for name in unknown[:5])
            raise ValidationError(
                _("This form does not take these fields: %(names)s."),
                code="unknown_field",
                params={"names": shown + (", …" if len(unknown) > 5 else "")},
            )
        return cleaned

    def service_data(self) -> dict[str, Any]:
        """The validated input, keyed as `incident_create` takes it. A requester's own report
        came through the portal (the agent's form says how it came)."""
        return {"source": IncidentSource.PORTAL, **self.cleaned_data}

    def add_service_error(self, error: DomainError | ValidationError) -> None:
        """Show what the service refused next to the field it names (else above the form)."""
        if isinstance(error, DomainError):
            fields = {name: list(messages) for name, messages in error.fields.items()}
            general = [error.message]
        else:
            fields = dict(error.message_dict) if hasattr(error, "error_dict") else {}
            general = error.messages
        if not fields:
            self.add_error(None, general)
        for name, messages in fields.items():
            field = SERVICE_FIELD_NAMES.get(name, name)
            self.add_error(field if field in self.fields else None, messages)


class AgentIncidentForm(RequesterIncidentForm):
    """What an agent records: the caller, classification, rating, source and first routing."""

    field_order = [
        "reported_by",
        "title",
        "description",
        "service",
        "category",
        "impact",
        "urgency",
        "source",
        "assignment_team",
        "assignee",
    ]

    reported_by = MemberChoiceField(
        label=_("Caller"),
        queryset=None,
        required=False,
        help_text=_("Who reported the incident or is affected by it. Leave empty if it is you."),
    )
    service: forms.ModelChoiceField[Service] = forms.ModelChoiceField(
        label=_("Service"),
        queryset=None,
        required=False,
        empty_label=_("— Not known —"),
        help_text=_("The service that is down or degraded."),
    )
    category = CategoryChoiceField(
        label=_("Category"),
        queryset=None,
        required=False,
        empty_label=_("— None —"),
    )
    impact = forms.TypedChoiceField(
        label=_("Impact"),
        choices=Impact.choices,
        coerce=int,
        initial=Impact.LOW,
        help_text=_("How widely the business is affected."),
    )
    urgency = forms.TypedChoiceField(
        label=_("Urgency"),
        choices=Urgency.choices,
        coerce=int,
        initial=Urgency.LOW,
        help_text=_("How soon the business needs it fixed."),
    )
    source = forms.ChoiceField(
        label=_("Detected through"),
        choices=IncidentSource.choices,
        initial=IncidentSource.PHONE,
        help_text=_("How the incident reached the service desk."),
    )
    assignment_team: forms.ModelChoiceField[Team] = forms.ModelChoiceField(
        label=_("Team"),
        queryset=None,
        required=False,
        empty_label=_("— Not yet —"),
        help_text=_("Optional: the team that will work it."),
    )
    assignee = MemberChoiceField(
        label=_("Assignee"),
        queryset=None,
        required=False,
        empty_label=_("— Not yet —"),
        help_text=_("Optional: an agent of the team chosen above."),
    )

    def __init__(self, *args: Any, tenant: Tenant, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, tenant=tenant, user=user, **kwargs)
        name = user.get_full_name() or user.get_username()
        choices = {
            "reported_by": member_users(tenant=tenant),
            "service": catalog_selectors.service_list(tenant=tenant).filter(is_active=True),
            "category": catalog_selectors.category_list(tenant=tenant).filter(is_active=True),
            # The select shows names only: the selector's prefetch of members would be wasted.
            "assignment_team": team_list(tenant=tenant).prefetch_related(None).order_by("name"),
            "assignee": member_users(tenant=tenant, roles=STAFF_ROLES),
        }
        for field_name, queryset in choices.items():
            field = self.fields[field_name]
            assert isinstance(field, forms.ModelChoiceField)
            field.queryset = queryset
        caller = self.fields["reported_by"]
        assert isinstance(caller, forms.ModelChoiceField)
        caller.empty_label = _("— Me (%(name)s) —") % {"name": name}
