"""Write helpers that every app's services build on."""

from collections.abc import Mapping
from typing import Any

from django.db import models, transaction
from django.db.models import ProtectedError, RestrictedError

from itsm.errors import ConflictError
from itsm.tenancy.models import Tenant, TenantOwnedModel


def tenant_object_create[M: TenantOwnedModel](
    model: type[M], *, tenant: Tenant, data: Mapping[str, Any]
) -> M:
    """Validate (field rules, uniqueness, same-tenant links) and insert one tenant object.

    Raises:
        django.core.exceptions.ValidationError: with the offending fields.
    """
    instance = model(tenant=tenant, **data)
    instance.full_clean()
    instance.save(force_insert=True)
    return instance


def object_update[M: models.Model](instance: M, *, data: Mapping[str, Any]) -> list[str]:
    """Apply changed fields, validate and save only those; return the names that changed.

    Raises:
        django.core.exceptions.ValidationError: with the offending fields.
    """
    changed = [name for name, value in data.items() if getattr(instance, name) != value]
    if not changed:
        return []
    for name in changed:
        setattr(instance, name, data[name])
    instance.full_clean()
    update_fields = list(changed)
    if any(field.name == "updated_at" for field in instance._meta.concrete_fields):
        update_fields.append("updated_at")
    instance.save(update_fields=update_fields)
    return changed


def object_delete(instance: models.Model) -> None:
    """Delete a row that nothing refers to any more.

    Raises:
        ConflictError: other records still refer to it (protected foreign keys).
    """
    try:
        with transaction.atomic():
            instance.delete()
    except (ProtectedError, RestrictedError) as error:
        raise ConflictError(
            f"{instance} is still in use; deactivate it instead.", code="in_use"
        ) from error
