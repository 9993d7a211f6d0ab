"""The hot statements, parsed and planned once per database connection, then run by name.

Django binds parameters on the client, so PostgreSQL parses and plans every statement anew. It
has to: the audit context (pghistory) rides in front of each statement as a second statement,
which the protocol's own prepared statements refuse. For the few statements that every request
of a kind sends (the API token's read, the tenant's entry, a new incident's rows), planning
alone took a quarter to a third of their time in the database.

`execute_prepared` names such a statement after its text. The first time on a connection it
sends `PREPARE name AS …; EXECUTE name(…)`, after that `EXECUTE name(…)` alone; PostgreSQL
plans it with the values for five runs, then keeps a generic plan when that costs no more.
Row-level security is no obstacle: its settings are read when the plan runs, not when it is
made.

A prepared statement lives as long as its server connection, whatever becomes of the
transaction that prepared it, so each connection's names are kept with it. A pooler that hands
one client's transactions to different server connections (PgBouncer in transaction mode)
would lose them: DATABASE_PREPARED_STATEMENTS=false sends the statements as they are.
"""

from __future__ import annotations

import hashlib
import itertools
import re
import weakref
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.db.backends.utils import CursorWrapper

# A connection prepares at most this many statements; any further one is sent as it is.
MAX_PER_CONNECTION = 64

# Per server connection (its psycopg connection), each name it knows: True when the statement
# is prepared there, False when a failed first run left that unknown (it is then sent as is).
_NAMES: weakref.WeakKeyDictionary[Any, dict[str, bool]] = weakref.WeakKeyDictionary()

# A parameter, or an escaped percent sign (which stays escaped: the EXECUTE has parameters).
_PLACEHOLDER = re.compile(r"%[s%]")


def execute_prepared(cursor: CursorWrapper, sql: str, params: Sequence[Any]) -> None:
    """Run `sql`, a statement with `%s` placeholders and at least one parameter, prepared on
    the cursor's connection; its rows are then the cursor's to fetch."""
    if not params or not settings.DATABASE_PREPARED_STATEMENTS:
        cursor.execute(sql, params)
        return
    names = _NAMES.setdefault(cursor.cursor.connection, {})
    name, body = _prepared_form(sql)
    arguments = f"({', '.join(['%s'] * len(params))})"
    known = names.get(name)
    if known:
        cursor.execute(f"EXECUTE {name}{arguments}", params)
        return
    if known is False or len(names) >= MAX_PER_CONNECTION:
        cursor.execute(sql, params)
        return
    try:
        cursor.execute(f"PREPARE {name} AS {body}; EXECUTE {name}{arguments}", params)
    except Exception:
        # Whether the PREPARE or the EXECUTE failed is unknown: preparing again could fail.
        names[name] = False
        raise
    names[name] = True
    while cursor.nextset():  # to the EXECUTE's rows
        pass


@lru_cache(maxsize=256)
def _prepared_form(sql: str) -> tuple[str, str]:
    """The statement's name, from its text, and its text with numbered parameters ($1, …)."""
    numbers = itertools.count(1)
    body = _PLACEHOLDER.sub(
        lambda match: f"${next(numbers)}" if match.group() == "%s" else "%%", sql
    )
    return f"itsm_{hashlib.blake2b(sql.encode(), digest_size=8).hexdigest()}", body
