"""New rows of two tables, the second linked to the first, written in one statement.

A notification and its deliveries, an SLA timer and its clock: the children's foreign key needs
the parents' primary keys, so `bulk_create` takes two round trips, one per table. On PostgreSQL
`bulk_create_linked` sends one statement instead: it draws both tables' keys from their
sequences first, in a CTE, and inserts both tables from it. Elsewhere it is the two
`bulk_create`s.

    bulk_create_linked(notifications, deliveries, link="notification")

Each child's `link` holds its (unsaved) parent. Afterwards every instance has its primary key
and is saved, as `bulk_create` leaves them. What it writes is each concrete field's value as a
save would prepare it (`pre_save`, then `get_db_prep_save`); a field left to the database
(`db_default`) is not supported: the row would not say what the database chose.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from django.db import connections, models, router

# PostgreSQL takes at most 65,535 parameters a statement; a batch larger than this is split.
MAX_PARAMETERS = 30_000


def bulk_create_linked(
    parents: Sequence[models.Model], children: Sequence[models.Model], *, link: str
) -> None:
    """Insert `parents` and `children` (whose foreign key `link` points at one of `parents`),
    in one statement per batch on PostgreSQL."""
    if not parents:
        if children:
            raise ValueError("Children without parents.")
        return
    parent_model, child_model = type(parents[0]), type(children[0]) if children else None
    alias = router.db_for_write(parent_model)
    connection = connections[alias]
    if connection.vendor != "postgresql" or child_model is None:
        parent_model._default_manager.using(alias).bulk_create(parents)
        if child_model is not None:  # bulk_create takes each child's key from its parent
            child_model._default_manager.using(alias).bulk_create(children)
        return
    for parent_batch, child_batch in _batches(parents, children, link):
        if child_batch:
            _insert(alias, parent_batch, child_batch, link)
        else:
            parent_model._default_manager.using(alias).bulk_create(parent_batch)


def _batches(
    parents: Sequence[models.Model], children: Sequence[models.Model], link: str
) -> Iterator[tuple[list[models.Model], list[models.Model]]]:
    """Parents with all their children, in batches within the statement's parameter limit."""
    by_parent: dict[int, list[models.Model]] = {id(parent): [] for parent in parents}
    for child in children:
        by_parent[id(getattr(child, link))].append(child)
    parent_width = len(_columns(type(parents[0])))
    child_width = len(_columns(type(children[0])))
    batch: tuple[list[models.Model], list[models.Model]] = ([], [])
    size = 0
    for parent in parents:
        own = by_parent[id(parent)]
        cost = parent_width + 1 + len(own) * (child_width + 1)
        if batch[0] and size + cost > MAX_PARAMETERS:
            yield batch
            batch, size = ([], []), 0
        batch[0].append(parent)
        batch[1].extend(own)
        size += cost
    yield batch


def _columns(model: type[models.Model]) -> list[models.Field[Any, Any]]:
    """The concrete fields a new row is written with, its primary key aside."""
    return [field for field in model._meta.concrete_fields if not field.primary_key]


def _insert(
    alias: str, parents: list[models.Model], children: list[models.Model], link: str
) -> None:
    connection = connections[alias]
    parent_model, child_model = type(parents[0]), type(children[0])
    order = {id(parent): position for position, parent in enumerate(parents, 1)}
    parent_rows, parent_params = _rows(connection, parents, "parent_keys")
    child_rows, child_params = _rows(
        connection,
        children,
        "child_keys",
        link=link,
        parents_of=[order[id(getattr(child, link))] for child in children],
    )
    # Names and casts come from the models, values only as parameters.
    statement = (
        f"WITH {_KEYS.format(name='parent_keys')}, {_KEYS.format(name='child_keys')}, "  # noqa: S608
        f"parent_rows AS ({parent_rows}), child_rows AS ({child_rows}) "
        "SELECT 'parent', position, id FROM parent_keys "
        "UNION ALL SELECT 'child', position, id FROM child_keys"
    )
    params = [
        parent_model._meta.db_table,
        len(parents),
        child_model._meta.db_table,
        len(children),
        *parent_params,
        *child_params,
    ]
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        keys = cursor.fetchall()
    for kind, position, key in keys:
        instance = (parents if kind == "parent" else children)[position - 1]
        instance.pk = key
        instance._state.adding, instance._state.db = False, alias
    for child in children:
        setattr(child, link, getattr(child, link))  # the parent's key into the foreign key


# The keys of a table's new rows, drawn from its sequence, numbered from 1 as the rows are.
_KEYS = (
    "{name} AS MATERIALIZED (SELECT position, nextval(pg_get_serial_sequence(%s, 'id')) AS id "
    "FROM generate_series(1, %s) AS position)"
)


def _rows(
    connection: Any,
    instances: list[models.Model],
    keys: str,
    *,
    link: str | None = None,
    parents_of: Sequence[int] = (),
) -> tuple[str, list[Any]]:
    """The INSERT of the instances with their keys from the CTE `keys`; a child's foreign key
    `link` is the key of its parent, at `parents_of[i]` among the parents."""
    model = type(instances[0])
    quote = connection.ops.quote_name
    fields = [field for field in _columns(model) if field.name != link]
    row = ", ".join(f"%s::{field.cast_db_type(connection)}" for field in fields)
    rows: list[str] = []
    params: list[Any] = []
    for position, instance in enumerate(instances, 1):
        # As bulk_create does: a related object saved since it was set gives its key.
        instance._prepare_related_fields_for_save("bulk_create", fields=fields)  # type: ignore[attr-defined]
        for field in fields:
            value = field.pre_save(instance, add=True)
            if hasattr(value, "resolve_expression"):
                raise ValueError(f"{field} is left to the database: not supported here.")
            params.append(field.get_db_prep_save(value, connection))
        parent = f"{parents_of[position - 1]}, " if link is not None else ""
        rows.append(f"({position}, {parent}{row})")
    columns = [quote(model._meta.pk.column), *(quote(field.column) for field in fields)]
    values = [f"{keys}.id", *(f"v.c{index}" for index in range(len(fields)))]
    header = ["position", *(["parent_position"] if link is not None else [])]
    header += [f"c{index}" for index in range(len(fields))]
    join = f"JOIN {keys} ON {keys}.position = v.position"
    if link is not None:
        columns.append(quote(model._meta.get_field(link).column))  # type: ignore[union-attr]
        values.append("parent_keys.id")
        join += " JOIN parent_keys ON parent_keys.position = v.parent_position"
    insert = (
        f"INSERT INTO {quote(model._meta.db_table)} ({', '.join(columns)}) "  # noqa: S608
        f"SELECT {', '.join(values)} FROM (VALUES {', '.join(rows)}) AS v({', '.join(header)}) "
        f"{join}"
    )
    return insert, params
