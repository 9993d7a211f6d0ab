"""What a report is asked for: a period of whole days in the tenant's time, how to bucket it,
and the filters (service, team, priority, category). One form reads it from a query string for
the API and the dashboard alike, so both refuse the same bad input with the same words."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django import forms
from django.core.exceptions import ValidationError
from django.db.models.functions import TruncDate, TruncWeek
from django.utils import timezone

from itsm.catalog.models import Category, Service
from itsm.tenancy.models import Team, Tenant

DEFAULT_DAYS = 30
MAX_DAYS = 3 * 366  # a report reads at most about three years
DAY, WEEK = "day", "week"
PRESETS = (7, 30, 90, 365)  # the dashboard's quick choices, in days


@dataclass(frozen=True)
class Period:
    """Whole days `first` … `last` (both included) in `zone`, bucketed by day or ISO week."""

    first: date
    last: date
    zone: ZoneInfo
    interval: str = WEEK

    @property
    def start(self) -> datetime:
        """The first day's local midnight, as an aware time."""
        return datetime.combine(self.first, time(0), tzinfo=self.zone)

    @property
    def end(self) -> datetime:
        """The local midnight after the last day: the period is [start, end)."""
        return datetime.combine(self.last + timedelta(days=1), time(0), tzinfo=self.zone)

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    def bucket(self, day: date) -> date:
        """The bucket a local day falls in: the day itself, or its week's Monday."""
        return day if self.interval == DAY else day - timedelta(days=day.weekday())

    def bucket_of(self, event: str) -> TruncDate | TruncWeek:
        """The database expression of `bucket` for a time field: its local day, or the local
        week's Monday (a datetime on some databases: `as_date` reads it)."""
        if self.interval == DAY:
            return TruncDate(event, tzinfo=self.zone)
        return TruncWeek(event, tzinfo=self.zone)

    @property
    def stamp(self) -> str:
        """`2026-11-01_2026-11-30`: the period in a file name."""
        return f"{self.first.isoformat()}_{self.last.isoformat()}"

    def buckets(self) -> Iterator[date]:
        """Every bucket of the period in order, so that empty ones show as zero."""
        current = self.bucket(self.first)
        step = timedelta(days=1 if self.interval == DAY else 7)
        while current <= self.last:
            yield current
            current += step

    def as_dict(self) -> dict[str, Any]:
        return {
            "from": self.first.isoformat(),
            "to": self.last.isoformat(),
            "time_zone": self.zone.key,
            "interval": self.interval,
        }


def as_date(value: date | datetime) -> date:
    """A bucket as a date, whether the database gave a date or a datetime."""
    return value.date() if isinstance(value, datetime) else value


@dataclass(frozen=True)
class MetricQuery:
    """A period and the filters; an empty filter is "all". Ids are the tenant's own rows."""

    period: Period
    services: tuple[Service, ...] = ()
    teams: tuple[Team, ...] = ()
    priorities: tuple[int, ...] = ()
    categories: tuple[Category, ...] = ()

    @property
    def service_ids(self) -> list[int]:
        return [service.pk for service in self.services]

    @property
    def team_ids(self) -> list[int]:
        return [team.pk for team in self.teams]

    @property
    def category_ids(self) -> list[int]:
        return [category.pk for category in self.categories]

    def as_dict(self) -> dict[str, Any]:
        return {
            **self.period.as_dict(),
            "service": [service.slug for service in self.services],
            "team": [team.slug for team in self.teams],
            "priority": list(self.priorities),
            "category": [category.slug for category in self.categories],
        }


class MetricQueryForm(forms.Form):
    """`from`, `to` (dates, inclusive; default the last 30 days), `interval` (day|week), and
    repeatable `service`, `team`, `category` (slugs) and `priority` (1–4) filters."""

    from_ = forms.DateField(required=False, label="From")
    to = forms.DateField(required=False, label="To")
    interval = forms.ChoiceField(
        required=False, choices=[(DAY, "Day"), (WEEK, "Week")], label="Per"
    )
    service = forms.ModelMultipleChoiceField(
        queryset=Service.objects.none(), to_field_name="slug", required=False
    )
    team = forms.ModelMultipleChoiceField(
        queryset=Team.objects.none(), to_field_name="slug", required=False
    )
    priority = forms.TypedMultipleChoiceField(
        choices=[(level, f"SEV{level}") for level in range(1, 5)], coerce=int, required=False
    )
    category = forms.ModelMultipleChoiceField(
        queryset=Category.objects.none(), to_field_name="slug", required=False
    )

    def __init__(self, *args: Any, tenant: Tenant, zone: ZoneInfo, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # `from` is a Python keyword: the field is `from_`, its parameter `from`.
        self.fields["from"] = self.fields.pop("from_")
        self.order_fields(["from", "to", "interval", "service", "team", "priority", "category"])
        self.zone = zone
        self.fields["service"].queryset = Service.objects.for_tenant(tenant)  # type: ignore[attr-defined]
        self.fields["team"].queryset = Team.objects.for_tenant(tenant)  # type: ignore[attr-defined]
        self.fields["category"].queryset = Category.objects.for_tenant(tenant)  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        today = timezone.now().astimezone(self.zone).date()
        last = data.get("to") or today
        first = data.get("from") or last - timedelta(days=DEFAULT_DAYS - 1)
        if first > last:
            raise ValidationError({"from": "Must not be after `to`."})
        if (last - first).days + 1 > MAX_DAYS:
            raise ValidationError({"from": f"A report covers at most {MAX_DAYS} days."})
        data["from"], data["to"] = first, last
        return data

    def query(self) -> MetricQuery:
        """The query the valid form describes; call after is_valid()."""
        data = self.cleaned_data
        period = Period(data["from"], data["to"], self.zone, data.get("interval") or WEEK)
        return MetricQuery(
            period=period,
            services=tuple(data.get("service") or ()),
            teams=tuple(data.get("team") or ()),
            priorities=tuple(sorted(set(data.get("priority") or ()))),
            categories=tuple(data.get("category") or ()),
        )
