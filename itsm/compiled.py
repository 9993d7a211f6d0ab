"""Reads compiled to SQL once per process.

Django compiles a queryset to SQL each time it runs. For a keyed read of one row with its
relations read inline (itsm/inline.py), that compilation costs more CPU than PostgreSQL spends
answering: 1.8 ms of a 6-8 ms incident detail, measured. A `CompiledRead` compiles its queryset
once, with stand-in values where the read varies (a tenant, a number), and each call sends the
same SQL with its own values through `Manager.raw()`, which builds the instances as a queryset
would (a column that is no field, such as an inline relation, becomes an attribute).

    DETAIL = CompiledRead(lambda tenant_id, number: Incident.objects.filter(...), "tenant_id",
                          "number")
    incident = DETAIL.first(tenant_id=tenant.pk, number=42)

What it compiles: a queryset of one model without `select_related` (a raw row holds one model:
read relations inline instead), whose varying values are integers compared by lookups (they are
found by value among the compiled parameters: `compile` checks that each stand-in appears). A
caller keeps the values within their columns' range: a queryset's lookup turns an out-of-range
value into no match, raw SQL hands it to the database (the API's references are bounded by
`MAX_NUMBER` before they get here).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import models, router

# Stand-ins for the varying values, within PostgreSQL's integer range (Django turns a lookup of a
# value out of a field's range into an empty result, which would compile to no parameter).
_FIRST_STAND_IN = 2_147_480_011


@dataclass(frozen=True)
class _Compiled:
    model: type[models.Model]
    sql: str
    params: tuple[Any, ...]
    slots: dict[str, tuple[int, ...]]  # each varying value's positions among the parameters
    locks: bool  # SELECT … FOR UPDATE: runs where writes go


class CompiledRead[M: models.Model]:
    """A read whose SQL is compiled once: `build` takes the varying values by name (`slots`)
    and returns the queryset; calls give the values."""

    def __init__(self, build: Callable[..., models.QuerySet[M]], *slots: str) -> None:
        self._build, self._slots = build, slots
        self._compiled: _Compiled | None = None

    def compile(self) -> _Compiled:
        """The SQL and parameters, compiled on first use (a race compiles twice, harmlessly)."""
        if self._compiled is None:
            stand_ins = {name: _FIRST_STAND_IN + index for index, name in enumerate(self._slots)}
            queryset = self._build(**stand_ins)
            if queryset.query.select_related:
                raise ValueError("A compiled read cannot join relations: read them inline.")
            sql, params = queryset.query.sql_with_params()
            slots = {
                name: tuple(
                    position
                    for position, param in enumerate(params)
                    if isinstance(param, int) and param == stand_in
                )
                for name, stand_in in stand_ins.items()
            }
            if not all(slots.values()):
                missing = sorted(name for name, positions in slots.items() if not positions)
                raise ValueError(f"The compiled read does not use {missing}.")
            locks = bool(queryset.query.select_for_update)
            self._compiled = _Compiled(queryset.model, sql, tuple(params), slots, locks)
        return self._compiled

    def rows(self, **values: int) -> list[M]:
        """The rows the read finds with these values."""
        compiled = self.compile()
        params = list(compiled.params)
        for name, positions in compiled.slots.items():
            for position in positions:
                # As the backend adapted the stand-in (psycopg's Int8 for a bigint, say).
                params[position] = type(params[position])(values[name])
        # Routed on each call, as a queryset is (a report's reads go to the replica, which runs
        # the same SQL: it is a copy of the default database).
        route = router.db_for_write if compiled.locks else router.db_for_read
        manager: Any = compiled.model._default_manager
        return list(manager.raw(compiled.sql, params, using=route(compiled.model)))

    def first(self, **values: int) -> M | None:
        """The row found with these values, or None (compile the read with a limit of one)."""
        found = self.rows(**values)
        return found[0] if found else None
