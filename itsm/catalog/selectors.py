"""Reads of the service catalogue."""

from django.db.models import QuerySet

from itsm.catalog.models import Category, Service
from itsm.tenancy.models import Tenant


def service_list(*, tenant: Tenant) -> QuerySet[Service]:
    """The tenant's services with their owner team."""
    return Service.objects.for_tenant(tenant).select_related("owner_team")


def category_list(*, tenant: Tenant) -> QuerySet[Category]:
    """The tenant's categories with their parent."""
    return Category.objects.for_tenant(tenant).select_related("parent")
