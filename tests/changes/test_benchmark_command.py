"""The change pages' benchmark keeps working (its figures are reported, never asserted)."""

from io import StringIO

import pytest
from django.core.management import call_command

CASES = {
    "floor: bare view",
    "list: open",
    "list: upcoming",
    "list: all",
    "list: normal 'patch'",
    "list: rows refresh",
    "approver's queue",
    "record: ~30 events",
    "calendar: month",
    "calendar: week",
    "API list (50)",
    "API detail",
    "API calendar: month",
    "API problem's changes",
}


def run(changes: int) -> dict[str, int]:
    out = StringIO()
    call_command("benchmark_change_pages", changes=changes, requests=2, no_analyze=True, stdout=out)
    lines = out.getvalue().splitlines()
    header = lines.index(next(line for line in lines if line.startswith("page")))
    return {line[:30].strip(): int(line[30:38]) for line in lines[header + 1 :]}


@pytest.mark.django_db
def test_change_pages_benchmark_runs_on_a_small_tenant():
    small = run(60)
    # Every case answered 200 (the command asserts it) with a small number of queries.
    assert set(small) == CASES
    assert all(0 < queries < 40 for name, queries in small.items() if name != "floor: bare view")
    # Lists ask as many queries of 60 changes as of 120: no query per row.
    large = run(120)
    lists = [name for name in CASES if name.startswith(("list", "API list", "approver"))]
    assert {name: small[name] for name in lists} == {name: large[name] for name in lists}
