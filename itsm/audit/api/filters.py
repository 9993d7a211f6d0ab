"""Filters of the audit trail: model, record (id or reference), user, time range, action."""

from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import QuerySet

from itsm.audit.models import AuditEvent
from itsm.audit.selectors import filter_by_reference
from itsm.audit.tracking import audited_models
from itsm.filters import UtcDateTimeFilter


def _model_choices() -> list[tuple[str, str]]:
    return [(audited.label, audited.label) for audited in audited_models()]


class AuditEventFilterSet(django_filters.FilterSet):
    model = django_filters.ChoiceFilter(
        choices=_model_choices, help_text="The audited model, e.g. incidents.incident."
    )
    object_id = django_filters.NumberFilter(min_value=1, max_value=2**63 - 1)
    reference = django_filters.CharFilter(
        method="filter_reference", max_length=32, help_text="A record's number, e.g. INC-000042."
    )
    user = django_filters.NumberFilter(
        method="filter_user", min_value=1, max_value=2**63 - 1, help_text="A user's id."
    )
    since = UtcDateTimeFilter(field_name="created_at", lookup_expr="gte")
    until = UtcDateTimeFilter(field_name="created_at", lookup_expr="lt")
    action = django_filters.ChoiceFilter(
        choices=[("insert", "create"), ("update", "update"), ("delete", "delete")]
    )

    class Meta:
        model = AuditEvent
        fields: list[str] = []

    def filter_user(
        self, queryset: QuerySet[AuditEvent], name: str, value: Any
    ) -> QuerySet[AuditEvent]:
        # The form gives a Decimal; the context holds a JSON integer.
        return queryset.filter(context__user_id=int(value))

    def filter_reference(
        self, queryset: QuerySet[AuditEvent], name: str, value: Any
    ) -> QuerySet[AuditEvent]:
        return filter_by_reference(queryset, tenant=self.request.tenant, reference=str(value))
