"""Percentiles computed by the database.

PostgreSQL has the ordered-set aggregate `percentile_cont` (linear interpolation between the two
nearest ranks, the definition most tools use), which takes numbers and intervals and works with
FILTER. SQLite, the embedded default for trying the product, has none: each of its connections
gets a user-defined aggregate of the same definition (registered by this app's config, as Django
registers its own SQLite functions), so a report means the same on both.
"""

from __future__ import annotations

import math
import sqlite3
from typing import Any

from django.db.models import Aggregate
from django.db.models.expressions import Combinable

SQLITE_PERCENTILE = "ITSM_PERCENTILE_CONT"


class Percentile(Aggregate):
    """`Percentile(F(...), 0.9)`: the 90th percentile of the expression, interpolated."""

    function = "PERCENTILE_CONT"
    name = "Percentile"
    # `%(filter)s` carries the FILTER (WHERE ...) clause: a template without it would drop a
    # `filter=` silently and count the rows the figure leaves out.
    template = "%(function)s(%(fraction)s) WITHIN GROUP (ORDER BY %(expressions)s)%(filter)s"
    arity = 1

    def __init__(self, expression: Combinable | str, fraction: float, **extra: Any) -> None:
        if not 0 <= fraction <= 1:
            raise ValueError("A percentile's fraction lies between 0 and 1.")
        # A float literal in the SQL, never user input: formatted from a checked float.
        super().__init__(expression, fraction=repr(float(fraction)), **extra)

    def as_sqlite(self, compiler: Any, connection: Any, **extra_context: Any) -> Any:
        return self.as_sql(
            compiler,
            connection,
            function=SQLITE_PERCENTILE,
            template="%(function)s(%(expressions)s, %(fraction)s)%(filter)s",
            **extra_context,
        )


class Median(Percentile):
    name = "Median"

    def __init__(self, expression: Combinable | str, **extra: Any) -> None:
        super().__init__(expression, 0.5, **extra)


class _SqlitePercentile:
    """percentile_cont for SQLite: collects the non-null values, interpolates at the end."""

    def __init__(self) -> None:
        self.values: list[float] = []
        self.fraction = 0.5

    def step(self, value: float | None, fraction: float) -> None:
        if value is not None:
            self.values.append(value)
            self.fraction = fraction

    def finalize(self) -> float | None:
        if not self.values:
            return None
        self.values.sort()
        rank = self.fraction * (len(self.values) - 1)
        low, high = math.floor(rank), math.ceil(rank)
        share = rank - low
        return self.values[low] + (self.values[high] - self.values[low]) * share


def register_sqlite_functions(connection: sqlite3.Connection) -> None:
    connection.create_aggregate(SQLITE_PERCENTILE, 2, _SqlitePercentile)  # type: ignore[arg-type]
