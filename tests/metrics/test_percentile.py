"""The percentile SQLite computes (a registered Python aggregate) is PostgreSQL's percentile_cont:
the same linear interpolation between the two nearest ranks, NULLs ignored, NULL for nothing.

Each case is run through both databases and checked against the figure worked out by hand."""

import sqlite3

import pytest
from django.db import DEFAULT_DB_ALIAS, connection
from django.db.models import FloatField, Q
from django.db.utils import ConnectionHandler

from itsm.metrics.aggregates import (
    SQLITE_PERCENTILE,
    Median,
    Percentile,
    register_sqlite_functions,
)
from itsm.metrics.models import RollupState
from itsm.tenancy import rls
from tests.factories import TenantFactory

pytestmark = pytest.mark.django_db

# (values, fraction, expected), the expected value by hand: rank = fraction × (n - 1) over the
# sorted non-null values, then low + (high - low) × (rank - floor(rank)).
CASES = [
    ([7.0], 0.5, 7.0),  # one value: itself, whatever the fraction
    ([7.0], 0.9, 7.0),
    ([4.0, 1.0, 3.0, 2.0], 0.5, 2.5),  # even count: rank 1.5 → 2 + 0.5 × (3 - 2)
    ([4.0, 1.0, 3.0, 2.0], 0.9, 3.7),  # rank 2.7 → 3 + 0.7 × (4 - 3)
    ([4.0, 1.0, 3.0, 2.0], 0.0, 1.0),  # the smallest
    ([4.0, 1.0, 3.0, 2.0], 1.0, 4.0),  # the largest
    ([10.0, 20.0, 30.0, 40.0, 50.0], 0.5, 30.0),  # odd count: the middle one
    ([10.0, 20.0, 30.0, 40.0, 50.0], 0.25, 20.0),  # rank 1 exactly
    ([10.0, 20.0, 30.0, 40.0, 50.0], 0.9, 46.0),  # rank 3.6 → 40 + 0.6 × 10
    ([3.0, None, 1.0, None, 10.0, 4.0], 0.5, 3.5),  # NULLs ignored: 1 3 4 10, rank 1.5
    ([3.0, None, 1.0, None, 10.0, 4.0], 0.9, 8.2),  # rank 2.7 → 4 + 0.7 × 6
    ([5.0, 5.0, 5.0], 0.9, 5.0),  # ties
    ([-2.5, 0.0, 2.5], 0.75, 1.25),  # rank 1.5 → 0 + 0.5 × 2.5
    ([None, None], 0.5, None),  # nothing to measure
]


def sqlite_percentile(values: list[float | None], fraction: float) -> float | None:
    with sqlite3.connect(":memory:") as db:
        register_sqlite_functions(db)
        db.execute("CREATE TABLE measured (value REAL)")
        db.executemany("INSERT INTO measured VALUES (?)", [(value,) for value in values])
        [(found,)] = db.execute(
            f"SELECT {SQLITE_PERCENTILE}(value, ?) FROM measured",  # noqa: S608 - a constant
            (fraction,),
        ).fetchall()
    db.close()
    return None if found is None else float(found)


def postgres_percentile(values: list[float | None], fraction: float) -> float | None:
    select = "SELECT percentile_cont(%s) WITHIN GROUP (ORDER BY value) FROM (VALUES "
    rows = ", ".join(["(%s::double precision)"] * len(values))  # placeholders only
    sql = f"{select}{rows}) AS measured (value)"
    with connection.cursor() as cursor:
        cursor.execute(sql, [fraction, *values])
        [(found,)] = cursor.fetchall()
    return None if found is None else float(found)


@pytest.mark.parametrize(("values", "fraction", "expected"), CASES)
def test_sqlite_and_postgresql_give_the_same_percentile(values, fraction, expected):
    assert connection.vendor == "postgresql"

    on_postgres = postgres_percentile(values, fraction)
    on_sqlite = sqlite_percentile(values, fraction)

    if expected is None:
        assert on_postgres is None
        assert on_sqlite is None
    else:
        assert on_postgres == pytest.approx(expected, abs=1e-12)
        assert on_sqlite == pytest.approx(on_postgres, abs=1e-12)


def test_sqlite_computes_each_group_with_its_own_values():
    with sqlite3.connect(":memory:") as db:
        register_sqlite_functions(db)
        db.execute("CREATE TABLE measured (grp TEXT, value REAL)")
        db.executemany(
            "INSERT INTO measured VALUES (?, ?)",
            [("a", 1.0), ("a", 3.0), ("b", 10.0), ("b", None), ("c", None)],
        )
        found = db.execute(
            f"SELECT grp, {SQLITE_PERCENTILE}(value, 0.5) "  # noqa: S608 - a constant
            "FROM measured GROUP BY grp ORDER BY grp"
        ).fetchall()
    db.close()
    # a: (1 + 3) / 2; b: its one value; c: only NULL.
    assert found == [("a", 2.0), ("b", 10.0), ("c", None)]


@pytest.mark.parametrize("fraction", [-0.1, 1.5])
def test_a_fraction_outside_zero_to_one_is_refused(fraction):
    with pytest.raises(ValueError, match="between 0 and 1"):
        Percentile("value", fraction)


# Rows of a real table, some of which a FILTER leaves out: kept 1, 3, 4, 10 → median: rank 1.5 →
# 3 + 0.5 × 1 = 3.5; p90: rank 2.7 → 4 + 0.7 × 6 = 8.2. Without the filter (1, 3, 4, 10, 100,
# 200) the median would be 7.
KEPT_AND_DROPPED = [
    ("kept-1", 1),
    ("kept-2", 3),
    ("kept-3", 4),
    ("kept-4", 10),
    ("dropped-1", 100),
    ("dropped-2", 200),
]


def percentiles_kept():  # the query both databases run
    kept = Q(name__startswith="kept")
    return (
        RollupState.objects.values("tenant_id")
        .annotate(
            median=Median("rows", filter=kept, output_field=FloatField()),
            p90=Percentile("rows", 0.9, filter=kept, output_field=FloatField()),
        )
        .order_by()
    )


def test_the_aggregate_honours_its_filter_on_postgresql_and_sqlite():
    tenant = TenantFactory()
    with rls.tenant_scope(tenant.pk):
        RollupState.objects.bulk_create(
            RollupState(tenant=tenant, name=name, rows=rows) for name, rows in KEPT_AND_DROPPED
        )
        [on_postgres] = percentiles_kept()

    # The same query compiled for SQLite, on a table with the columns it reads.
    sqlite = ConnectionHandler(
        {DEFAULT_DB_ALIAS: {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
    )[DEFAULT_DB_ALIAS]
    try:
        sql, params = percentiles_kept().query.get_compiler(connection=sqlite).as_sql()
        with sqlite.cursor() as cursor:
            cursor.execute(
                f"CREATE TABLE {RollupState._meta.db_table} "
                "(id integer PRIMARY KEY, tenant_id integer, name text, rows integer)"
            )
            for name, rows in KEPT_AND_DROPPED:
                cursor.execute(
                    f"INSERT INTO {RollupState._meta.db_table} (tenant_id, name, rows) "  # noqa: S608
                    "VALUES (%s, %s, %s)",
                    [tenant.pk, name, rows],
                )
            cursor.execute(sql, params)
            [(tenant_id, median, p90)] = cursor.fetchall()
    finally:
        sqlite.close()

    assert on_postgres["median"] == 3.5
    assert on_postgres["p90"] == pytest.approx(8.2)
    assert (tenant_id, median) == (tenant.pk, 3.5)
    assert p90 == pytest.approx(8.2)
