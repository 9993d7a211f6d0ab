"""The benchmark suite keeps working at a tiny size: it prints the table with the floors and
every figure as a ratio to them, and writes the Markdown report where it is told (its figures
are reported in docs, never asserted)."""

from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command

from benchmarks.report import HEADER, cells, floors
from benchmarks.suite import Case, Kind, Measurement
from tests.markers import platform_db, platform_db_committed

CASES = ["list: first page", "detail", "create", "acknowledge"]


def _rows(output: str) -> dict[str, list[str]]:
    """The table's rows by case name (the name is the text before the size column)."""
    rows = {}
    for line in output.splitlines():
        name, values = line[:36].strip(), line[36:].split()
        if values and values[0] == "50":
            rows[name] = values
    return rows


@platform_db
def test_the_suite_prints_ratios_to_the_floor_and_writes_the_report(tmp_path: Path) -> None:
    out, docs = StringIO(), tmp_path / "benchmarks.md"
    call_command(
        "benchmark",
        sizes="50",
        requests=2,
        http=False,
        only="list,detail,create,acknowledge",
        no_analyze=True,
        write_docs=str(docs),
        stdout=out,
    )
    rows = _rows(out.getvalue())
    assert list(rows) == ["floor: list (bare DRF)", "floor: detail (bare DRF)", *CASES]
    # queries, median, p95, [CPU ms for writes,] × floor: the floors are 1.0 of themselves.
    assert rows["floor: list (bare DRF)"][-1] == "1.0"
    assert rows["floor: detail (bare DRF)"][-1] == "1.0"
    for name in CASES:
        queries, ratio = int(rows[name][1]), float(rows[name][-1])
        assert queries > 0, (name, rows[name])
        assert ratio > 0, (name, rows[name])
    assert len(rows["create"]) == len(rows["detail"]) + 1  # the CPU column of a write
    assert "creates per second at 50: in process: " in out.getvalue()
    report = docs.read_text(encoding="utf-8")
    assert HEADER in report
    assert "- PostgreSQL: " in report
    assert "- commit: " in report
    assert "## 50 incidents per tenant" in report
    assert "| acknowledge | 50 |" in report


@pytest.mark.slow
@platform_db_committed
def test_over_http_the_suite_adds_gunicorns_figures(tmp_path: Path) -> None:
    """gunicorn (gunicorn.conf.py, 2 workers) serves the committed test database."""
    out = StringIO()
    call_command(
        "benchmark",
        sizes="50",
        requests=2,
        only="detail,create",
        no_analyze=True,
        stdout=out,
    )
    rows = _rows(out.getvalue())
    assert list(rows) == ["floor: list (bare DRF)", "floor: detail (bare DRF)", "detail", "create"]
    # … × floor, HTTP ms, HTTP × floor.
    assert all(float(values[-1]) > 0 and float(values[-2]) > 0 for values in rows.values())
    assert "HTTP, 4 clients: " in out.getvalue()


def test_in_process_a_request_is_set_against_the_floor_requests_interleaved_with_its_own() -> None:
    def case(kind: Kind, name: str) -> Case:
        return Case("key", name, kind, "detail", prepare=lambda n: [None] * n)

    floor = Measurement(case("floor", "floor: detail"), 50, 4, [2.0, 2.0, 2.0], [1.0])
    # The floor's own block ran on a fast moment; the case's runs and their floor on a slow one.
    detail = Measurement(
        case("read", "detail"), 50, 5, [9.0, 9.0, 9.0], [1.0], paired_floor=[6.0, 6.0, 6.0]
    )
    job = Measurement(case("job", "sweep"), 50, 4, [9.0], [1.0])

    ratios = {row.case.name: cells(row, floors([floor, detail, job]))[6] for row in (detail, job)}

    assert ratios == {"detail": "1.5", "sweep": "4.5"}
