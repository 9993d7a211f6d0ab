"""The change calendar: the changes and blackout windows of a time range, each change with what
stands in its way, and the same schedule as an iCalendar feed for calendar clients.

`changes.schedule.conflicts` answers for one change in a few queries; a calendar page shows many,
so `calendar_window` finds the conflicts of the whole page at once: a fixed number of queries
whatever the number of changes, then the same rules as `changes.schedule`, applied in memory
(tests/changes/test_schedule.py checks that both give the same answer).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Final

from django.db.models import QuerySet
from django.urls import NoReverseMatch, reverse
from icalendar import Calendar, Event

from changes.choices import CALENDAR_STATUSES, ChangeStatus
from changes.models import BlackoutService, BlackoutWindow, Change, ChangeService
from changes.schedule import BLACKOUT, CHANGE_OVERLAP, MAJOR_INCIDENT, Conflict
from incidents.choices import OPEN_STATUSES, Priority
from incidents.models import Incident
from itsm.catalog.models import Service
from itsm.tenancy.models import Tenant

# A longer range is refused by the API: the page would not be a calendar any more.
MAX_WINDOW: Final = timedelta(days=400)
# What the feed carries: every change holding the calendar, blackout windows back to this far.
FEED_STATUSES: Final = CALENDAR_STATUSES
FEED_BLACKOUT_HISTORY: Final = timedelta(days=90)
FEED_LIMIT: Final = 2000
BLACKOUT_CATEGORY: Final = "BLACKOUT"
CHANGE_CATEGORY: Final = "CHANGE"
# The calendar shows closed changes too (what was done then), besides those holding a window.
LISTED_STATUSES: Final = CALENDAR_STATUSES | {ChangeStatus.CLOSED}


@dataclass
class CalendarChange:
    change: Change
    service_ids: list[int]
    conflicts: list[Conflict] = field(default_factory=list)


@dataclass
class CalendarBlackout:
    window: BlackoutWindow
    service_ids: list[int]


@dataclass
class CalendarWindow:
    """What the calendar shows between `start` and `end`."""

    start: datetime
    end: datetime
    changes: list[CalendarChange]
    blackouts: list[CalendarBlackout]
    service_slugs: dict[int, str] = field(default_factory=dict)

    def slugs(self, service_ids: Iterable[int]) -> list[str]:
        return sorted(self.service_slugs[sid] for sid in service_ids if sid in self.service_slugs)


# --- Selection ----------------------------------------------------------------------------------


def calendar_changes(*, tenant: Tenant | int, start: datetime, end: datetime) -> QuerySet[Change]:
    """The tenant's changes holding the calendar (and closed ones) whose planned window overlaps
    [start, end), soonest first. Uses index changes_window."""
    return (
        Change.objects.for_tenant(tenant)
        .filter(status__in=LISTED_STATUSES, planned_start__lt=end, planned_end__gt=start)
        .select_related("owner", "implementer")
        .order_by("planned_start", "id")
    )


def calendar_blackouts(
    *, tenant: Tenant | int, start: datetime, end: datetime
) -> QuerySet[BlackoutWindow]:
    """The tenant's blackout windows overlapping [start, end). Uses index changes_blackout."""
    return (
        BlackoutWindow.objects.for_tenant(tenant)
        .filter(starts_at__lt=end, ends_at__gt=start)
        .order_by("starts_at", "id")
    )


def calendar_window(*, tenant: Tenant, start: datetime, end: datetime) -> CalendarWindow:
    """The calendar of [start, end) with each change's conflicts, in a fixed number of queries.

    Conflicts are those of `changes.schedule.conflicts`, for the changes that hold their window
    (awaiting approval, scheduled, implementing); a closed change has none.
    """
    changes = list(calendar_changes(tenant=tenant, start=start, end=end))
    services_of = _service_ids(tenant, ChangeService, [change.pk for change in changes])
    listed = [CalendarChange(change, services_of.get(change.pk, [])) for change in changes]
    blackouts = _blackouts_with_services(
        tenant, calendar_blackouts(tenant=tenant, start=start, end=end)
    )
    attach_conflicts(tenant, [entry for entry in listed if entry.change.status in FEED_STATUSES])
    service_ids = {sid for entry in listed for sid in entry.service_ids} | {
        sid for blackout in blackouts for sid in blackout.service_ids
    }
    slugs = dict(
        Service.objects.for_tenant(tenant).filter(pk__in=service_ids).values_list("pk", "slug")
        if service_ids
        else []
    )
    return CalendarWindow(start, end, listed, blackouts, slugs)


def _service_ids(
    tenant: Tenant | int, links: type[ChangeService] | type[BlackoutService], ids: Sequence[int]
) -> dict[int, list[int]]:
    """Service ids by owner (change or window) id, in one query over the link table."""
    if not ids:
        return {}
    owner = "change_id" if links is ChangeService else "window_id"
    rows = (
        links.objects.for_tenant(tenant)
        .filter(**{f"{owner}__in": ids})
        .order_by(owner, "service_id")
        .values_list(owner, "service_id")
    )
    result: dict[int, list[int]] = defaultdict(list)
    for owner_id, service_id in rows:
        result[owner_id].append(service_id)
    return result


def _blackouts_with_services(
    tenant: Tenant | int, windows: Iterable[BlackoutWindow]
) -> list[CalendarBlackout]:
    windows = list(windows)
    services_of = _service_ids(tenant, BlackoutService, [window.pk for window in windows])
    return [CalendarBlackout(window, services_of.get(window.pk, [])) for window in windows]


def attach_conflicts(tenant: Tenant, entries: list[CalendarChange]) -> None:
    """Fill in the conflicts of every entry: four queries for the lot."""
    entries = [e for e in entries if e.change.planned_start and e.change.planned_end]
    if not entries:
        return
    earliest = min(e.change.planned_start for e in entries if e.change.planned_start)
    latest = max(e.change.planned_end for e in entries if e.change.planned_end)
    all_services = {sid for e in entries for sid in e.service_ids}
    # Every change that could overlap one of the entries on one of their services.
    others = list(
        Change.objects.for_tenant(tenant)
        .filter(
            status__in=CALENDAR_STATUSES,
            planned_start__lt=latest,
            planned_end__gt=earliest,
            service_links__service_id__in=all_services,
        )
        .distinct()
        .order_by("planned_start", "id")
    )
    other_services = _service_ids(tenant, ChangeService, [other.pk for other in others])
    blackouts = _blackouts_with_services(
        tenant, calendar_blackouts(tenant=tenant, start=earliest, end=latest)
    )
    incidents = list(
        Incident.objects.for_tenant(tenant)
        .filter(
            status__in=OPEN_STATUSES,
            priority__in=[Priority.SEV1, Priority.SEV2],
            service_id__in=all_services,
        )
        .order_by("priority", "created_at")
    )
    for entry in entries:
        change, services = entry.change, set(entry.service_ids)
        assert change.planned_start is not None
        assert change.planned_end is not None
        start, end = change.planned_start, change.planned_end
        entry.conflicts = [
            *(
                _overlap(other)
                for other in others
                if other.pk != change.pk
                and services & set(other_services.get(other.pk, []))
                and _overlaps(start, end, other.planned_start, other.planned_end)
            ),
            *(
                _blackout(blackout.window)
                for blackout in blackouts
                if _overlaps(start, end, blackout.window.starts_at, blackout.window.ends_at)
                and (not blackout.service_ids or services & set(blackout.service_ids))
            ),
            *(_incident(incident) for incident in incidents if incident.service_id in services),
        ]


def _overlaps(
    start: datetime, end: datetime, other_start: datetime | None, other_end: datetime | None
) -> bool:
    # Half-open windows: touching ends do not overlap (as in changes.schedule).
    if other_start is None or other_end is None:
        return False
    return start < other_end and other_start < end


# The sentences are those of changes.schedule, so a change reads the same on both.
def _overlap(other: Change) -> Conflict:
    return Conflict(
        CHANGE_OVERLAP,
        f"{other.reference} changes the same service from {other.planned_start:%Y-%m-%d %H:%M} "
        f"to {other.planned_end:%Y-%m-%d %H:%M} UTC.",
        other.reference,
        other.planned_start,
        other.planned_end,
    )


def _blackout(window: BlackoutWindow) -> Conflict:
    return Conflict(
        BLACKOUT,
        f"The window overlaps the blackout window {window.name!r}: only an emergency change "
        "may be made then.",
        window.name,
        window.starts_at,
        window.ends_at,
    )


def _incident(incident: Incident) -> Conflict:
    return Conflict(
        MAJOR_INCIDENT,
        f"{incident.reference} ({incident.get_priority_display()}) is open on an affected service.",
        incident.reference,
    )


# --- The iCalendar feed -------------------------------------------------------------------------


def feed_changes(*, tenant: Tenant) -> QuerySet[Change]:
    """The changes a feed carries: those holding their window, with one, soonest first."""
    return (
        Change.objects.for_tenant(tenant)
        .filter(status__in=FEED_STATUSES, planned_start__isnull=False, planned_end__isnull=False)
        .order_by("planned_start", "id")[:FEED_LIMIT]
    )


def feed_blackouts(*, tenant: Tenant, now: datetime) -> QuerySet[BlackoutWindow]:
    """The blackout windows a feed carries: current and future, and recent past ones."""
    return (
        BlackoutWindow.objects.for_tenant(tenant)
        .filter(ends_at__gt=now - FEED_BLACKOUT_HISTORY)
        .order_by("starts_at", "id")[:FEED_LIMIT]
    )


def ical_feed(*, tenant: Tenant, now: datetime, base_url: str = "") -> bytes:
    """The tenant's change schedule as an iCalendar document (RFC 5545), times in UTC.

    One VEVENT per change (UID stable per change, so clients update it in place) and one per
    blackout window, marked with the BLACKOUT category.
    """
    calendar = Calendar()
    calendar.add("prodid", "-//ITSM//Change calendar//EN")
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("x-wr-calname", f"{tenant.name}: changes")
    stamp = now.astimezone(UTC)
    for change in feed_changes(tenant=tenant):
        calendar.add_component(_change_event(tenant, change, stamp, base_url))
    for window in feed_blackouts(tenant=tenant, now=now):
        calendar.add_component(_blackout_event(window, stamp))
    document: bytes = calendar.to_ical()
    return document


def _change_event(tenant: Tenant, change: Change, stamp: datetime, base_url: str) -> Event:
    assert change.planned_start is not None
    assert change.planned_end is not None
    event = Event()
    event.add("uid", f"change-{change.pk}@itsm")
    event.add("dtstamp", stamp)
    event.add("dtstart", change.planned_start.astimezone(UTC))
    event.add("dtend", change.planned_end.astimezone(UTC))
    event.add("summary", f"{change.reference} {change.title}")
    lines = [
        f"Type: {change.get_change_type_display()}",
        f"Risk: {change.get_risk_display() if change.risk else 'not assessed'}",
        f"Status: {change.get_status_display()}",
    ]
    url = _record_url(tenant, change, base_url)
    if url:
        lines.append(url)
        event.add("url", url)
    event.add("description", "\n".join(lines))
    event.add("categories", [CHANGE_CATEGORY])
    event.add(
        "status", "TENTATIVE" if change.status == ChangeStatus.AWAITING_APPROVAL else "CONFIRMED"
    )
    return event


def _blackout_event(window: BlackoutWindow, stamp: datetime) -> Event:
    event = Event()
    event.add("uid", f"blackout-{window.pk}@itsm")
    event.add("dtstamp", stamp)
    event.add("dtstart", window.starts_at.astimezone(UTC))
    event.add("dtend", window.ends_at.astimezone(UTC))
    event.add("summary", f"Blackout: {window.name}")
    if window.reason:
        event.add("description", window.reason)
    event.add("categories", [BLACKOUT_CATEGORY])
    event.add("transp", "OPAQUE")
    return event


def _record_url(tenant: Tenant, change: Change, base_url: str) -> str:
    """The change's workspace page, if the workspace has one (else nothing)."""
    try:
        path = reverse(
            "changes:detail", kwargs={"tenant_slug": tenant.slug, "reference": change.reference}
        )
    except NoReverseMatch:
        return ""
    return f"{base_url}{path}"
