from django_filters import rest_framework as filters

from itsm.notifications.models import Delivery


class InboxFilterSet(filters.FilterSet):
    unread = filters.BooleanFilter(
        field_name="read_at", lookup_expr="isnull", label="Only unread (true) or read (false)"
    )

    class Meta:
        model = Delivery
        fields = ["unread"]
