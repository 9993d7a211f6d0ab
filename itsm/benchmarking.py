"""What the page benchmarks share (manage.py benchmark_workspace_pages, benchmark_change_pages):
a bare view behind the product's middleware as the floor, and requests timed through the whole
Django stack in process, with each page's queries counted once. Figures are reported, never
asserted: this machine's speed swings, so each time is also given as a ratio to the floor
measured in the same run.

And what the bulk seeds share (benchmark_metrics, benchmarks.seeding): ids drawn ahead from a
table's sequence, rows streamed with COPY through a temporary table so that row-level security
still checks each one, and VACUUM ANALYZE after the load. Engine level: tables by name, no
domain model imported."""

from __future__ import annotations

import statistics
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from django.core.management.base import OutputWrapper
from django.core.signals import request_started
from django.db import connection, reset_queries
from django.http import HttpRequest, HttpResponse
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import include, path

from itsm.tenancy import rls

FLOOR = "floor: bare view"
FLOOR_URL = "/__floor__/"


def _floor(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok")


# The product's URLs plus the floor: the same middleware stack in front of every case.
urlpatterns = [path("__floor__/", _floor), path("", include("itsm.urls"))]


def report_pages(
    cases: Mapping[str, tuple[Any, str]],
    *,
    requests: int,
    out: OutputWrapper,
    headers: Mapping[str, Mapping[str, str]] | None = None,
    name_width: int = 30,
) -> None:
    """Request each case (name -> (test client, URL)) `requests` times after one counted
    request, and write a line per case: queries, median and p95 milliseconds, × the floor (the
    first case, which should be the floor's)."""
    headers = headers or {}
    width = name_width
    out.write(f"{'page':<{width}}{'queries':>8}{'median ms':>11}{'p95 ms':>9}{'× floor':>9}")
    request_started.disconnect(reset_queries)  # keep the log to count queries
    floor = 0.0
    with override_settings(ROOT_URLCONF=__name__):
        for name, (client, url) in cases.items():
            extra = headers.get(name, {})
            reset_queries()
            with CaptureQueriesContext(connection) as queries:
                response = client.get(url, headers=extra)
            assert response.status_code == 200, (name, response.status_code)
            query_count = len(queries)  # now: the log is reset below
            timings = []
            for _ in range(requests):
                started = time.perf_counter()
                client.get(url, headers=extra)
                timings.append((time.perf_counter() - started) * 1000)
                reset_queries()
            timings.sort()
            median = statistics.median(timings)
            floor = floor or median
            p95 = timings[max(0, int(len(timings) * 0.95) - 1)]
            out.write(
                f"{name:<{width}}{query_count:>8}{median:>11.2f}{p95:>9.2f}{median / floor:>9.1f}"
            )


# --- bulk seeding -------------------------------------------------------------------------------


def allocate_ids(cursor: Any, table: str, count: int) -> list[int]:
    """`count` ids from the table's identity sequence, so that rows can name each other before
    they are written."""
    cursor.execute(
        "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
        [table, count],
    )
    return [pk for (pk,) in cursor.fetchall()]


def copy_rows(
    cursor: Any, table: str, columns: Sequence[str], rows: Iterable[Mapping[str, Any]]
) -> None:
    """Stream the rows into a temporary copy of the table, then move them in one INSERT: the
    table's policies refuse COPY itself, and the INSERT lets them (and the link triggers) check
    every row. Columns left out take their database default (the id: the sequence)."""
    names = ", ".join(columns)
    cursor.execute(
        f"CREATE TEMP TABLE bench_rows AS SELECT {names} FROM {table} WITH NO DATA"  # noqa: S608
    )
    with cursor.copy(f"COPY bench_rows ({names}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row([row[name] for name in columns])
    cursor.execute(f"INSERT INTO {table} ({names}) SELECT {names} FROM bench_rows")  # noqa: S608
    cursor.execute("DROP TABLE bench_rows")


def vacuum_analyze(tables: Iterable[str], out: OutputWrapper) -> None:
    """Statistics and the visibility map, as autovacuum would leave them after a bulk load
    (without the map no index-only scan skips the heap). Only the tables' owner may; outside
    any transaction."""
    started = time.perf_counter()
    with rls.owner_connection(), connection.cursor() as cursor:
        for table in tables:
            cursor.execute(f"VACUUM (ANALYZE) {table}")
    out.write(f"VACUUM ANALYZE: {time.perf_counter() - started:.1f} s")
