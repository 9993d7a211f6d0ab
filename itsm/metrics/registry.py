"""The shapes every app's metrics take, and the registry the API, the export and the dashboard
read. A domain app registers one `MetricProvider` in its AppConfig.ready(); the engine never
names an app.

A metric is a `MetricDefinition` (its key, its label, the exact rule, written where users see
it). For a query, a provider answers with a `Figure` per metric (the headline numbers: the
summary), a `MetricDetail` for one metric (the figure and its table: a series over the period or
a breakdown, which the dashboard draws as a chart and shows as a table), and an `Export` (the
rows behind the figure, streamed as CSV).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol

if TYPE_CHECKING:
    from itsm.metrics.query import MetricQuery, Period
    from itsm.tenancy.models import Tenant

# seconds: a duration; ratio: a share between 0 and 1; count: a number of records.
Unit = Literal["seconds", "ratio", "count"]
# How the dashboard draws a detail's table.
Chart = Literal["stacked_bars", "lines", "bars", "grouped_bars"]


@dataclass(frozen=True)
class MetricDefinition:
    key: str
    label: str
    unit: Unit
    definition: str  # the exact rule, in words users read
    section: str  # the dashboard section it sits in: "incidents", "sla", "problems", "changes"
    # The filters that apply to it; the others are ignored (and the dashboard says so).
    filters: frozenset[str] = frozenset({"service", "team", "priority", "category"})


@dataclass
class Figure:
    """A metric's headline for a query. `value` is the mean for a duration, the share for a
    ratio, the number for a count; `count` the records it is computed from. Durations carry
    their median and 90th percentile beside the mean, since a mean hides the long tail."""

    definition: MetricDefinition
    value: float | None
    count: int
    median: float | None = None
    p90: float | None = None
    # Named parts of the figure: a ratio's components, a second duration labelled apart.
    parts: dict[str, float | int | None] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "key": self.definition.key,
            "label": self.definition.label,
            "unit": self.definition.unit,
            "definition": self.definition.definition,
            "value": self.value,
            "count": self.count,
            "median": self.median,
            "p90": self.p90,
            "parts": self.parts,
        }


def share(part: float, whole: float) -> float | None:
    """part ÷ whole, or None (no figure) when there is nothing to share."""
    return part / whole if whole else None


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    unit: Unit | Literal["label", "date"] = "count"
    # A colour that means something ("good", "bad", "warn"); empty: the next of the palette.
    tone: Literal["", "good", "bad", "warn"] = ""


def bucket_column(period: Period) -> Column:
    """The key column of a series over the period: a day, or the week it starts."""
    return Column("bucket", "Day" if period.interval == "day" else "Week of", "date")


@dataclass
class MetricDetail:
    """A figure and its table: rows of one key column (a bucket's date, a service, a priority)
    and value columns, drawn as `chart` (the value columns are its series)."""

    figure: Figure
    chart: Chart
    columns: list[Column]
    rows: list[dict[str, Any]]

    def as_dict(self) -> dict[str, Any]:
        return {
            **self.figure.as_dict(),
            "chart": self.chart,
            "columns": [
                {"key": column.key, "label": column.label, "unit": column.unit}
                for column in self.columns
            ],
            "rows": self.rows,
        }


@dataclass
class Export:
    """The records behind a figure: a header and rows produced lazily (streamed as CSV)."""

    filename: str
    header: Sequence[str]
    rows: Iterable[Sequence[Any]]


@dataclass(frozen=True)
class Freshness:
    """How fresh a provider's figures are: what came from rollups and as of when."""

    from_rollups: bool
    as_of: str | None = None  # ISO time of the rollups' last refresh
    live_from: str | None = None  # the first day computed from the records themselves
    note: str = ""


class MetricReport(Protocol):
    """One app's metrics for one tenant and query; it reads each fact once, however many
    figures, tables or exports are asked of it. Every read is scoped to the tenant."""

    def summary(self) -> list[Figure]: ...

    def details(self, keys: Sequence[str]) -> list[MetricDetail]: ...

    def export(self, key: str) -> Export: ...

    def freshness(self) -> Freshness: ...


class MetricProvider(Protocol):
    """One app's metrics: their definitions, and a report of them for a tenant and query."""

    name: str
    definitions: Sequence[MetricDefinition]

    def report(self, tenant: Tenant, query: MetricQuery) -> MetricReport: ...


_providers: dict[str, MetricProvider] = {}
# Rollup name -> what queues its rebuild for a tenant (the admin's "rebuild" calls it).
_rollup_rebuilders: dict[str, Callable[[int], object]] = {}


def register(provider: MetricProvider) -> None:
    _providers[provider.name] = provider


def providers() -> list[MetricProvider]:
    return list(_providers.values())


def definitions() -> list[MetricDefinition]:
    return [definition for provider in _providers.values() for definition in provider.definitions]


def provider_of(key: str) -> MetricProvider | None:
    """The provider of metric `key`, or None when no app defines it."""
    for provider in _providers.values():
        if any(definition.key == key for definition in provider.definitions):
            return provider
    return None


def register_rollup(name: str, rebuild: Callable[[int], object]) -> None:
    """`rebuild(tenant_id)` queues a full rebuild of the rollup `name` for one tenant."""
    _rollup_rebuilders[name] = rebuild


def rollup_names() -> list[str]:
    return list(_rollup_rebuilders)


def rollup_rebuilder(name: str) -> Callable[[int], object] | None:
    return _rollup_rebuilders.get(name)
