from typing import Any

from django.db.models import QuerySet
from django_filters import rest_framework as filters

from changes.choices import ChangeStatus, ChangeType, Risk
from changes.models import Change
from changes.selectors import awaiting_approval_of
from itsm.catalog.models import Service
from itsm.filters import UtcDateTimeFilter, tenant_queryset


class ChangeFilterSet(filters.FilterSet):
    type = filters.MultipleChoiceFilter(
        choices=ChangeType.choices, field_name="change_type", distinct=False
    )
    status = filters.MultipleChoiceFilter(choices=ChangeStatus.choices, distinct=False)
    risk = filters.MultipleChoiceFilter(choices=Risk.choices, distinct=False)
    # One link row per (change, service): filtering by one service repeats no change.
    service = filters.ModelChoiceFilter(
        queryset=tenant_queryset(Service),
        to_field_name="slug",
        field_name="service_links__service",
        distinct=False,
    )
    # Changes whose planned window ends after / starts before the given instants: together,
    # the changes that overlap a range (the calendar's question).
    planned_after = UtcDateTimeFilter(field_name="planned_end", lookup_expr="gt")
    planned_before = UtcDateTimeFilter(field_name="planned_start", lookup_expr="lt")
    awaiting_my_approval = filters.BooleanFilter(
        method="filter_awaiting_my_approval",
        label="Only changes awaiting my decision as an approver",
    )

    class Meta:
        model = Change
        fields = ["type", "status", "risk", "service", "planned_after", "planned_before"]

    def filter_awaiting_my_approval(
        self, queryset: QuerySet[Change], name: str, value: Any
    ) -> QuerySet[Change]:
        if not value:
            return queryset
        return awaiting_approval_of(queryset, self.request.user)
