"""Reads of business calendars."""

from __future__ import annotations

from collections import defaultdict
from datetime import time

from itsm.calendars.business_time import BusinessSchedule
from itsm.calendars.models import BusinessCalendar

TWENTY_FOUR_SEVEN = BusinessSchedule()


def calendar_schedule(*, calendar: BusinessCalendar | None) -> BusinessSchedule:
    """The schedule a calendar describes; no calendar, or one without periods, is 24×7."""
    if calendar is None:
        return TWENTY_FOUR_SEVEN
    hours: dict[int, list[tuple[time, time]]] = defaultdict(list)
    for weekday, starts_at, ends_at in calendar.periods.values_list(
        "weekday", "starts_at", "ends_at"
    ):
        hours[weekday].append((starts_at, ends_at))
    if not hours:
        return BusinessSchedule(time_zone=calendar.time_zone)
    holidays = frozenset(calendar.holidays.values_list("date", flat=True))
    return BusinessSchedule(time_zone=calendar.time_zone, hours=dict(hours), holidays=holidays)
