from typing import Any

from django.db.models import QuerySet

from itsm.api.views import TenantModelViewSet
from itsm.catalog import selectors, services
from itsm.catalog.api.filters import CategoryFilterSet, ServiceFilterSet
from itsm.catalog.api.serializers import (
    CategoryReadSerializer,
    CategoryWriteSerializer,
    ServiceReadSerializer,
    ServiceWriteSerializer,
)
from itsm.catalog.models import Category, Service
from itsm.tenancy.choices import ADMIN_ROLES, ALL_ROLES
from itsm.tenancy.models import Tenant

# Requesters read the catalogue too: they pick a service and category when they report.
CATALOG_ACTION_ROLES = {
    "list": ALL_ROLES,
    "retrieve": ALL_ROLES,
    "create": ADMIN_ROLES,
    "partial_update": ADMIN_ROLES,
    "destroy": ADMIN_ROLES,
}


class ServiceViewSet(TenantModelViewSet):
    """The tenant's business services."""

    queryset = Service.objects.none()
    serializer_class = ServiceReadSerializer
    input_serializer_classes = {
        "create": ServiceWriteSerializer,
        "partial_update": ServiceWriteSerializer,
    }
    lookup_field = "slug"
    filterset_class = ServiceFilterSet
    search_fields = ["name", "slug", "description"]
    ordering_fields = ["name", "criticality", "created_at"]
    ordering = ["name", "id"]
    action_roles = CATALOG_ACTION_ROLES

    def get_tenant_queryset(self, tenant: Tenant) -> QuerySet[Service]:
        return selectors.service_list(tenant=tenant)

    def perform_create_service(self, data: dict[str, Any]) -> Service:
        return services.service_create(tenant=self.tenant, data=data)

    def perform_update_service(self, instance: Service, data: dict[str, Any]) -> Service:
        return services.service_update(service=instance, data=data)

    def perform_destroy_service(self, instance: Service) -> None:
        services.service_delete(service=instance)


class CategoryViewSet(TenantModelViewSet):
    """The tenant's ticket categories, optionally nested."""

    queryset = Category.objects.none()
    serializer_class = CategoryReadSerializer
    input_serializer_classes = {
        "create": CategoryWriteSerializer,
        "partial_update": CategoryWriteSerializer,
    }
    lookup_field = "slug"
    filterset_class = CategoryFilterSet
    search_fields = ["name", "slug", "description"]
    ordering_fields = ["name", "created_at"]
    ordering = ["name", "id"]
    action_roles = CATALOG_ACTION_ROLES

    def get_tenant_queryset(self, tenant: Tenant) -> QuerySet[Category]:
        return selectors.category_list(tenant=tenant)

    def perform_create_service(self, data: dict[str, Any]) -> Category:
        return services.category_create(tenant=self.tenant, data=data)

    def perform_update_service(self, instance: Category, data: dict[str, Any]) -> Category:
        return services.category_update(category=instance, data=data)

    def perform_destroy_service(self, instance: Category) -> None:
        services.category_delete(category=instance)
