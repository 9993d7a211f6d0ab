"""CSV export of the records behind a figure, streamed: rows are read from the database a
chunk at a time and written out as they come, so a large export never sits in memory.

The response is consumed after the view has returned, outside the request's transaction, so
the rows are read inside a tenant scope of their own (the second wall holds while streaming), on
the read replica when there is one (`routing.reports_database`).
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db.models import QuerySet
from django.http import StreamingHttpResponse

from itsm.metrics.query import Period
from itsm.metrics.registry import Export
from itsm.metrics.routing import reports_database
from itsm.tenancy.models import Tenant, format_reference

CHUNK = 2000  # rows read from the database at a time


def export_filename(tenant: Tenant, key: str, period: Period) -> str:
    return f"{tenant.slug}-{key}-{period.stamp}.csv"


def cell(value: Any) -> Any:
    """A value as a CSV cell: times in UTC ISO 8601, durations in seconds, nothing empty."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, timedelta):
        return round(value.total_seconds(), 3)
    return "" if value is None else value


def numbered_rows(rows: QuerySet[Any], prefix: str, columns: Sequence[str]) -> Iterator[list[Any]]:
    """Numbered records a chunk at a time: `columns` starts with the number, which is written
    as users read it (`INC-000042`), the rest as cells."""
    values: Iterable[Sequence[Any]] = rows.values_list(*columns).iterator(CHUNK)
    for number, *rest in values:
        yield [format_reference(prefix, number), *map(cell, rest)]


class _Line:
    """A file-like object whose write() returns what was written: csv.writer then hands back
    each line for the response to send."""

    def write(self, value: str) -> str:
        return value


def _lines(tenant_id: int, export: Export) -> Iterator[str]:
    writer = csv.writer(_Line())
    yield writer.writerow(export.header)
    with reports_database(tenant_id):
        for row in export.rows:
            yield writer.writerow(row)


def csv_response(tenant_id: int, export: Export) -> StreamingHttpResponse:
    response = StreamingHttpResponse(_lines(tenant_id, export), content_type="text/csv")
    response["Content-Disposition"] = f'attachment; filename="{export.filename}"'
    response["Cache-Control"] = "private, no-store"
    return response
