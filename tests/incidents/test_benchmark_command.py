"""The benchmark command keeps working (its figures are reported in docs, never asserted)."""

from io import StringIO

import pytest
from django.core.management import call_command


@pytest.mark.django_db
def test_benchmark_command_runs_on_a_small_tenant():
    out = StringIO()
    call_command("benchmark_incident_list", incidents=60, requests=2, no_analyze=True, stdout=out)
    lines = out.getvalue().splitlines()
    assert lines[0] == "Seeding 60 incidents ..."
    rows = {line[:24].strip(): line[24:].split() for line in lines[3:]}
    assert set(rows) == {
        "first page (50)",
        "filtered: open SEV1-2",
        "search 'printer'",
        "page 20 by cursor",
        "page of 200",
        "detail",
    }
    # The same small, constant number of queries whatever the page size.
    assert int(rows["first page (50)"][0]) > 0
    assert rows["first page (50)"][0] == rows["page of 200"][0]


@pytest.mark.django_db
def test_workspace_pages_benchmark_runs_on_a_small_tenant():
    out = StringIO()
    call_command("benchmark_workspace_pages", incidents=60, requests=2, no_analyze=True, stdout=out)
    rows = [line for line in out.getvalue().splitlines() if line.startswith(("queue", "record"))]
    assert len(rows) == 8
    # Every page answered (the command asserts 200) with a small number of queries.
    assert all(0 < int(line[26:34]) < 30 for line in rows)


@pytest.mark.django_db
def test_search_benchmark_runs_on_a_small_tenant():
    out = StringIO()
    call_command("benchmark_search", incidents=60, requests=1, no_analyze=True, stdout=out)
    rows = [line.split() for line in out.getvalue().splitlines()[3:]]
    assert [row[0] for row in rows] == ["printer", "vpn", "mail", "issue"]
    # Both ways find the same incidents: the count printed is the structure's.
    assert all(int(row[-5]) >= 0 for row in rows)
