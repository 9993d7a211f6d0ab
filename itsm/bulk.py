"""New rows of several tables, linked to each other, written in one statement.

An incident with its SLA timers, clocks and first events; a notification and its deliveries:
each child's foreign key needs its parent's primary key, so `bulk_create` takes a round trip
per table. On PostgreSQL `bulk_create_graph` sends one statement instead: it draws every
table's keys from its sequence first, in a CTE, and inserts every table from them.

    bulk_create_graph([incident], timers, clocks, events)

Groups come parents first. A child's foreign key links to a parent when it holds (unsaved) an
instance of an earlier group; the link is decided by the group's first row, and every row of
the group must then hold an instance of the graph there. A field may hold an expression (a
record's number from `next_number`): the INSERT evaluates it and the instance gets the value
back, as `save()` would read it. Afterwards every instance has its primary key and is saved,
as `bulk_create` leaves them. A field left to the database (`db_default`) is not supported: the
row would not say what the database chose.

Each table's rows travel as one JSON parameter, which `jsonb_to_recordset` reads with the
columns' types. Passing each value as a parameter of its own cost more CPU than the rest of
the write: psycopg parses and quotes a statement of a hundred parameters anew on each call (it
caches only short ones).

Elsewhere than PostgreSQL, for a graph too large for one statement, and for a value JSON does
not carry (bytes, say), each group is written in turn, in its own statement (`bulk_create`, or
`save()` for rows with expressions).
"""

# The SQL is built from the models' names and types; values go only as parameters.
# ruff: noqa: S608

from __future__ import annotations

import datetime
import decimal
import json
import math
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from django.db import connections, models, router
from django.db.models.sql import InsertQuery
from psycopg.types.json import Json, Jsonb

from itsm.prepared import execute_prepared

# A graph of more rows than this goes group by group (one JSON parameter holds any number, but
# one statement should not hold a bulk load).
MAX_ROWS = 5_000


def bulk_create_graph(*groups: Sequence[models.Model]) -> None:
    """Insert the groups' instances (each group one model, parents before children)."""
    groups = tuple(group for group in groups if group)
    if not groups:
        return
    alias = router.db_for_write(type(groups[0][0]))
    if connections[alias].vendor == "postgresql" and sum(map(len, groups)) <= MAX_ROWS:
        try:
            plan = _Plan(alias, groups)
        except _NotJsonError:
            pass
        else:
            plan.execute()
            return
    for group in groups:
        _write_apart(alias, group)


def _write_apart(alias: str, group: Sequence[models.Model]) -> None:
    """One group in statements of its own (each child takes its saved parent's key)."""
    fields = _columns(type(group[0]))
    if any(hasattr(getattr(row, f.attname), "resolve_expression") for row in group for f in fields):
        for row in group:
            row.save(force_insert=True, using=alias)
        return
    type(group[0])._default_manager.using(alias).bulk_create(group)


def _columns(model: type[models.Model]) -> list[models.Field[Any, Any]]:
    """The concrete fields a new row is written with, its primary key aside."""
    return [field for field in model._meta.concrete_fields if not field.primary_key]


@dataclass(frozen=True)
class _Table:
    """What the statement needs of a model, worked out once (Django derives types anew per
    call): its quoted names, and each field's column definition as the rows are read with."""

    name: str
    key: str
    fields: tuple[models.Field[Any, Any], ...]
    columns: dict[str, str]  # field name -> quoted column
    types: dict[str, str]  # field name -> SQL type
    foreign_keys: tuple[models.Field[Any, Any], ...]
    # field name -> the exact types of value written as they are (`_written_as_is`)
    as_is: dict[str, frozenset[type]]


@cache
def _table(model: type[models.Model], alias: str) -> _Table:
    connection = connections[alias]
    quote = connection.ops.quote_name
    fields = tuple(_columns(model))
    return _Table(
        name=quote(model._meta.db_table),
        key=quote(str(model._meta.pk.column)),
        fields=fields,
        columns={f.name: quote(str(f.column)) for f in fields},
        types={f.name: str(f.cast_db_type(connection)) for f in fields},
        foreign_keys=tuple(f for f in fields if f.is_relation),
        as_is={f.name: _written_as_is(f) for f in fields},
    )


# Django's field classes whose conversions for the database give a value of these exact types
# back as the same value on PostgreSQL (checked against their code; an int may come back in
# psycopg's Int4 or Int8, which only name its type for binding), and JSON carries it as it is.
_NONE: tuple[type, ...] = (type(None),)
_UNCHANGED: dict[type[models.Field[Any, Any]], tuple[type, ...]] = {
    models.CharField: (str, *_NONE),
    models.TextField: (str, *_NONE),
    models.IntegerField: (int, *_NONE),
    models.BigAutoField: (int, *_NONE),  # the keys foreign keys hold
    models.AutoField: (int, *_NONE),
    models.BooleanField: (bool, *_NONE),
    models.DateTimeField: _NONE,
    models.DateField: _NONE,
}
_CONVERSIONS = ("get_db_prep_save", "get_db_prep_value", "get_prep_value", "to_python")


def _written_as_is(field: models.Field[Any, Any]) -> frozenset[type]:
    """The types of value `get_db_prep_save` gives back as the same value for this field: most
    of a row goes into the JSON without Django's conversions, a third of the time it took to
    build the rows. A class that overrides a conversion (an app's own field, say) has none."""
    if type(field).get_db_prep_save is models.ForeignKey.get_db_prep_save:
        return _written_as_is(field.target_field)  # type: ignore[attr-defined]  # its target's value
    for base, types in _UNCHANGED.items():
        if isinstance(field, base) and all(
            getattr(type(field), name) is getattr(base, name) for name in _CONVERSIONS
        ):
            return frozenset(types)
    return frozenset()


class _NotJsonError(Exception):
    """A value JSON does not carry."""


def _json_value(value: Any) -> Any:
    """A value as `get_db_prep_save` gives it, in the JSON that PostgreSQL reads back as the
    column's type (a string in its input syntax where JSON has no such type)."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):  # JSON has no infinities nor NaN; PostgreSQL reads their names
        return value if math.isfinite(value) else str(value)
    if isinstance(value, datetime.datetime | datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, datetime.timedelta):
        return f"{value.days} days {value.seconds} seconds {value.microseconds} microseconds"
    if isinstance(value, decimal.Decimal | uuid.UUID):
        return str(value)
    if isinstance(value, Json | Jsonb):  # a JSONField's value, with the field's encoder
        return json.loads((value.dumps or json.dumps)(value.obj))
    if isinstance(value, list | tuple):  # an ArrayField's
        return [_json_value(item) for item in value]
    raise _NotJsonError(type(value).__name__)


@dataclass
class _Group:
    index: int
    rows: Sequence[models.Model]
    table: _Table
    # Foreign keys linked to an earlier group: field, and that group's index.
    links: list[tuple[models.Field[Any, Any], int]] = field(default_factory=list)
    # Fields whose value the INSERT computes and returns.
    returned: list[models.Field[Any, Any]] = field(default_factory=list)

    @property
    def keys(self) -> str:
        return f"k{self.index}"


class _Plan:
    """The statement writing a graph, built from the instances; `execute` sends it."""

    def __init__(self, alias: str, groups: Sequence[Sequence[models.Model]]) -> None:
        self.alias = alias
        self.connection = connections[alias]
        # Where each instance of the graph is: its group and position (from 1).
        self.position: dict[int, tuple[int, int]] = {}
        self.groups: list[_Group] = []
        for index, rows in enumerate(groups):
            group = _Group(index, rows, _table(type(rows[0]), alias))
            group.links = self._links(group)
            self.groups.append(group)
            self.position.update({id(row): (index, at) for at, row in enumerate(rows, 1)})
        self.params: list[Any] = []
        keys = [self._keys(group) for group in self.groups]
        inserts = [self._insert(group) for group in self.groups]
        self.sql = f"WITH {', '.join(keys + inserts)} " + " UNION ALL ".join(
            self._result(group) for group in self.groups
        )

    def _links(self, group: _Group) -> list[tuple[models.Field[Any, Any], int]]:
        first = group.rows[0]
        links = []
        for candidate in group.table.foreign_keys:
            if candidate.is_cached(first):  # type: ignore[attr-defined]
                parent = self.position.get(id(getattr(first, candidate.name)))
                if parent is not None:
                    links.append((candidate, parent[0]))
        return links

    def _keys(self, group: _Group) -> str:
        """The group's new keys, drawn from its table's sequence, numbered from 1 as its rows."""
        self.params += [type(group.rows[0])._meta.db_table, len(group.rows)]
        return (
            f"{group.keys} AS MATERIALIZED (SELECT position, "
            "nextval(pg_get_serial_sequence(%s, 'id')) AS id "
            "FROM generate_series(1, %s) AS position)"
        )

    def _insert(self, group: _Group) -> str:
        """The INSERT of the group's rows (one JSON array), with its keys and its parents'."""
        table = group.table
        linked = {link.name for link, _ in group.links}
        fields = [f for f in table.fields if f.name not in linked]
        # A set: Django tests each of the model's fields for membership.
        related = frozenset(f for f in table.foreign_keys if f.name not in linked)
        as_is = table.as_is
        # Per field, the rows whose value is an expression: position -> its SQL and parameters.
        computed: dict[str, dict[int, tuple[str, Sequence[Any]]]] = {}
        compiler = None
        rows: list[dict[str, Any]] = []
        for position, instance in enumerate(group.rows, 1):
            # As bulk_create does: a related object saved since it was set gives its key.
            if related:
                instance._prepare_related_fields_for_save("bulk_create", fields=related)  # type: ignore[attr-defined]
            row: dict[str, Any] = {"#": position}
            for n, (link, parent_group) in enumerate(group.links):
                parent = self.position.get(id(getattr(instance, link.name)))
                if parent is None or parent[0] != parent_group:
                    raise ValueError(f"{instance!r}: {link.name} is not linked into the graph.")
                row[f"#{n}"] = parent[1]
            for column in fields:
                value = column.pre_save(instance, add=True)
                if type(value) in as_is[column.name]:
                    row[column.name] = value
                elif hasattr(value, "resolve_expression"):
                    if compiler is None:
                        compiler = InsertQuery(type(instance)).get_compiler(using=self.alias)
                    resolved = value.resolve_expression(
                        compiler.query, allow_joins=False, for_save=True
                    )
                    computed.setdefault(column.name, {})[position] = compiler.compile(resolved)
                else:
                    prepared = column.get_db_prep_save(value, self.connection)
                    row[column.name] = _json_value(prepared)
            rows.append(row)
        group.returned = [f for f in fields if f.name in computed]
        definitions = ['"#" integer', *(f'"#{n}" integer' for n in range(len(group.links)))]
        definitions += [f'"{f.name}" {table.types[f.name]}' for f in fields]
        columns = [table.key, *(table.columns[f.name] for f in fields)]
        selected = [f"{group.keys}.id"]
        for column in fields:
            value = f'v."{column.name}"'
            if column.name in computed:
                cases = []
                for position, (sql, params) in computed[column.name].items():
                    cases.append(f"WHEN {position} THEN ({sql})::{table.types[column.name]}")
                    self.params += params  # in the statement's order, before the rows
                value = f'CASE v."#" {" ".join(cases)} ELSE {value} END'
            selected.append(value)
        self.params.append(json.dumps(rows))
        joins = f'JOIN {group.keys} ON {group.keys}.position = v."#"'
        for n, (link, parent_group) in enumerate(group.links):
            columns.append(table.columns[link.name])
            selected.append(f"l{n}.id")
            joins += f' JOIN k{parent_group} AS l{n} ON l{n}.position = v."#{n}"'
        returning = ", ".join([table.key, *(table.columns[f.name] for f in group.returned)])
        return (
            f"r{group.index} AS (INSERT INTO {table.name} ({', '.join(columns)}) "
            f"SELECT {', '.join(selected)} "
            f"FROM jsonb_to_recordset(%s::jsonb) AS v({', '.join(definitions)}) "
            f"{joins} RETURNING {returning})"
        )

    def _result(self, group: _Group) -> str:
        """Each row's group, position and key, and the values the INSERT computed (as text, which
        the fields' `to_python` reads)."""
        if not group.returned:
            return f"SELECT {group.index}, position, id, NULL::text[] FROM {group.keys}"
        values = ", ".join(
            f"r{group.index}.{group.table.columns[f.name]}::text" for f in group.returned
        )
        return (
            f"SELECT {group.index}, {group.keys}.position, {group.keys}.id, "
            f"ARRAY[{values}] FROM {group.keys} "
            f"JOIN r{group.index} ON r{group.index}.id = {group.keys}.id"
        )

    def execute(self) -> None:
        with self.connection.cursor() as cursor:
            # One text per shape of graph (its counts of rows are parameters): planned once.
            execute_prepared(cursor, self.sql, self.params)
            written = cursor.fetchall()
        for index, position, key, returned in written:
            group = self.groups[index]
            instance = group.rows[position - 1]
            instance.pk = key
            instance._state.adding, instance._state.db = False, self.alias
            for column, value in zip(group.returned, returned or (), strict=True):
                setattr(instance, column.attname, column.to_python(value))
        for group in self.groups:
            for instance in group.rows:
                for link, _ in group.links:  # the parent's key into the foreign key
                    setattr(instance, link.name, getattr(instance, link.name))
