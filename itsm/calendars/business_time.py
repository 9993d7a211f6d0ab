"""Business-time arithmetic: pure, no database.

A schedule is a time zone, working intervals per weekday (local wall-clock times) and holidays
(local dates). Business time is the real time that passes inside working intervals, so an
interval across a daylight-saving change counts the hours that actually pass. 24×7 is the
schedule with no intervals given: business time is then simply elapsed time.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

# A schedule with working hours finds its next working interval within this many days, or it
# has none at all (every day a holiday): refuse rather than loop.
MAX_SEARCH_DAYS = 3 * 366
_SECOND = timedelta(seconds=1)


class NoWorkingTimeError(ValueError):
    """The schedule never works: no due time can be computed."""


@dataclass(frozen=True)
class BusinessSchedule:
    """When the clock runs. `hours[weekday]` (Monday = 0) lists (start, end) local times; an end
    of 00:00 means midnight at the end of the day."""

    time_zone: str = "UTC"
    hours: Mapping[int, Sequence[tuple[time, time]]] | None = None  # None: 24×7
    holidays: frozenset[date] = field(default_factory=frozenset)

    @property
    def is_24x7(self) -> bool:
        return self.hours is None

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)

    def add(self, start: datetime, duration: timedelta) -> datetime:
        """The instant at which `duration` of business time has passed since `start`."""
        if duration < timedelta(0):
            raise ValueError("duration must not be negative")
        start = start.astimezone(UTC)  # aware arithmetic within one zone would be wall-clock
        if self.is_24x7:
            return start + duration
        remaining = duration
        for opens, closes in self._intervals_from(start):
            begin = max(opens, start)
            available = closes - begin
            if remaining <= available:
                return begin + remaining
            remaining -= available
        raise NoWorkingTimeError("The schedule has no working time.")  # pragma: no cover

    def between(self, start: datetime, end: datetime) -> timedelta:
        """Business time inside [start, end] (zero if end is not after start)."""
        start, end = start.astimezone(UTC), end.astimezone(UTC)  # compare instants, not walls
        if end <= start:
            return timedelta(0)
        if self.is_24x7:
            return end - start
        total = timedelta(0)
        for opens, closes in self._intervals_from(start):
            if opens >= end:
                break
            total += min(closes, end) - max(opens, start)
        return total

    def _intervals_from(self, start: datetime) -> Iterator[tuple[datetime, datetime]]:
        """Working intervals, as UTC instants in order and never overlapping, that end after
        `start`. Overlapping periods (an overnight shift running into the next morning's
        hours) are counted once."""
        zone = self.zone
        day = start.astimezone(zone).date() - timedelta(days=1)  # an interval may span midnight
        idle_days = 0
        covered_until = start
        while idle_days <= MAX_SEARCH_DAYS:
            found = False
            if day not in self.holidays:
                for opens_at, closes_at in sorted((self.hours or {}).get(day.weekday(), ())):
                    opens = _local(day, opens_at, zone)
                    closes = _local(
                        day + timedelta(days=1) if closes_at <= opens_at else day, closes_at, zone
                    )
                    if closes > covered_until and closes > opens:
                        found = True
                        yield max(opens, covered_until), closes
                        covered_until = closes
            idle_days = 0 if found else idle_days + 1
            day += timedelta(days=1)
        raise NoWorkingTimeError("The schedule has no working time.")


def _local(day: date, at: time, zone: ZoneInfo) -> datetime:
    """A local wall-clock time as a UTC instant (arithmetic on aware datetimes that share a
    zone is wall-clock arithmetic, wrong across DST): the first instant at which the wall clock
    shows that time or later. An ambiguous time (fall back) is its first occurrence. A time in a
    spring-forward gap never shows: it is the change itself, so intervals stay in order and an
    interval that ends in the gap ends when the clock jumps."""
    wall = datetime.combine(day, at)
    instant = wall.replace(tzinfo=zone).astimezone(UTC)
    if instant.astimezone(zone).replace(tzinfo=None) == wall:
        return instant
    # In a gap, fold=1 reads the time with the offset after the change (an instant before it)
    # and fold=0 with the offset before (an instant after it): bisect for the change, which
    # tzdata puts on a whole second.
    before = wall.replace(tzinfo=zone, fold=1).astimezone(UTC).replace(microsecond=0)
    after = instant.replace(microsecond=0)
    while after - before > _SECOND:
        middle = before + (after - before) // _SECOND // 2 * _SECOND
        if middle.astimezone(zone).replace(tzinfo=None) < wall:
            before = middle
        else:
            after = middle
    return after


def weekdays(
    start: time, end: time, days: Sequence[int] = (0, 1, 2, 3, 4)
) -> dict[int, list[tuple[time, time]]]:
    """Working hours from `start` to `end` on the given weekdays (default Monday to Friday)."""
    return {day: [(start, end)] for day in days}
