"""A process-wide cache of each tenant's small, rarely changed configuration (priority labels,
the priority matrix, SLA policies), which hot paths would otherwise read on every request.

Freshness is the database's job, not the writers': a trigger on every configuration table
(`config_version_trigger`) bumps `tenant.config_version` in the same transaction as the change,
whatever made it (a service, the admin, a bulk update, raw SQL). Entries are keyed by the version
of the tenant row the request read, so a request that started after a change committed never
sees what was cached before it. Only PostgreSQL has the triggers: elsewhere nothing is cached.

Cached values are shared between requests and threads: treat them as read-only.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pgtrigger
from django.db import connection

from itsm.tenancy.models import Tenant

# Enough for every tenant's few entries on a large deployment; past it, start again.
MAX_ENTRIES = 10_000

_entries: dict[tuple[int, str], tuple[int, Any]] = {}


def tenant_config[T](tenant: Tenant, name: str, load: Callable[[], T]) -> T:
    """The tenant's configuration `name`, loaded by `load` once per configuration version."""
    if connection.vendor != "postgresql":
        return load()
    key = (tenant.pk, name)
    cached = _entries.get(key)
    if cached is not None and cached[0] == tenant.config_version:
        value: T = cached[1]
        return value
    value = load()
    if len(_entries) >= MAX_ENTRIES:
        _entries.clear()
    _entries[key] = (tenant.config_version, value)
    return value


def config_version_trigger() -> pgtrigger.Trigger:
    """The trigger a configuration table declares (Meta.triggers): any change to its rows bumps
    their tenant's `config_version`, in the writer's transaction."""
    return pgtrigger.Trigger(
        name="bump_tenant_config_version",
        when=pgtrigger.After,
        operation=pgtrigger.Insert | pgtrigger.Update | pgtrigger.Delete,
        level=pgtrigger.Row,
        func=(
            "UPDATE tenancy_tenant SET config_version = config_version + 1 "
            "WHERE id = COALESCE(NEW.tenant_id, OLD.tenant_id); RETURN NULL;"
        ),
    )
