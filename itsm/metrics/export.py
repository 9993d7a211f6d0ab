"""CSV export of the records behind a figure, streamed: rows are read from the database a
chunk at a time and written out as they come, so a large export never sits in memory.

The response is consumed after the view has returned, outside the request's transaction, so
the rows are read inside a tenant scope of their own (the second wall holds while streaming).
"""

from __future__ import annotations

import csv
from collections.abc import Iterator

from django.http import StreamingHttpResponse

from itsm.metrics.registry import Export
from itsm.tenancy import rls


class _Line:
    """A file-like object whose write() returns what was written: csv.writer then hands back
    each line for the response to send."""

    def write(self, value: str) -> str:
        return value


def _lines(tenant_id: int, export: Export) -> Iterator[str]:
    writer = csv.writer(_Line())
    yield writer.writerow(export.header)
    with rls.tenant_scope(tenant_id):
        for row in export.rows:
            yield writer.writerow(row)


def csv_response(tenant_id: int, export: Export) -> StreamingHttpResponse:
    response = StreamingHttpResponse(_lines(tenant_id, export), content_type="text/csv")
    response["Content-Disposition"] = f'attachment; filename="{export.filename}"'
    response["Cache-Control"] = "private, no-store"
    return response
