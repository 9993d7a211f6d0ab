"""The metrics dashboard: every registered provider's figures for a period and filters, each
with its definition, its chart (server-side SVG, `charts`), its table and a CSV export.

Two views of the same page: the tenant's (everything), and a team lead's (the teams they lead,
and a choice among those only). The controls are a GET form, so a view is a link to share and
works without JavaScript; bad input is shown by its field with a 400.

Each provider's report is built once per request and asked for its summary and all its tables
together: the report reads each fact once, so the page costs the same number of queries
whatever the number of incidents behind it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Any, ClassVar
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, QueryDict, StreamingHttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import SafeString
from django.views import View
from django.views.generic import TemplateView

from itsm.calendars.selectors import tenant_time_zone
from itsm.metrics import charts
from itsm.metrics.export import csv_response
from itsm.metrics.query import DAY, PRESETS, WEEK, MetricQuery, MetricQueryForm
from itsm.metrics.registry import (
    Column,
    Figure,
    Freshness,
    MetricDefinition,
    MetricDetail,
    MetricProvider,
    provider_of,
    providers,
)
from itsm.metrics.routing import reports_database
from itsm.tenancy.choices import STAFF_ROLES
from itsm.tenancy.models import Team, Tenant
from itsm.web.views import TenantPageMixin

STAFF = frozenset(STAFF_ROLES)
FILTERS = ("service", "team", "priority", "category")
SECTION_TITLES = {
    "incidents": "Incidents",
    "sla": "Service levels",
    "problems": "Problems",
    "changes": "Changes",
}
# A preset up to a month is drawn per day, a longer one per week.
DAILY_PRESET_DAYS = 31


@dataclass
class Cell:
    text: str
    is_key: bool  # a row header (the bucket, the service …)


@dataclass
class MetricCard:
    """One metric as the page shows it: headline, chart, legend, table and export link."""

    definition: MetricDefinition
    figure: Figure
    headline: str
    median: str | None
    p90: str | None
    parts: list[tuple[str, str]]
    chart: SafeString
    legend: SafeString
    columns: list[Column]
    rows: list[list[Cell]]
    export_url: str
    ignored_filters: list[str]

    @property
    def key(self) -> str:
        return self.definition.key


@dataclass
class Section:
    key: str
    title: str
    cards: list[MetricCard] = field(default_factory=list)


@dataclass
class Preset:
    days: int
    url: str
    current: bool


def led_teams(tenant: Tenant, user: Any) -> QuerySet[Team]:
    """The tenant's teams that `user` leads."""
    return (
        Team.objects.for_tenant(tenant)
        .filter(memberships__user=user, memberships__is_lead=True)
        .order_by("name", "id")
    )


def without_blanks(params: QueryDict) -> QueryDict:
    """The query string less its empty values: a select's "Any" sends `service=`, which means
    no filter, not a service named ""."""
    kept = QueryDict(mutable=True)
    for name, values in params.lists():
        kept.setlist(name, [value for value in values if value.strip()])
    return kept


def query_params(query: MetricQuery) -> dict[str, Any]:
    """The query as the form reads it back (for the export links and the presets)."""
    data = query.as_dict()
    return {
        "from": data["from"],
        "to": data["to"],
        "interval": data["interval"],
        **{name: data[name] for name in FILTERS if data[name]},
    }


def section_title(key: str) -> str:
    return SECTION_TITLES.get(key, key.replace("_", " ").capitalize())


def format_cell(value: Any, column: Column) -> str:
    if column.unit == "date":
        return value.strftime("%-d %b %Y") if isinstance(value, date) else str(value or "—")
    if column.unit == "label":
        return "—" if value is None else str(value)
    return charts.format_value(value, column.unit)


def format_part(name: str, value: float | int | None) -> str:
    """A figure's part: a whole number is a count, a fraction a share, a "per" a ratio."""
    if value is None:
        return "—"
    if "_per_" in name:
        return f"{value:.2f}"
    if isinstance(value, int):
        return charts.format_value(value, "count")
    return charts.format_value(value, "ratio")


def freshness_text(name: str, freshness: Freshness, zone: ZoneInfo) -> str:
    label = section_title(name)
    if not freshness.from_rollups or not freshness.as_of:
        return f"{label}: computed from the records now."
    refreshed = datetime.fromisoformat(freshness.as_of).astimezone(zone)
    text = f"{label}: from the daily rollups as of {refreshed:%-d %b %Y, %H:%M} ({zone.key})"
    if freshness.live_from:
        live = date.fromisoformat(freshness.live_from)
        text += f"; from {live:%-d %b %Y} computed from the records now"
    return text + "."


class DashboardPage(TenantPageMixin, TemplateView):
    """The tenant's metrics: a section per kind of figure, a card per metric."""

    page_roles = STAFF
    template_name = "metrics/dashboard.html"
    page_name: ClassVar[str] = "metrics:dashboard"
    team_view: ClassVar[bool] = False

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        zone = tenant_time_zone(tenant=self.tenant)
        teams = led_teams(self.tenant, request.user) if self.team_view else None
        context: dict[str, Any] = {
            "team_view": self.team_view,
            "page_name": self.page_name,
            "zone": zone,
        }
        if teams is not None:
            led = list(teams)
            context["led_teams"] = led
            if not led:
                return self.render_to_response(self.get_context_data(**context))
        form = MetricQueryForm(without_blanks(request.GET), tenant=self.tenant, zone=zone)
        if teams is not None:
            form.fields["team"].queryset = teams  # type: ignore[attr-defined]
        context |= {"form": form, "choices": self.choices(form)}
        if not form.is_valid():
            context["values"] = {name: _shown(form[name].value()) for name in form.fields}
            context["errors"] = {
                name: " ".join(str(error) for error in errors)
                for name, errors in form.errors.items()
            }
            # The quick periods still lead out of the mistake (without its filters).
            context["presets"] = self.presets(None, {}, _today(zone))
            return self.render_to_response(self.get_context_data(**context), status=400)
        query = form.query()
        if teams is not None and not query.teams:
            query = replace(query, teams=tuple(context["led_teams"]))
        context |= self.report_context(query, zone, chosen=form.cleaned_data)
        return self.render_to_response(self.get_context_data(**context))

    def choices(self, form: MetricQueryForm) -> dict[str, list[tuple[Any, str]]]:
        """The filter selects' options: the tenant's (or the lead's) rows, one query each."""
        found: dict[str, list[tuple[Any, str]]] = {}
        for name in ("service", "team", "category"):
            queryset = form.fields[name].queryset  # type: ignore[attr-defined]
            found[name] = list(queryset.values_list("slug", "name"))
        found["priority"] = list(form.fields["priority"].choices)  # type: ignore[attr-defined]
        found["interval"] = [(DAY, "Day"), (WEEK, "Week")]
        return found

    def report_context(
        self, query: MetricQuery, zone: ZoneInfo, chosen: dict[str, Any]
    ) -> dict[str, Any]:
        params = query_params(query)
        sections: dict[str, Section] = {}
        freshness = []
        with reports_database(self.tenant.pk):  # the read replica, when there is one
            for provider in providers():
                report = provider.report(self.tenant, query)
                figures = {figure.definition.key: figure for figure in report.summary()}
                keys = [definition.key for definition in provider.definitions]
                for detail in report.details(keys):
                    definition = detail.figure.definition
                    section = sections.setdefault(
                        definition.section,
                        Section(definition.section, section_title(definition.section)),
                    )
                    figure = figures.get(definition.key, detail.figure)
                    section.cards.append(self.card(detail, figure, params))
                freshness.append(freshness_text(provider.name, report.freshness(), zone))
        filters = {name: value for name, value in params.items() if name in FILTERS}
        if self.team_view and len(query.teams) > 1:
            filters.pop("team", None)  # all the led teams: the page's default
        return {
            "query": query,
            "values": {
                "from": query.period.first.isoformat(),
                "to": query.period.last.isoformat(),
                "interval": query.period.interval,
                **{name: _first_slug(chosen.get(name)) for name in FILTERS},
            },
            "sections": list(sections.values()),
            "freshness": freshness,
            "presets": self.presets(query, filters, _today(zone)),
        }

    def card(self, detail: MetricDetail, figure: Figure, params: dict[str, Any]) -> MetricCard:
        definition = figure.definition
        unit = definition.unit
        is_duration = unit == "seconds"
        export = reverse("metrics:export", args=[self.tenant.slug, definition.key])
        active = {name for name in FILTERS if params.get(name)}
        column_labels = {column.key: column.label for column in detail.columns}
        return MetricCard(
            definition=definition,
            figure=figure,
            headline=charts.format_value(figure.value, unit),
            median=charts.format_value(figure.median, unit) if is_duration else None,
            p90=charts.format_value(figure.p90, unit) if is_duration else None,
            parts=[
                (
                    column_labels.get(name) or name.replace("_", " ").capitalize(),
                    format_part(name, value),
                )
                for name, value in figure.parts.items()
            ],
            chart=charts.render_chart(
                detail, chart_id=f"chart-{definition.key}", title=definition.label
            ),
            legend=charts.legend(detail),
            columns=detail.columns,
            rows=[
                [
                    Cell(format_cell(row.get(column.key), column), index == 0)
                    for index, column in enumerate(detail.columns)
                ]
                for row in detail.rows
            ],
            export_url=f"{export}?{urlencode(params, doseq=True)}",
            ignored_filters=sorted(active - definition.filters),
        )

    def presets(
        self, query: MetricQuery | None, filters: dict[str, Any], today: date
    ) -> list[Preset]:
        """Links to the last 7, 30, 90 and 365 days with the same filters; the one shown is
        current."""
        here = reverse(self.page_name, args=[self.tenant.slug])
        found = []
        for days in PRESETS:
            first = today - timedelta(days=days - 1)
            interval = DAY if days <= DAILY_PRESET_DAYS else WEEK
            link = {"from": first.isoformat(), "to": today.isoformat(), "interval": interval}
            found.append(
                Preset(
                    days=days,
                    url=f"{here}?{urlencode({**link, **filters}, doseq=True)}",
                    current=query is not None
                    and (query.period.first, query.period.last) == (first, today),
                )
            )
        return found


def _today(zone: ZoneInfo) -> date:
    return timezone.now().astimezone(zone).date()


def _shown(value: Any) -> str:
    """A submitted value as its control shows it again: the first of a repeated one."""
    if isinstance(value, list | tuple):
        value = value[0] if value else ""
    return "" if value is None else str(value)


def _first_slug(value: Any) -> str:
    """The first chosen value of a repeatable filter, as its select shows it."""
    if not value:
        return ""
    first = next(iter(value))
    return str(getattr(first, "slug", first))


class TeamDashboardPage(DashboardPage):
    """A team lead's view: the dashboard narrowed to the teams they lead."""

    page_name = "metrics:teams"
    team_view = True


class ExportPage(TenantPageMixin, View):
    """The records behind one figure, for the same period and filters, as a CSV download."""

    page_roles = STAFF
    serves_file: ClassVar[bool] = True  # a download, not a page: the page sweeps skip it

    def get(
        self, request: HttpRequest, *args: Any, **kwargs: Any
    ) -> HttpResponse | StreamingHttpResponse:
        key = kwargs["key"]
        provider: MetricProvider | None = provider_of(key)
        if provider is None:
            raise Http404("No such metric.")
        zone = tenant_time_zone(tenant=self.tenant)
        form = MetricQueryForm(without_blanks(request.GET), tenant=self.tenant, zone=zone)
        if not form.is_valid():
            context = {"tenant": self.tenant, "membership": self.membership, "form": form}
            return render(request, "metrics/export_refused.html", context, status=400)
        query = form.query()
        with reports_database(self.tenant.pk):  # the rows stream in a scope of their own
            export = provider.report(self.tenant, query).export(key)
        return csv_response(self.tenant.pk, export)
