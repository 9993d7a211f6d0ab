"""Reads of business calendars."""

from __future__ import annotations

from collections import defaultdict
from datetime import time
from zoneinfo import ZoneInfo

from itsm.calendars.business_time import BusinessSchedule
from itsm.calendars.models import BusinessCalendar
from itsm.tenancy.models import Tenant

TWENTY_FOUR_SEVEN = BusinessSchedule()
UTC_ZONE = ZoneInfo("UTC")


def tenant_time_zone(*, tenant: Tenant | int) -> ZoneInfo:
    """The zone a tenant's local times are shown and entered in: that of its business
    calendars when they all share one, else UTC. A tenant has no time-zone setting of its own;
    its business calendars are where it says which local time it works in."""
    zones = set(
        BusinessCalendar.objects.for_tenant(tenant).values_list("time_zone", flat=True)[:50]
    )
    return ZoneInfo(zones.pop()) if len(zones) == 1 else UTC_ZONE


def calendar_schedule(*, calendar: BusinessCalendar | None) -> BusinessSchedule:
    """The schedule a calendar describes; no calendar, or one without periods, is 24×7."""
    if calendar is None:
        return TWENTY_FOUR_SEVEN
    hours: dict[int, list[tuple[time, time]]] = defaultdict(list)
    for weekday, starts_at, ends_at in calendar.periods.values_list(
        "weekday", "starts_at", "ends_at"
    ):
        hours[weekday].append((starts_at, ends_at))
    holidays = frozenset(calendar.holidays.values_list("date", flat=True))
    if not hours and not holidays:
        return BusinessSchedule(time_zone=calendar.time_zone)
    if not hours:  # round the clock, except on holidays
        hours = defaultdict(list, {day: [(time(0), time(0))] for day in range(7)})
    return BusinessSchedule(time_zone=calendar.time_zone, hours=dict(hours), holidays=holidays)
