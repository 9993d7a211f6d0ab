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
    holidays = frozenset(calendar.holidays.values_list("date", flat=True))
    if not hours and not holidays:
        return BusinessSchedule(time_zone=calendar.time_zone)
    if not hours:  # round the clock, except on holidays
        hours = defaultdict(list, {day: [(time(0), time(0))] for day in range(7)})
    return BusinessSchedule(time_zone=calendar.time_zone, hours=dict(hours), holidays=holidays)
