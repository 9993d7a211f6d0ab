"""Reading what every tenant has, as the application role, for assertions.

The application role cannot open the platform scope (that needs the platform role's own
connection), so a test that wants "every row, whatever the tenant" reads each tenant in its
own scope and puts the answers together.
"""

from collections.abc import Callable
from typing import Any

from django.db.models import Model

from itsm.tenancy import rls
from itsm.tenancy.models import Tenant


def across_tenants[T](read: Callable[[], list[T]]) -> list[T]:
    """What `read()` returns in each tenant's scope, tenant by tenant (in primary-key order)."""
    rows: list[T] = []
    for tenant_id in Tenant.objects.order_by("pk").values_list("pk", flat=True):
        with rls.tenant_scope(tenant_id):
            rows.extend(read())
    return rows


def rows_across_tenants(model: type[Model]) -> list[dict[str, Any]]:
    """Every row of the model in every tenant, as `values()` gives them."""
    return across_tenants(lambda: list(model._default_manager.order_by("pk").values()))
