"""itsm/prepared.py: a hot statement is prepared once per connection and run by name after;
a failed first run, a full connection or the setting turned off send it as it is."""

import uuid

import pytest
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connection, connections, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.test.utils import CaptureQueriesContext

from itsm import prepared
from itsm.prepared import execute_prepared

pytestmark = pytest.mark.django_db


def _unique(sql: str) -> str:
    """The statement, new to every connection (a test's connection outlives it, and so do the
    statements prepared on it, whatever the test's transaction did)."""
    return f"{sql} /* {uuid.uuid4().hex} */"


@pytest.fixture
def statement() -> str:
    """A percent sign of the text itself, and parameters whose types PostgreSQL infers."""
    return _unique("SELECT %s::int + 1, %s || '%%', length(%s)")


def _run(
    statement: str, db: BaseDatabaseWrapper, *params: object
) -> tuple[list[tuple[object, ...]], str]:
    """The rows, and the SQL that was sent (its last statement)."""
    with CaptureQueriesContext(db) as sent, db.cursor() as cursor:
        execute_prepared(cursor, statement, params)
        rows = cursor.fetchall()
    return rows, sent.captured_queries[-1]["sql"]


def test_the_first_run_prepares_the_statement_and_later_ones_execute_it_by_name(
    statement: str,
) -> None:
    first, first_sql = _run(statement, connection, 1, "a", "abc")
    second, second_sql = _run(statement, connection, 41, "b", "abcdef")

    assert first == [(2, "a%", 3)]
    assert second == [(42, "b%", 6)]
    assert "PREPARE itsm_" in first_sql
    assert "EXECUTE itsm_" in second_sql
    assert "PREPARE" not in second_sql


def test_each_connection_prepares_its_own(statement: str) -> None:
    _run(statement, connection, 1, "a", "a")

    other = connections.create_connection(DEFAULT_DB_ALIAS)
    try:
        rows, sql = _run(statement, other, 2, "b", "bb")
    finally:
        other.close()

    assert rows == [(3, "b%", 2)]
    assert "PREPARE itsm_" in sql


def test_after_a_failed_first_run_the_connection_sends_the_statement_as_it_is() -> None:
    failing = _unique("SELECT 1 / %s")
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        execute_prepared(cursor, failing, [0])

    with CaptureQueriesContext(connection) as sent, connection.cursor() as cursor:
        execute_prepared(cursor, failing, [1])
        assert cursor.fetchall() == [(1,)]
    assert "PREPARE" not in sent.captured_queries[-1]["sql"]
    assert "EXECUTE" not in sent.captured_queries[-1]["sql"]


def test_a_connection_prepares_only_so_many(
    statement: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(prepared, "MAX_PER_CONNECTION", 0)

    rows, sql = _run(statement, connection, 1, "a", "a")

    assert rows == [(2, "a%", 1)]
    assert "PREPARE" not in sql


def test_turned_off_the_statement_is_sent_as_it_is(statement: str, settings) -> None:
    settings.DATABASE_PREPARED_STATEMENTS = False

    rows, sql = _run(statement, connection, 1, "a", "a")
    rows_again, sql_again = _run(statement, connection, 2, "b", "b")

    assert (rows, rows_again) == ([(2, "a%", 1)], [(3, "b%", 1)])
    assert "PREPARE" not in sql + sql_again
    assert "EXECUTE" not in sql + sql_again
