"""Where reports read: the read replica when there is one.

Reports only read, and their reads are the heaviest the product makes (aggregates over a
tenant's history), so with DATABASE_REPLICA_URL set, settings add the database alias "replica"
(a hot standby, logged in as the application's role) and the reads made inside
`reports_database()` go there: the metrics API, the dashboard and the CSV export run their
providers' reports inside it. Everything else reads the default database, and every write goes
to the default database, inside or outside (a standby refuses writes anyway; the rollups are
written by the workers, on the primary). Without the alias, reports read the default database
as they always have.

Row-level security holds on the replica as on the primary: a standby replays the primary's
policies, and a report's reads run in a transaction of their own on the replica that sees one
tenant (`rls.tenant_scope(..., using="replica")`; `set_config` is allowed on a hot standby). The
replica lags the primary by a little (streaming replication: usually well under a second); the
figures are over days, and their rollups are minutes old by design.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import Model

from itsm.tenancy import rls

REPLICA_DB_ALIAS = "replica"

# The alias this thread's reads go to while a report runs; None: the router has no opinion.
_reads: ContextVar[str | None] = ContextVar("reports_reads", default=None)


def replica_alias() -> str | None:
    """The read replica's alias, or None when the deployment has none."""
    return REPLICA_DB_ALIAS if REPLICA_DB_ALIAS in connections.settings else None


@contextmanager
def reports_database(tenant_id: int) -> Iterator[str]:
    """Run a report's reads for one tenant; yields the alias they go to.

    With a replica, reads inside go to it, in a transaction there that sees the tenant. Without
    one they stay on the default database, in the caller's transaction when that already sees
    the tenant (a request's), else in a tenant scope of their own (a streamed export, which is
    read after the request's transaction has ended).
    """
    alias = replica_alias()
    if alias is None:
        if rls.current().tenant_id == tenant_id and connections[DEFAULT_DB_ALIAS].in_atomic_block:
            yield DEFAULT_DB_ALIAS
            return
        with rls.tenant_scope(tenant_id):
            yield DEFAULT_DB_ALIAS
        return
    with rls.tenant_scope(tenant_id, using=alias):
        token = _reads.set(alias)
        try:
            yield alias
        finally:
            _reads.reset(token)


class ReportsRouter:
    """DATABASE_ROUTERS: reads inside `reports_database()` to the replica; all else default."""

    def db_for_read(self, model: type[Model], **hints: Any) -> str | None:
        alias = _reads.get()
        if alias is not None:
            return alias
        instance = hints.get("instance")
        if instance is not None and instance._state.db == REPLICA_DB_ALIAS:
            # A row a report read, whose relations are followed after the report: the replica
            # connection has no tenant scope open any more, so read them where everything is.
            return DEFAULT_DB_ALIAS
        return None

    def db_for_write(self, model: type[Model], **hints: Any) -> str:
        # Even a row read on the replica is saved on the primary: a standby takes no writes.
        return DEFAULT_DB_ALIAS

    def allow_relation(self, obj1: Model, obj2: Model, **hints: Any) -> bool | None:
        # The replica is a copy of the default database: their rows may refer to each other.
        databases = {obj1._state.db, obj2._state.db}
        if REPLICA_DB_ALIAS in databases and databases <= {DEFAULT_DB_ALIAS, REPLICA_DB_ALIAS}:
            return True
        return None

    def allow_migrate(
        self, db: str, app_label: str, model_name: str | None = None, **hints: Any
    ) -> bool | None:
        # A standby's schema is the primary's, replayed: never migrate it directly.
        return False if db == REPLICA_DB_ALIAS else None
