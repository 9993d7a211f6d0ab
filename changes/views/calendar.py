"""The change calendar page: a month grid or a week of the changes holding their window, each
with its conflicts, the blackout windows shaded; and the member's calendar-feed address.

Days are the tenant's days: a change from 22:00 to 02:00 is on two of them, and which two
depends on the time zone (`itsm.calendars.selectors.tenant_time_zone`; `?tz=` overrides it).
The page reads `changes.calendar.calendar_window`, so it costs the same number of queries
whatever the number of changes. The feed token is
issued and revoked by the services the API calls (`changes.feeds`), through POSTs to this page
(`op=create-feed` / `op=revoke-feed`) answered by a redirect back (Post/Redirect/Get).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any, Final
from zoneinfo import ZoneInfo

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.utils.http import urlencode
from django.views.generic import TemplateView

from changes import feeds
from changes.calendar import CalendarBlackout, CalendarChange, calendar_window
from changes.choices import CALENDAR_STATUSES
from changes.forms.calendar import (
    CREATE_FEED,
    MONTH,
    VIEWS,
    WEEK,
    CalendarQueryForm,
    FeedTokenForm,
)
from changes.models import BlackoutWindow, Change
from itsm.calendars.selectors import tenant_time_zone
from itsm.catalog.models import Service
from itsm.catalog.selectors import service_list
from itsm.errors import NotFoundError
from itsm.web.views import TenantPageMixin
from problems.views.base import STAFF

FEED_URL_NAME: Final = "changes-feed:calendar"
# The address of a feed token just issued, kept for the one page view that follows the POST.
ISSUED_FEED_SESSION_KEY: Final = "changes.issued_feed"


# --- Time zone and period -----------------------------------------------------------------------


def local_midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=zone)


@dataclass(frozen=True)
class Period:
    """The days a view shows: whole weeks, Monday first (a month grid spills into its
    neighbours' first and last weeks)."""

    view: str
    anchor: date  # the day asked for
    first: date
    last: date  # inclusive
    previous: date
    next: date

    @classmethod
    def of(cls, view: str, anchor: date) -> Period:
        if view == WEEK:
            monday = anchor - timedelta(days=anchor.weekday())
            week = timedelta(days=7)
            return cls(
                view, anchor, monday, monday + timedelta(days=6), anchor - week, anchor + week
            )
        month_start = anchor.replace(day=1)
        next_month = (month_start + timedelta(days=32)).replace(day=1)
        month_end = next_month - timedelta(days=1)
        first = month_start - timedelta(days=month_start.weekday())
        last = month_end + timedelta(days=6 - month_end.weekday())
        previous = (month_start - timedelta(days=1)).replace(day=1)
        return cls(view, anchor, first, last, previous, next_month)

    @property
    def days(self) -> list[date]:
        return [self.first + timedelta(days=n) for n in range((self.last - self.first).days + 1)]

    @property
    def label(self) -> str:
        if self.view == MONTH:
            return f"{self.anchor:%B %Y}"
        first, last = self.first, self.last
        if first.year != last.year:
            return f"{first.day} {first:%b %Y} – {last.day} {last:%b %Y}"
        if first.month != last.month:
            return f"{first.day} {first:%b} – {last.day} {last:%b %Y}"
        return f"{first.day} – {last.day} {last:%B %Y}"

    def contains(self, day: date) -> bool:
        """Whether `day` belongs to the month or week itself (not a neighbour's day)."""
        return self.view == WEEK or (day.year, day.month) == (self.anchor.year, self.anchor.month)


# --- What each day shows -------------------------------------------------------------------------


@dataclass
class DayEntry:
    """A change as one day shows it: its whole window, and whether it starts or ends that day."""

    entry: CalendarChange
    starts_here: bool
    ends_here: bool
    services: list[str]

    @property
    def change(self) -> Change:
        return self.entry.change


@dataclass
class DayBlackout:
    """A blackout window as one day shows it: whole day, or the hours it covers."""

    window: BlackoutWindow
    services: list[str]  # empty: every service
    starts_here: bool
    ends_here: bool

    @property
    def whole_day(self) -> bool:
        return not self.starts_here and not self.ends_here


@dataclass
class CalendarDay:
    day: date
    in_period: bool
    is_today: bool
    entries: list[DayEntry] = field(default_factory=list)
    blackouts: list[DayBlackout] = field(default_factory=list)


def _days_touched(start: datetime, end: datetime, zone: ZoneInfo) -> tuple[date, date]:
    """The first and last local day of the half-open window [start, end)."""
    return (
        start.astimezone(zone).date(),
        (end.astimezone(zone) - timedelta(microseconds=1)).date(),
    )


def _span(first: date, last: date, period: Period) -> Iterable[date]:
    day, stop = max(first, period.first), min(last, period.last)
    while day <= stop:
        yield day
        day += timedelta(days=1)


def build_days(
    *,
    period: Period,
    zone: ZoneInfo,
    today: date,
    changes: Sequence[CalendarChange],
    blackouts: Sequence[CalendarBlackout],
    service_names: dict[int, str],
) -> list[CalendarDay]:
    """Every day of the period with the changes and blackout windows touching it, in order."""
    days = {day: CalendarDay(day, period.contains(day), day == today) for day in period.days}
    for entry in changes:
        change = entry.change
        if change.planned_start is None or change.planned_end is None:
            continue  # the selection asks for windows overlapping the period: never so
        first, last = _days_touched(change.planned_start, change.planned_end, zone)
        names = sorted(service_names[sid] for sid in entry.service_ids if sid in service_names)
        for day in _span(first, last, period):
            days[day].entries.append(DayEntry(entry, day == first, day == last, names))
    for blackout in blackouts:
        window = blackout.window
        first, last = _days_touched(window.starts_at, window.ends_at, zone)
        names = sorted(service_names[sid] for sid in blackout.service_ids if sid in service_names)
        for day in _span(first, last, period):
            starts_here = day == first and window.starts_at > local_midnight(day, zone)
            ends_here = day == last and window.ends_at < local_midnight(
                day + timedelta(days=1), zone
            )
            days[day].blackouts.append(DayBlackout(window, names, starts_here, ends_here))
    return list(days.values())


def _weeks(days: list[CalendarDay]) -> list[list[CalendarDay]]:
    return [days[n : n + 7] for n in range(0, len(days), 7)]


def _on_service(
    changes: list[CalendarChange], blackouts: list[CalendarBlackout], service: Service | None
) -> tuple[list[CalendarChange], list[CalendarBlackout]]:
    """What the calendar shows: changes holding their window (closed ones are history, not
    schedule), narrowed to one service when asked; a window for every service stays."""
    changes = [entry for entry in changes if entry.change.status in CALENDAR_STATUSES]
    if service is None:
        return changes, blackouts
    return (
        [entry for entry in changes if service.pk in entry.service_ids],
        [b for b in blackouts if not b.service_ids or service.pk in b.service_ids],
    )


# --- The page -------------------------------------------------------------------------------------


class ChangeCalendarPage(TenantPageMixin, TemplateView):
    """GET: the calendar of a month or a week. POST: issue or revoke the member's feed token."""

    page_roles = STAFF
    template_name = "changes/calendar.html"

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        issued = request.session.get(ISSUED_FEED_SESSION_KEY)
        issued_url = ""
        if isinstance(issued, dict) and issued.get("tenant") == self.tenant.pk:
            # Shown once: gone from the session before the page is even rendered.
            del request.session[ISSUED_FEED_SESSION_KEY]
            issued_url = str(issued.get("url", ""))
        response = self.render_page(issued_url=issued_url)
        if issued_url:
            add_never_cache_headers(response)  # the page holds a credential
        return response

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        form = FeedTokenForm(request.POST)
        if not form.is_valid():
            return self.render_page(feed_form=form, status=400)
        if form.cleaned_data["op"] == CREATE_FEED:
            self.create_feed()
        else:
            self.revoke_feed(form.cleaned_data["token_id"])
        return redirect(f"{self.calendar_url(self.carried_query())}#subscribe")

    # --- Feed tokens ---

    def create_feed(self) -> None:
        issued = feeds.feed_token_issue(tenant=self.tenant, user=self.request.user)
        path = reverse(FEED_URL_NAME, kwargs={"tenant_slug": self.tenant.slug})
        url = self.request.build_absolute_uri(f"{path}?{urlencode({'token': issued.token})}")
        self.request.session[ISSUED_FEED_SESSION_KEY] = {"tenant": self.tenant.pk, "url": url}
        messages.success(
            self.request,
            "Created your calendar feed address. Copy it now: it is shown only once.",
        )

    def revoke_feed(self, token_id: int) -> None:
        user = self.request.user
        # Only the member's own token: another's id is as absent as one that never existed.
        if not feeds.feed_token_list(tenant=self.tenant, user=user).filter(pk=token_id).exists():
            raise Http404("No such calendar feed.")
        try:
            feeds.feed_token_revoke(tenant=self.tenant, user=user)
        except NotFoundError as error:  # revoked meanwhile, in another tab
            raise Http404(error.message) from error
        messages.success(self.request, "Revoked the calendar feed: its address works no more.")

    # --- Rendering ---

    def carried_query(self) -> dict[str, str]:
        """The calendar parameters of this request, for links and redirects back."""
        names = ("view", "date", "service", "tz")
        return {name: self.request.GET[name] for name in names if self.request.GET.get(name)}

    def calendar_url(self, query: dict[str, str]) -> str:
        path = reverse("changes:calendar", kwargs={"tenant_slug": self.tenant.slug})
        return f"{path}?{urlencode(query)}" if query else path

    def render_page(
        self, *, issued_url: str = "", feed_form: FeedTokenForm | None = None, status: int = 200
    ) -> HttpResponse:
        services = list(service_list(tenant=self.tenant).order_by("name", "id"))
        choices = [(service.slug, service.name) for service in services]
        query = CalendarQueryForm(self.request.GET, services=choices)
        context: dict[str, Any] = {
            "query": query,
            "views": VIEWS,
            "service_choices": choices,
            "feed_tokens": list(feeds.feed_token_list(tenant=self.tenant, user=self.request.user)),
            "issued_url": issued_url,
            "feed_form": feed_form,
            "form_action": self.request.get_full_path(),
        }
        if not query.is_valid():
            context["query_errors"] = [
                (query.fields[name].label or name, name, errors)
                for name, errors in query.errors.items()
            ]
            return self.render_to_response(self.get_context_data(**context), status=400)
        context.update(self.calendar_context(query.cleaned_data, services))
        return self.render_to_response(self.get_context_data(**context), status=status)

    def calendar_context(self, data: dict[str, Any], services: list[Service]) -> dict[str, Any]:
        zone = ZoneInfo(data["tz"]) if data["tz"] else tenant_time_zone(tenant=self.tenant)
        today = timezone.now().astimezone(zone).date()
        view = data["view"] or MONTH
        period = Period.of(view, data["date"] or today)
        service = next((s for s in services if s.slug == data["service"]), None)
        window = calendar_window(
            tenant=self.tenant,
            start=local_midnight(period.first, zone),
            end=local_midnight(period.last + timedelta(days=1), zone),
        )
        changes, blackouts = _on_service(window.changes, window.blackouts, service)
        days = build_days(
            period=period,
            zone=zone,
            today=today,
            changes=changes,
            blackouts=blackouts,
            service_names={s.pk: s.name for s in services},
        )
        carried = self.carried_query()

        def link(**changed: str) -> str:
            return self.calendar_url({**carried, **changed})

        return {
            "period": period,
            "zone_name": zone.key,
            "service": service,
            "days": days,
            "weeks": _weeks(days),
            "weekdays": [day.day for day in days[:7]],
            "change_count": len({entry.change.pk for entry in changes}),
            "conflict_count": sum(1 for entry in changes if entry.conflicts),
            "previous_url": link(date=period.previous.isoformat()),
            "next_url": link(date=period.next.isoformat()),
            "today_url": link(date=today.isoformat()),
            "view_urls": [
                (slug, label, link(view=slug, date=period.anchor.isoformat()), slug == view)
                for slug, label in VIEWS
            ],
        }
