"""Charts drawn on the server as SVG: no chart library and no script, so a figure shows under
the strict Content-Security-Policy, without JavaScript and in print, and scales to a phone
(a viewBox and width 100%).

A `MetricDetail`'s table is the chart's data: its leading label or date columns name the rows
(the x axis), the value columns that share the first value column's unit are the series (a
"count" column beside durations, say, stays in the table only). Colours come from the
stylesheet by series index (`series-0` …), never from inline styles, which the policy refuses.
`None` is "no figure": a gap in a line, no bar.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

from itsm.metrics.registry import Column, MetricDetail

# The drawing's own units; the SVG scales to its box (width 100%).
WIDTH, HEIGHT = 480, 220
LEFT, RIGHT, TOP, BOTTOM = 52, 8, 10, 34
PLOT_WIDTH, PLOT_HEIGHT = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
MAX_X_LABELS = 8  # more would overlap: every n-th row is labelled
LABEL_CHARACTERS = 12  # a longer row label is cut (the table and the bar's title have it whole)
TICKS = 4
KEY_UNITS = frozenset({"label", "date"})
DAY_SECONDS = 86400
# Round steps of a duration axis, in seconds: up to a week; longer, whole days.
DURATION_STEPS: tuple[int, ...] = (1, 5, 15, 30, 60, 300, 600, 900, 1800, 3600, 7200, 10800)
DURATION_STEPS += (21600, 43200, DAY_SECONDS, 2 * DAY_SECONDS, 7 * DAY_SECONDS)
SERIES_COLOURS = 6  # series-0 … series-5 in the stylesheet, then round again


@dataclass(frozen=True)
class Series:
    key: str
    label: str
    css: str  # the stylesheet class that colours it


@dataclass(frozen=True)
class ChartData:
    """What a chart draws: a label per row and, per series, a value per row (None: a gap)."""

    kind: str
    unit: str
    labels: list[str]
    series: list[Series]
    values: dict[str, list[float | None]]


# --- Writing numbers ------------------------------------------------------------------------

DURATION_UNITS = (("d", 86400), ("h", 3600), ("min", 60), ("s", 1))


def format_duration(seconds: float, *, short: bool = False) -> str:
    """Seconds as people read them: "1 h 20 min", "3 d 4 h", "45 s" (the two largest units;
    `short`: the largest only, with a decimal where needed, for an axis: "1.5 h")."""
    remaining = round(seconds)
    if remaining <= 0:
        return "0"
    if short:
        name, size = next(unit for unit in DURATION_UNITS if remaining >= unit[1])
        amount = round(remaining / size, 1)
        return f"{amount:g} {name}"
    parts: list[tuple[int, str]] = []
    for name, size in DURATION_UNITS:
        amount, remaining = divmod(remaining, size)
        if amount or parts:
            parts.append((amount, name))
        if len(parts) == 2:
            break
    return " ".join(f"{amount} {name}" for amount, name in parts if amount) or "0"


def format_value(value: float | None, unit: str, *, short: bool = False) -> str:
    """A figure as the dashboard writes it: a duration humanly, a share as a percentage, a
    count as a whole number; None is "—" (no figure)."""
    if value is None:
        return "—"
    if unit == "seconds":
        return format_duration(value, short=short)
    if unit == "ratio":
        percent = value * 100
        return f"{percent:.0f} %" if short or percent == round(percent) else f"{percent:.1f} %"
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.1f}"


# --- Reading a detail -----------------------------------------------------------------------


def key_columns(columns: Sequence[Column]) -> list[Column]:
    """The leading label and date columns: what names a row."""
    keys: list[Column] = []
    for column in columns:
        if column.unit not in KEY_UNITS:
            break
        keys.append(column)
    return keys


def series_columns(columns: Sequence[Column]) -> list[Column]:
    """The value columns drawn: those in the unit of the first value column."""
    values = columns[len(key_columns(columns)) :]
    if not values:
        return []
    return [column for column in values if column.unit == values[0].unit]


def row_label(row: dict[str, Any], keys: Sequence[Column]) -> str:
    return " · ".join(format_key(row.get(column.key)) for column in keys) or "—"


def format_key(value: Any) -> str:
    if isinstance(value, date):
        return f"{value.day} {value:%b}"
    return "—" if value is None else str(value)


def chart_data(detail: MetricDetail) -> ChartData:
    keys, drawn = key_columns(detail.columns), series_columns(detail.columns)
    series = [
        Series(
            column.key,
            column.label,
            f"tone-{column.tone}" if column.tone else f"series-{index % SERIES_COLOURS}",
        )
        for index, column in enumerate(drawn)
    ]
    values = {column.key: [_number(row.get(column.key)) for row in detail.rows] for column in drawn}
    return ChartData(
        kind=detail.chart,
        unit=drawn[0].unit if drawn else "count",
        labels=[row_label(row, keys) for row in detail.rows],
        series=series,
        values=values,
    )


def _number(value: Any) -> float | None:
    return None if value is None else float(value)


# --- Scales ---------------------------------------------------------------------------------


def nice_ceiling(value: float) -> float:
    """The smallest 1, 2, 2.5 or 5 × 10^n at or above `value`: a round top for the axis."""
    if value <= 0:
        return 1.0
    magnitude = 10.0 ** math.floor(math.log10(value))
    for step in (1.0, 2.0, 2.5, 5.0):
        if step * magnitude >= value - 1e-9:
            return step * magnitude
    return 10.0 * magnitude


def axis_top(data: ChartData) -> float:
    """The y axis' top: 100 % for shares, else TICKS round steps over the largest bar or point
    (whole numbers for counts, whole minutes, hours or days for durations)."""
    if data.unit == "ratio":
        return 1.0
    if data.kind == "stacked_bars":
        largest = max(
            (sum(data.values[s.key][i] or 0 for s in data.series) for i in range(len(data.labels))),
            default=0.0,
        )
    else:
        largest = max(
            (value for s in data.series for value in data.values[s.key] if value is not None),
            default=0.0,
        )
    wanted = largest / TICKS
    if data.unit == "seconds":
        step = next((size for size in DURATION_STEPS if size >= wanted), 0.0)
        step = step or DAY_SECONDS * nice_ceiling(wanted / DAY_SECONDS)
    else:
        step = max(1.0, float(math.ceil(nice_ceiling(wanted))))
    return step * TICKS


def _y(value: float, top: float) -> float:
    return TOP + PLOT_HEIGHT - (value / top) * PLOT_HEIGHT


# --- Drawing --------------------------------------------------------------------------------


def render_chart(
    detail: MetricDetail,
    *,
    chart_id: str,
    title: str,
) -> SafeString:
    """The detail as an SVG image named `title`, its numbers written as the page's figures."""
    data = chart_data(detail)
    if not has_figures(data):
        return format_html(
            '<p class="muted no-chart">{}</p>', "No figure to chart for this period."
        )
    top = axis_top(data)
    title_id, desc_id = f"{chart_id}-title", f"{chart_id}-desc"
    body = [
        _grid(top, data.unit),
        _marks(data, top),
        _x_labels(data.labels),
    ]
    description = f"{_kind_words(data.kind)} of {', '.join(s.label for s in data.series)}"
    description += f" over {len(data.labels)} {'row' if len(data.labels) == 1 else 'rows'}."
    return format_html(
        '<svg class="chart" id="{}" role="img" viewBox="0 0 {} {}" width="100%" '
        'preserveAspectRatio="xMidYMid meet" aria-labelledby="{} {}">'
        '<title id="{}">{}</title><desc id="{}">{}</desc>{}</svg>',
        chart_id,
        WIDTH,
        HEIGHT,
        title_id,
        desc_id,
        title_id,
        title,
        desc_id,
        description + " The table beside it has the figures.",
        mark_safe("".join(body)),  # noqa: S308 - each part is built with format_html
    )


def has_figures(data: ChartData) -> bool:
    """Whether there is anything to draw: rows, and a known value in a series."""
    return bool(data.labels) and any(
        value is not None for values in data.values.values() for value in values
    )


def _kind_words(kind: str) -> str:
    return {
        "stacked_bars": "Stacked bars",
        "lines": "Lines",
        "bars": "Bars",
        "grouped_bars": "Grouped bars",
    }.get(kind, "Chart")


def _grid(top: float, unit: str) -> str:
    lines = []
    for tick in range(TICKS + 1):
        value = top * tick / TICKS
        y = _y(value, top)
        lines.append(
            format_html(
                '<line class="grid" x1="{}" y1="{}" x2="{}" y2="{}"></line>'
                '<text class="tick" x="{}" y="{}" text-anchor="end">{}</text>',
                LEFT,
                _fixed(y),
                WIDTH - RIGHT,
                _fixed(y),
                LEFT - 4,
                _fixed(y + 3.5),
                format_value(value, unit, short=True),
            )
        )
    return "".join(lines)


def _slot(index: int, count: int) -> tuple[float, float]:
    """The x where row `index` of `count` starts, and the width it has."""
    width = PLOT_WIDTH / max(count, 1)
    return LEFT + index * width, width


def _marks(data: ChartData, top: float) -> str:
    if data.kind == "lines":
        return _lines(data, top)
    if data.kind == "stacked_bars":
        return _stacked_bars(data, top)
    return _side_by_side_bars(data, top)


def _bar(css: str, x: float, y: float, width: float, height: float, title: str) -> str:
    return format_html(
        '<rect class="bar {}" x="{}" y="{}" width="{}" height="{}"><title>{}</title></rect>',
        css,
        _fixed(x),
        _fixed(y),
        _fixed(max(width, 0.5)),
        _fixed(height),
        title,
    )


def _stacked_bars(data: ChartData, top: float) -> str:
    marks = []
    for index, label in enumerate(data.labels):
        x, width = _slot(index, len(data.labels))
        base = 0.0
        for series in data.series:
            value = data.values[series.key][index]
            if not value:
                continue
            y_top, y_base = _y(base + value, top), _y(base, top)
            words = f"{label}, {series.label}: {format_value(value, data.unit)}"
            marks.append(
                _bar(series.css, x + width * 0.15, y_top, width * 0.7, y_base - y_top, words)
            )
            base += value
    return "".join(marks)


def _side_by_side_bars(data: ChartData, top: float) -> str:
    marks = []
    count = len(data.series)
    for index, label in enumerate(data.labels):
        x, width = _slot(index, len(data.labels))
        inner = width * 0.8 / count
        for position, series in enumerate(data.series):
            value = data.values[series.key][index]
            if value is None:
                continue
            y = _y(value, top)
            words = f"{label}, {series.label}: {format_value(value, data.unit)}"
            bar_x = x + width * 0.1 + position * inner
            marks.append(_bar(series.css, bar_x, y, inner, TOP + PLOT_HEIGHT - y, words))
    return "".join(marks)


def _lines(data: ChartData, top: float) -> str:
    """A polyline per run of known values (None breaks the line); a point for each value."""
    marks = []
    for series in data.series:
        runs: list[list[tuple[float, float]]] = [[]]
        for index, value in enumerate(data.values[series.key]):
            if value is None:
                runs.append([])
                continue
            x, width = _slot(index, len(data.labels))
            point = (x + width / 2, _y(value, top))
            runs[-1].append(point)
            words = f"{data.labels[index]}, {series.label}: {format_value(value, data.unit)}"
            marks.append(
                format_html(
                    '<circle class="point {}" cx="{}" cy="{}" r="3.5"><title>{}</title></circle>',
                    series.css,
                    _fixed(point[0]),
                    _fixed(point[1]),
                    words,
                )
            )
        for run in runs:
            if len(run) > 1:
                points = " ".join(f"{_fixed(x)},{_fixed(y)}" for x, y in run)
                marks.insert(
                    0,
                    format_html(
                        '<polyline class="line {}" points="{}"></polyline>', series.css, points
                    ),
                )
    return "".join(marks)


def _x_labels(labels: Sequence[str]) -> str:
    step = max(1, math.ceil(len(labels) / MAX_X_LABELS))
    texts = []
    for index in range(0, len(labels), step):
        x, width = _slot(index, len(labels))
        label = labels[index]
        # As many characters as the label's share of the axis holds (about 7 units each).
        fits = min(LABEL_CHARACTERS, max(3, int(width * step / 7)))
        if len(label) > fits:
            label = label[: fits - 1] + "…"
        texts.append(
            format_html(
                '<text class="tick" x="{}" y="{}" text-anchor="middle">{}</text>',
                _fixed(x + width / 2),
                HEIGHT - BOTTOM + 14,
                label,
            )
        )
    axis = format_html(
        '<line class="axis" x1="{}" y1="{}" x2="{}" y2="{}"></line>',
        LEFT,
        TOP + PLOT_HEIGHT,
        WIDTH - RIGHT,
        TOP + PLOT_HEIGHT,
    )
    return axis + "".join(texts)


def _fixed(value: float) -> str:
    """A coordinate with one decimal: enough for the eye, and short markup."""
    return f"{value:.1f}".rstrip("0").rstrip(".")


def legend(detail: MetricDetail) -> SafeString:
    """The series' names beside their colours, as a list (text, so it wraps on a phone)."""
    data = chart_data(detail)
    if len(data.series) < 2 or not has_figures(data):
        return SafeString("")
    items = format_html_join(
        "",
        '<li><span class="swatch {}" aria-hidden="true"></span>{}</li>',
        ((series.css, series.label) for series in data.series),
    )
    return format_html('<ul class="legend" aria-label="Legend">{}</ul>', items)
