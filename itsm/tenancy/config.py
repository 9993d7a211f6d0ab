"""A process-wide cache of each tenant's small, rarely changed configuration (priority labels,
the priority matrix, SLA policies, teams, notification preferences), which hot paths would
otherwise read on every request.

Freshness is the database's job, not the writers': a trigger on every configuration table
(`itsm.tenancy.models.config_version_trigger`) bumps `tenant.config_version` in the same
transaction as the change, whatever made it (a service, the admin, a bulk update, raw SQL).
Entries are keyed by the version of the tenant row the request read, so a request that started
after a change committed never sees what was cached before it. Only PostgreSQL has the
triggers: elsewhere nothing is cached.

Cached values are shared between requests and threads: treat them as read-only."""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.db import connection, models

from itsm.tenancy.models import CONFIG_VERSION_TRIGGER, Tenant

# Enough for every tenant's few entries on a large deployment; past it, start again.
MAX_ENTRIES = 10_000

# Each entry holds the two newest versions read: a caller holding an older tenant row (a worker
# midway through a batch, a test's fixture) and the requests reading the current one then both
# find theirs, instead of evicting each other on every call.
_entries: dict[tuple[int, str], dict[int, Any]] = {}
VERSIONS_KEPT = 2


def tenant_config[T](tenant: Tenant, name: str, load: Callable[[], T]) -> T:
    """The tenant's configuration `name`, loaded by `load` once per configuration version."""
    if connection.vendor != "postgresql":
        return load()
    key, version = (tenant.pk, name), tenant.config_version
    versions = _entries.get(key)
    if versions is not None and version in versions:
        value: T = versions[version]
        return value
    value = load()
    if versions is None:
        if len(_entries) >= MAX_ENTRIES:
            _entries.clear()
        versions = _entries[key] = {}
    versions[version] = value
    if len(versions) > VERSIONS_KEPT:
        del versions[min(versions)]
    return value


@dataclass(frozen=True)
class TenantRows[M: models.Model]:
    """One tenant's rows of a small configuration table (teams, services), as the cache holds
    them. The cached instances are shared between requests: every lookup hands out a copy,
    which the caller may change and attach to what it writes."""

    by_pk: Mapping[Any, M]
    by_slug: Mapping[str, M]

    def get(self, pk: Any) -> M | None:
        row = self.by_pk.get(pk)
        return copy.copy(row) if row is not None else None

    def with_slug(self, slug: str) -> M | None:
        row = self.by_slug.get(slug)
        return copy.copy(row) if row is not None else None

    def where(self, **values: Any) -> list[M]:
        """The rows whose fields equal `values`, in the model's ordering."""
        return [
            copy.copy(row)
            for row in self.by_pk.values()
            if all(getattr(row, name) == value for name, value in values.items())
        ]


def tenant_rows[M: models.Model](tenant: Tenant, model: type[M]) -> TenantRows[M]:
    """The tenant's rows of `model`, read once per configuration version. The model must
    declare `config_version_trigger`, or a change to its rows would not reach the cache."""
    triggers = getattr(model._meta, "triggers", ())
    if not any(trigger.name == CONFIG_VERSION_TRIGGER for trigger in triggers):
        raise ImproperlyConfigured(f"{model._meta.label} declares no config_version_trigger.")
    return tenant_config(tenant, f"rows:{model._meta.label}", partial(_load_rows, tenant, model))


def _load_rows[M: models.Model](tenant: Tenant, model: type[M]) -> TenantRows[M]:
    rows = list(model._default_manager.filter(tenant_id=tenant.pk))
    return TenantRows(
        by_pk={row.pk: row for row in rows},
        by_slug={slug: row for row in rows if isinstance(slug := getattr(row, "slug", None), str)},
    )
