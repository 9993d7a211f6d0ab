"""Administration of the service catalogue: every tenant's for the platform, their own for
tenant administrators."""

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from itsm.admin_site import EDIT, ServiceBackedAdmin
from itsm.catalog import services
from itsm.catalog.models import Category, Service


@admin.register(Service)
class ServiceAdmin(ServiceBackedAdmin[Service]):
    tenant_admin_access = EDIT
    list_display = ["name", "tenant", "criticality", "owner_team", "is_active"]
    list_filter = ["tenant", "criticality", "is_active"]
    list_select_related = ["tenant", "owner_team"]
    search_fields = ["name", "slug", "description"]
    prepopulated_fields = {"slug": ["name"]}
    raw_id_fields = ["owner_team"]

    def create_object(self, request: HttpRequest, tenant: Any, data: dict[str, Any]) -> Service:
        return services.service_create(tenant=tenant, data=data)

    def update_object(
        self, request: HttpRequest, instance: Service, data: dict[str, Any]
    ) -> Service:
        return services.service_update(service=instance, data=data)

    def delete_object(self, request: HttpRequest, instance: Service) -> None:
        services.service_delete(service=instance)


@admin.register(Category)
class CategoryAdmin(ServiceBackedAdmin[Category]):
    tenant_admin_access = EDIT
    list_display = ["name", "tenant", "parent", "is_active"]
    list_filter = ["tenant", "is_active"]
    list_select_related = ["tenant", "parent"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    raw_id_fields = ["parent"]

    def create_object(self, request: HttpRequest, tenant: Any, data: dict[str, Any]) -> Category:
        return services.category_create(tenant=tenant, data=data)

    def update_object(
        self, request: HttpRequest, instance: Category, data: dict[str, Any]
    ) -> Category:
        return services.category_update(category=instance, data=data)

    def delete_object(self, request: HttpRequest, instance: Category) -> None:
        services.category_delete(category=instance)
