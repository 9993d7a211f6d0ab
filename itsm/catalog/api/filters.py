from django_filters import rest_framework as filters

from itsm.catalog.choices import ServiceCriticality
from itsm.catalog.models import Category, Service
from itsm.filters import tenant_queryset
from itsm.tenancy.models import Team


class ServiceFilterSet(filters.FilterSet):
    owner_team = filters.ModelChoiceFilter(
        queryset=tenant_queryset(Team), to_field_name="slug", field_name="owner_team"
    )
    criticality = filters.MultipleChoiceFilter(choices=ServiceCriticality.choices)

    class Meta:
        model = Service
        fields = ["owner_team", "criticality", "is_active"]


class CategoryFilterSet(filters.FilterSet):
    parent = filters.ModelChoiceFilter(
        queryset=tenant_queryset(Category), to_field_name="slug", field_name="parent"
    )
    is_root = filters.BooleanFilter(field_name="parent", lookup_expr="isnull")

    class Meta:
        model = Category
        fields = ["parent", "is_root", "is_active"]
