"""Every write to the service catalogue."""

from collections.abc import Mapping
from typing import Any

from django.db import transaction

from itsm.catalog.models import Category, Service
from itsm.errors import InvalidInputError
from itsm.services import object_delete, object_update, tenant_object_create
from itsm.tenancy.models import Tenant


@transaction.atomic
def service_create(*, tenant: Tenant, data: Mapping[str, Any]) -> Service:
    """Add a service to the tenant's catalogue."""
    return tenant_object_create(Service, tenant=tenant, data=data)


@transaction.atomic
def service_update(*, service: Service, data: Mapping[str, Any]) -> Service:
    """Change a service's descriptive fields."""
    object_update(service, data=data)
    return service


@transaction.atomic
def category_create(*, tenant: Tenant, data: Mapping[str, Any]) -> Category:
    """Add a category to the tenant's catalogue."""
    return tenant_object_create(Category, tenant=tenant, data=data)


@transaction.atomic
def category_update(*, category: Category, data: Mapping[str, Any]) -> Category:
    """Change a category; a category may not become its own ancestor."""
    parent = data.get("parent", category.parent)
    while parent is not None:
        if parent.pk == category.pk:
            raise InvalidInputError(
                "A category cannot be placed under itself.",
                fields={"parent": ["A category cannot be placed under itself."]},
            )
        parent = parent.parent
    object_update(category, data=data)
    return category


@transaction.atomic
def service_delete(*, service: Service) -> None:
    """Delete a service that nothing refers to (a ConflictError otherwise)."""
    object_delete(service)


@transaction.atomic
def category_delete(*, category: Category) -> None:
    """Delete a category that nothing refers to (a ConflictError otherwise)."""
    object_delete(category)
