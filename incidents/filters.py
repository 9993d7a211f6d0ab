from django_filters import rest_framework as filters

from incidents.choices import IncidentSource, IncidentStatus, Priority
from incidents.models import Incident
from itsm.catalog.models import Category, Service
from itsm.filters import UtcDateTimeFilter, tenant_queryset
from itsm.tenancy.choices import TeamKind
from itsm.tenancy.models import Team


class IncidentFilterSet(filters.FilterSet):
    # Columns of the incident itself: no join can repeat a row, so no DISTINCT (django-filter
    # adds one by default, and PostgreSQL then sorts every column of the page).
    status = filters.MultipleChoiceFilter(choices=IncidentStatus.choices, distinct=False)
    priority = filters.MultipleChoiceFilter(choices=Priority.choices, distinct=False)
    source = filters.MultipleChoiceFilter(choices=IncidentSource.choices, distinct=False)
    team = filters.ModelChoiceFilter(
        queryset=tenant_queryset(Team), to_field_name="slug", field_name="assignment_team"
    )
    assignee = filters.CharFilter(field_name="assignee__username")
    reported_by = filters.CharFilter(field_name="reported_by__username")
    unassigned = filters.BooleanFilter(field_name="assignee", lookup_expr="isnull")
    tier = filters.ChoiceFilter(
        field_name="assignment_team__kind", choices=TeamKind.choices, label="Team tier"
    )
    service = filters.ModelChoiceFilter(
        queryset=tenant_queryset(Service), to_field_name="slug", field_name="service"
    )
    category = filters.ModelChoiceFilter(
        queryset=tenant_queryset(Category), to_field_name="slug", field_name="category"
    )
    is_major = filters.BooleanFilter()
    breached = filters.BooleanFilter(field_name="sla_breached", label="An SLA clock breached")
    created_after = UtcDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = UtcDateTimeFilter(field_name="created_at", lookup_expr="lt")
    resolved_after = UtcDateTimeFilter(field_name="resolved_at", lookup_expr="gte")
    resolved_before = UtcDateTimeFilter(field_name="resolved_at", lookup_expr="lt")

    class Meta:
        model = Incident
        fields = [
            "status",
            "priority",
            "source",
            "team",
            "assignee",
            "reported_by",
            "unassigned",
            "tier",
            "service",
            "category",
            "is_major",
            "breached",
            "created_after",
            "created_before",
            "resolved_after",
            "resolved_before",
        ]
