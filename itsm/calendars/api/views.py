from django.db.models import QuerySet

from itsm.api.views import TenantReadOnlyViewSet
from itsm.calendars.api.serializers import BusinessCalendarReadSerializer
from itsm.calendars.models import BusinessCalendar
from itsm.tenancy.choices import STAFF_ROLES
from itsm.tenancy.models import Tenant


class BusinessCalendarViewSet(TenantReadOnlyViewSet):
    """The tenant's business calendars (maintained in administration)."""

    queryset = BusinessCalendar.objects.none()
    serializer_class = BusinessCalendarReadSerializer
    lookup_field = "slug"
    search_fields = ["name", "slug"]
    ordering_fields = ["name"]
    ordering = ["name", "id"]
    action_roles = {"list": STAFF_ROLES, "retrieve": STAFF_ROLES}

    def get_tenant_queryset(self, tenant: Tenant) -> QuerySet[BusinessCalendar]:
        return BusinessCalendar.objects.for_tenant(tenant).prefetch_related("periods", "holidays")
