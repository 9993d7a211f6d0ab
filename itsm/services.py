"""Write helpers that every app's services build on."""

from collections.abc import Collection, Mapping, Sequence
from typing import Any

from django.db import connection, models, transaction
from django.db.models import ProtectedError, RestrictedError
from django.db.models.fields.mixins import FieldCacheMixin

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


def validate_fields(
    instance: models.Model,
    *,
    only: Collection[str] | None = None,
    exclude: Collection[str] = (),
) -> None:
    """`full_clean` for a hot write path: every field's own rules (or those of the fields named
    in `only`: what an edit changed), checked in Python alone.

    Left out, because each costs a round trip and is assured otherwise:
    - looking up a foreign key whose object is already loaded: it came from input validated in
      the tenant's scope (or it is the tenant, or the actor), and the database's foreign keys
      and tenant link guards refuse anything else;
    - querying check and unique constraints one by one: the database enforces them on write.
      Use this only for models whose check constraints restate their fields' choices (which
      are checked here) and whose unique values the service allocates itself.

    Raises:
        django.core.exceptions.ValidationError: with the offending fields.
    """
    skipped = [
        field.name
        for field in instance._meta.concrete_fields
        if field.name in exclude
        or (only is not None and field.name not in only)
        or (isinstance(field, FieldCacheMixin) and field.is_cached(instance))
    ]
    instance.full_clean(exclude=skipped, validate_unique=False, validate_constraints=False)


def keep_related(instance: models.Model, name: str, value: Any) -> None:
    """Leave on `instance` what a write just made of its relation `name` (reverse or many), as a
    prefetch would: `instance.<name>` (a one-to-one: the object or None) or
    `instance.<name>.all()` then read it without a query, so a service's result is represented
    without being read back."""
    relation = instance._meta.get_field(name)
    if relation.one_to_one:
        assert isinstance(relation, FieldCacheMixin)
        relation.set_cached_value(instance, value)
        return
    queryset = getattr(instance, name).get_queryset()
    queryset._result_cache = list(value)
    queryset._prefetch_done = True
    cache = instance.__dict__.setdefault("_prefetched_objects_cache", {})
    cache[relation.cache_name] = queryset  # type: ignore[union-attr]


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


def bulk_update_rows[M: models.Model](model: type[M], rows: Sequence[M], fields: list[str]) -> None:
    """Write `fields` of many rows in one statement.

    Django's bulk_update builds a CASE per row and field, which is most of a batch's time; on
    PostgreSQL one UPDATE … FROM (VALUES …) does the same.
    """
    if not rows:
        return
    if connection.vendor != "postgresql":
        model._default_manager.bulk_update(rows, fields)
        return
    concrete = {field.name: field for field in model._meta.concrete_fields}
    pk, columns = concrete[model._meta.pk.name], [concrete[name] for name in fields]
    casts = ", ".join(f"%s::{field.db_type(connection)}" for field in [pk, *columns])
    names = [connection.ops.quote_name(str(field.column)) for field in columns]
    params: list[Any] = []
    for row in rows:
        params.append(row.pk)
        params += [
            field.get_db_prep_value(getattr(row, field.attname), connection) for field in columns
        ]
    assignments = ", ".join(f"{name} = v.{name}" for name in names)
    table = connection.ops.quote_name(model._meta.db_table)
    key = connection.ops.quote_name(str(pk.column))
    values = ", ".join([f"({casts})"] * len(rows))
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} AS t SET {assignments} FROM (VALUES {values}) "  # noqa: S608
            f"AS v(id, {', '.join(names)}) WHERE t.{key} = v.id",
            params,
        )
