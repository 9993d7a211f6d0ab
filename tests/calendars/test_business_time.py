"""Business-time arithmetic: a table of exact cases, the errors, and properties that hold for
any schedule (hypothesis). Pure: no database.

Instants are compared in UTC: aware datetimes that share a zone compare by wall clock, and an
ambiguous local time never equals a datetime in another zone (PEP 495).
"""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from itsm.calendars.business_time import (
    MAX_SEARCH_DAYS,
    BusinessSchedule,
    NoWorkingTimeError,
    weekdays,
)

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
SYDNEY = ZoneInfo("Australia/Sydney")
SANTIAGO = ZoneInfo("America/Santiago")

WEDNESDAY, SATURDAY, SUNDAY = 2, 5, 6


def instant(moment: datetime) -> datetime:
    assert moment.utcoffset() is not None, "naive datetime"
    return moment.astimezone(UTC)


def at(zone: ZoneInfo, month: int, day: int, hour: int = 0, minute: int = 0, *, fold: int = 0):
    """A local time in 2026."""
    return datetime(2026, month, day, hour, minute, tzinfo=zone, fold=fold)


def hours(count: float) -> timedelta:
    return timedelta(hours=count)


def whole_sundays(zone: str) -> BusinessSchedule:
    return BusinessSchedule(zone, {SUNDAY: [(time(0), time(0))]})


def sunday_nights(zone: str) -> BusinessSchedule:
    return BusinessSchedule(zone, {SUNDAY: [(time(1), time(4))]})


OFFICE = BusinessSchedule("Europe/Berlin", weekdays(time(9), time(17)))
OFFICE_MAY_DAY = BusinessSchedule(OFFICE.time_zone, OFFICE.hours, frozenset({date(2026, 5, 1)}))
OFFICE_EASTER = BusinessSchedule(
    OFFICE.time_zone, OFFICE.hours, frozenset({date(2026, 4, 3), date(2026, 4, 6)})
)
LUNCH_BREAK = BusinessSchedule(
    "Europe/Berlin", {day: [(time(9), time(12)), (time(13), time(17))] for day in range(5)}
)
NIGHT_SHIFT = BusinessSchedule("Europe/Berlin", weekdays(time(22), time(6)))
NEW_YORK_OFFICE = BusinessSchedule("America/New_York", weekdays(time(9), time(17)))
SYDNEY_EASTER = BusinessSchedule(
    "Australia/Sydney",
    weekdays(time(9), time(17)),
    frozenset({date(2026, 4, 3), date(2026, 4, 6)}),  # Good Friday, Easter Monday
)
# Boundaries inside the spring-forward gap (02:00-03:00 does not exist on 2026-03-29).
BERLIN_GAP_BOUNDARIES = BusinessSchedule(
    "Europe/Berlin", {SUNDAY: [(time(1), time(2, 30)), (time(3), time(5))]}
)
BERLIN_GAP_OPENING = BusinessSchedule("Europe/Berlin", {SUNDAY: [(time(2, 30), time(5))]})
# Santiago springs forward at midnight: Sunday 2026-09-06 00:00 does not exist.
SANTIAGO_SATURDAY_EVENINGS = BusinessSchedule("America/Santiago", {SATURDAY: [(time(20), time(0))]})
TWENTY_FOUR_SEVEN = BusinessSchedule()
BERLIN_TWENTY_FOUR_SEVEN = BusinessSchedule("Europe/Berlin")


# --- A table of cases: add(start, duration) == due, and between(start, due) == duration ---------

ADD_CASES = [
    # Office hours, Berlin, Monday to Friday 09:00-17:00 (2026-06-10 is a Wednesday).
    pytest.param(OFFICE, at(BERLIN, 6, 10, 10), hours(3), at(BERLIN, 6, 10, 13), id="inside-hours"),
    pytest.param(
        OFFICE, at(BERLIN, 6, 10, 7, 30), hours(2), at(BERLIN, 6, 10, 11), id="before-opening"
    ),
    pytest.param(
        OFFICE, at(BERLIN, 6, 10, 18), hours(2), at(BERLIN, 6, 11, 11), id="after-closing"
    ),
    pytest.param(
        OFFICE, at(BERLIN, 6, 10, 15), hours(2), at(BERLIN, 6, 10, 17), id="ends-at-closing"
    ),
    pytest.param(
        OFFICE, at(BERLIN, 6, 12, 15), hours(4), at(BERLIN, 6, 15, 11), id="friday-into-monday"
    ),
    pytest.param(OFFICE, at(BERLIN, 6, 13, 12), hours(1), at(BERLIN, 6, 15, 10), id="from-weekend"),
    pytest.param(
        OFFICE_MAY_DAY,
        at(BERLIN, 4, 30, 16),
        hours(3),
        at(BERLIN, 5, 4, 11),
        id="holiday-on-next-working-day",
    ),
    pytest.param(
        OFFICE_MAY_DAY, at(BERLIN, 5, 1, 10), hours(1), at(BERLIN, 5, 4, 10), id="from-holiday"
    ),
    # Two intervals a day: 09:00-12:00 and 13:00-17:00.
    pytest.param(
        LUNCH_BREAK, at(BERLIN, 6, 10, 11), hours(2), at(BERLIN, 6, 10, 14), id="lunch-skipped"
    ),
    pytest.param(
        LUNCH_BREAK, at(BERLIN, 6, 10, 12, 30), hours(1), at(BERLIN, 6, 10, 14), id="from-lunch"
    ),
    pytest.param(
        LUNCH_BREAK, at(BERLIN, 6, 10, 9), hours(7), at(BERLIN, 6, 10, 17), id="lunch-whole-day"
    ),
    # Overnight: 22:00-06:00, from Monday to Friday night.
    pytest.param(
        NIGHT_SHIFT, at(BERLIN, 6, 10, 23), hours(4), at(BERLIN, 6, 11, 3), id="overnight"
    ),
    pytest.param(
        NIGHT_SHIFT, at(BERLIN, 6, 10, 23), hours(8), at(BERLIN, 6, 11, 23), id="overnight-next"
    ),
    pytest.param(
        NIGHT_SHIFT,
        at(BERLIN, 6, 13, 3),
        hours(4),
        at(BERLIN, 6, 15, 23),
        id="overnight-friday-shift-on-saturday",
    ),
    # Europe/Berlin: 2026-03-29 has 23 hours, 2026-10-25 has 25.
    pytest.param(
        whole_sundays("Europe/Berlin"),
        at(BERLIN, 3, 29),
        hours(23),
        at(BERLIN, 3, 30),
        id="berlin-spring-forward-whole-day",
    ),
    pytest.param(
        whole_sundays("Europe/Berlin"),
        at(BERLIN, 3, 29),
        hours(24),
        at(BERLIN, 4, 5, 1),
        id="berlin-spring-forward-day-has-no-24th-hour",
    ),
    pytest.param(
        whole_sundays("Europe/Berlin"),
        at(BERLIN, 10, 25),
        hours(25),
        at(BERLIN, 10, 26),
        id="berlin-fall-back-whole-day",
    ),
    pytest.param(
        sunday_nights("Europe/Berlin"),
        at(BERLIN, 3, 29),
        hours(2),
        datetime(2026, 3, 29, 2, tzinfo=UTC),  # 04:00 CEST
        id="berlin-spring-forward-01-04",
    ),
    pytest.param(
        sunday_nights("Europe/Berlin"),
        at(BERLIN, 3, 29),
        hours(1.5),
        datetime(2026, 3, 29, 1, 30, tzinfo=UTC),  # 03:30 CEST
        id="berlin-spring-forward-01-04-through-gap",
    ),
    pytest.param(
        sunday_nights("Europe/Berlin"),
        at(BERLIN, 10, 25),
        hours(4),
        datetime(2026, 10, 25, 3, tzinfo=UTC),  # 04:00 CET
        id="berlin-fall-back-01-04",
    ),
    pytest.param(
        sunday_nights("Europe/Berlin"),
        at(BERLIN, 10, 25),
        hours(1.5),
        at(BERLIN, 10, 25, 2, 30, fold=0),  # the first 02:30, CEST
        id="berlin-fall-back-first-0230",
    ),
    pytest.param(
        sunday_nights("Europe/Berlin"),
        at(BERLIN, 10, 25),
        hours(2.5),
        at(BERLIN, 10, 25, 2, 30, fold=1),  # the second 02:30, CET
        id="berlin-fall-back-second-0230",
    ),
    pytest.param(
        BERLIN_GAP_BOUNDARIES,
        at(BERLIN, 3, 29),
        hours(1),
        at(BERLIN, 3, 29, 3),  # 01:00-02:30 is one real hour: the clock jumps at 02:00
        id="berlin-gap-closing-is-the-change",
    ),
    pytest.param(
        BERLIN_GAP_BOUNDARIES,
        at(BERLIN, 3, 29),
        hours(3),
        at(BERLIN, 3, 29, 5),
        id="berlin-gap-closing-then-next-interval",
    ),
    pytest.param(
        BERLIN_GAP_OPENING,
        at(BERLIN, 3, 29),
        hours(1),
        at(BERLIN, 3, 29, 4),  # 02:30 does not exist: work starts when the clock shows 03:00
        id="berlin-gap-opening-is-the-change",
    ),
    pytest.param(
        SANTIAGO_SATURDAY_EVENINGS,
        at(SANTIAGO, 9, 5, 20),
        hours(4),
        at(SANTIAGO, 9, 6, 1),  # midnight does not exist; 01:00 -03 is four hours later
        id="santiago-spring-forward-at-midnight",
    ),
    # America/New_York: 2026-03-08 springs forward, 2026-11-01 falls back.
    pytest.param(
        NEW_YORK_OFFICE,
        at(NEW_YORK, 3, 6, 16),
        hours(2),
        datetime(2026, 3, 9, 14, tzinfo=UTC),  # Monday 10:00 EDT
        id="new-york-spring-forward-weekend",
    ),
    pytest.param(
        NEW_YORK_OFFICE,
        at(NEW_YORK, 10, 30, 16),
        hours(2),
        datetime(2026, 11, 2, 15, tzinfo=UTC),  # Monday 10:00 EST
        id="new-york-fall-back-weekend",
    ),
    pytest.param(
        whole_sundays("America/New_York"),
        at(NEW_YORK, 3, 8),
        hours(23),
        at(NEW_YORK, 3, 9),
        id="new-york-spring-forward-whole-day",
    ),
    pytest.param(
        whole_sundays("America/New_York"),
        at(NEW_YORK, 11, 1),
        hours(25),
        at(NEW_YORK, 11, 2),
        id="new-york-fall-back-whole-day",
    ),
    pytest.param(
        sunday_nights("America/New_York"),
        at(NEW_YORK, 3, 8),
        hours(2),
        datetime(2026, 3, 8, 8, tzinfo=UTC),  # 04:00 EDT
        id="new-york-spring-forward-01-04",
    ),
    pytest.param(
        sunday_nights("America/New_York"),
        at(NEW_YORK, 11, 1),
        hours(4),
        datetime(2026, 11, 1, 9, tzinfo=UTC),  # 04:00 EST
        id="new-york-fall-back-01-04",
    ),
    # Australia/Sydney: falls back on 2026-04-05 (Easter Sunday), springs forward on 2026-10-04.
    pytest.param(
        SYDNEY_EASTER,
        at(SYDNEY, 4, 2, 16),
        hours(3),
        datetime(2026, 4, 7, 1, tzinfo=UTC),  # Tuesday 11:00 AEST
        id="sydney-easter-weekend-falls-back",
    ),
    pytest.param(
        whole_sundays("Australia/Sydney"),
        at(SYDNEY, 4, 5),
        hours(25),
        at(SYDNEY, 4, 6),
        id="sydney-fall-back-whole-day",
    ),
    pytest.param(
        whole_sundays("Australia/Sydney"),
        at(SYDNEY, 10, 4),
        hours(23),
        at(SYDNEY, 10, 5),
        id="sydney-spring-forward-whole-day",
    ),
    # A start given in another zone than the schedule's.
    pytest.param(
        OFFICE,
        at(NEW_YORK, 6, 10, 8),  # 14:00 in Berlin
        hours(4),
        at(BERLIN, 6, 11, 10),
        id="start-in-new-york",
    ),
    pytest.param(
        OFFICE,
        datetime(2026, 6, 10, 6, 30, tzinfo=UTC),  # 08:30 in Berlin
        hours(1),
        at(BERLIN, 6, 10, 10),
        id="start-in-utc",
    ),
    pytest.param(
        OFFICE,
        at(SYDNEY, 6, 15, 9),  # Monday 01:00 in Berlin, Sunday 23:00 UTC
        hours(1),
        at(BERLIN, 6, 15, 10),
        id="start-in-sydney-another-local-date",
    ),
    # 24x7: business time is elapsed time, whatever the wall clock does.
    pytest.param(
        TWENTY_FOUR_SEVEN,
        datetime(2026, 6, 13, 12, tzinfo=UTC),
        hours(30),
        datetime(2026, 6, 14, 18, tzinfo=UTC),
        id="24x7",
    ),
    pytest.param(
        BERLIN_TWENTY_FOUR_SEVEN,
        at(BERLIN, 3, 29),
        hours(24),
        at(BERLIN, 3, 30, 1),
        id="24x7-across-spring-forward",
    ),
    pytest.param(
        BERLIN_TWENTY_FOUR_SEVEN,
        at(BERLIN, 10, 25),
        hours(24),
        at(BERLIN, 10, 25, 23),
        id="24x7-across-fall-back",
    ),
    pytest.param(
        TWENTY_FOUR_SEVEN,
        at(NEW_YORK, 3, 7, 12),
        hours(24),
        at(NEW_YORK, 3, 8, 13),
        id="24x7-start-in-new-york-across-spring-forward",
    ),
    # Zero: inside hours the start itself, outside them the next opening.
    pytest.param(
        OFFICE, at(BERLIN, 6, 10, 10), timedelta(0), at(BERLIN, 6, 10, 10), id="zero-inside-hours"
    ),
    pytest.param(
        OFFICE, at(BERLIN, 6, 13, 12), timedelta(0), at(BERLIN, 6, 15, 9), id="zero-outside-hours"
    ),
    pytest.param(
        BERLIN_TWENTY_FOUR_SEVEN,
        at(BERLIN, 3, 29, 1),
        timedelta(0),
        at(BERLIN, 3, 29, 1),
        id="zero-24x7",
    ),
    # Exactly one working day, and many weeks.
    pytest.param(OFFICE, at(BERLIN, 6, 8, 9), hours(8), at(BERLIN, 6, 8, 17), id="one-working-day"),
    pytest.param(
        OFFICE,
        at(BERLIN, 6, 10, 13),
        hours(8),
        at(BERLIN, 6, 11, 13),
        id="one-working-day-from-midday",
    ),
    pytest.param(OFFICE, at(BERLIN, 6, 8, 9), hours(6 * 40), at(BERLIN, 7, 17, 17), id="six-weeks"),
    pytest.param(
        OFFICE_EASTER,
        at(BERLIN, 3, 2, 9),
        hours(25 * 8),  # 24 days to Thursday 2 April, Good Friday and Easter Monday off
        at(BERLIN, 4, 7, 17),
        id="five-weeks-across-dst-and-easter",
    ),
]


@pytest.mark.parametrize(("schedule", "start", "duration", "due"), ADD_CASES)
def test_add(schedule, start, duration, due):
    assert instant(schedule.add(start, duration)) == instant(due)


@pytest.mark.parametrize(("schedule", "start", "duration", "due"), ADD_CASES)
def test_between_measures_the_added_duration(schedule, start, duration, due):
    assert schedule.between(start, due) == duration


BETWEEN_CASES = [
    pytest.param(
        OFFICE, at(BERLIN, 6, 10, 12), at(BERLIN, 6, 10, 10), timedelta(0), id="end-before-start"
    ),
    pytest.param(OFFICE, at(BERLIN, 6, 10, 12), at(BERLIN, 6, 10, 12), timedelta(0), id="empty"),
    pytest.param(OFFICE, at(BERLIN, 6, 8), at(BERLIN, 6, 15), hours(40), id="whole-week"),
    pytest.param(
        OFFICE, at(BERLIN, 6, 12, 16), at(BERLIN, 6, 15, 10), hours(2), id="over-the-weekend"
    ),
    pytest.param(
        OFFICE_MAY_DAY, at(BERLIN, 4, 30), at(BERLIN, 5, 4), hours(8), id="holiday-not-counted"
    ),
    pytest.param(LUNCH_BREAK, at(BERLIN, 6, 10), at(BERLIN, 6, 11), hours(7), id="lunch-day"),
    pytest.param(
        LUNCH_BREAK, at(BERLIN, 6, 10, 11), at(BERLIN, 6, 10, 14), hours(2), id="across-lunch"
    ),
    pytest.param(NIGHT_SHIFT, at(BERLIN, 6, 8), at(BERLIN, 6, 15), hours(40), id="overnight-week"),
    pytest.param(
        NIGHT_SHIFT, at(BERLIN, 6, 13), at(BERLIN, 6, 14), hours(6), id="overnight-into-saturday"
    ),
    pytest.param(
        whole_sundays("Europe/Berlin"),
        at(BERLIN, 3, 28, 12),
        at(BERLIN, 3, 30, 12),
        hours(23),
        id="berlin-spring-forward-day",
    ),
    pytest.param(
        whole_sundays("Europe/Berlin"),
        at(BERLIN, 10, 24, 12),
        at(BERLIN, 10, 26, 12),
        hours(25),
        id="berlin-fall-back-day",
    ),
    pytest.param(
        sunday_nights("Europe/Berlin"),
        at(BERLIN, 3, 29),
        at(BERLIN, 3, 29, 12),
        hours(2),
        id="berlin-spring-forward-01-04",
    ),
    pytest.param(
        sunday_nights("Europe/Berlin"),
        at(BERLIN, 10, 25),
        at(BERLIN, 10, 25, 12),
        hours(4),
        id="berlin-fall-back-01-04",
    ),
    pytest.param(
        BERLIN_GAP_BOUNDARIES,
        at(BERLIN, 3, 29),
        at(BERLIN, 3, 30),
        hours(3),
        id="berlin-gap-boundaries",
    ),
    pytest.param(
        whole_sundays("America/New_York"),
        at(NEW_YORK, 3, 7),
        at(NEW_YORK, 3, 10),
        hours(23),
        id="new-york-spring-forward-day",
    ),
    pytest.param(
        whole_sundays("America/New_York"),
        at(NEW_YORK, 10, 31),
        at(NEW_YORK, 11, 3),
        hours(25),
        id="new-york-fall-back-day",
    ),
    pytest.param(
        sunday_nights("America/New_York"),
        at(NEW_YORK, 3, 8),
        at(NEW_YORK, 3, 9),
        hours(2),
        id="new-york-spring-forward-01-04",
    ),
    pytest.param(
        sunday_nights("America/New_York"),
        at(NEW_YORK, 11, 1),
        at(NEW_YORK, 11, 2),
        hours(4),
        id="new-york-fall-back-01-04",
    ),
    pytest.param(
        whole_sundays("Australia/Sydney"),
        at(SYDNEY, 4, 5),
        at(SYDNEY, 4, 6),
        hours(25),
        id="sydney-fall-back-day",
    ),
    pytest.param(
        whole_sundays("Australia/Sydney"),
        at(SYDNEY, 10, 4),
        at(SYDNEY, 10, 5),
        hours(23),
        id="sydney-spring-forward-day",
    ),
    pytest.param(
        OFFICE,
        at(NEW_YORK, 6, 10, 8),  # 14:00 in Berlin
        at(NEW_YORK, 6, 11, 4),  # 10:00 in Berlin
        hours(4),
        id="both-ends-in-another-zone",
    ),
    pytest.param(
        BERLIN_TWENTY_FOUR_SEVEN,
        at(BERLIN, 3, 29),
        at(BERLIN, 3, 30),
        hours(23),
        id="24x7-spring-forward-day",
    ),
    pytest.param(
        BERLIN_TWENTY_FOUR_SEVEN,
        at(BERLIN, 10, 25),
        at(BERLIN, 10, 26),
        hours(25),
        id="24x7-fall-back-day",
    ),
    pytest.param(
        TWENTY_FOUR_SEVEN,
        at(BERLIN, 6, 10, 12),
        at(NEW_YORK, 6, 10, 12),
        hours(6),
        id="24x7-mixed-zones",
    ),
    pytest.param(
        TWENTY_FOUR_SEVEN,
        at(BERLIN, 10, 25, 2, 30, fold=1),
        at(BERLIN, 10, 25, 2, 45, fold=0),  # wall clock later, but 45 minutes earlier
        timedelta(0),
        id="24x7-end-in-the-fold-before-start",
    ),
    pytest.param(
        OFFICE_EASTER,
        at(BERLIN, 3, 2),
        at(BERLIN, 4, 13),
        hours(6 * 40 - 2 * 8),
        id="six-weeks-with-easter",
    ),
]


@pytest.mark.parametrize(("schedule", "start", "end", "expected"), BETWEEN_CASES)
def test_between(schedule, start, end, expected):
    assert schedule.between(start, end) == expected


# --- Errors -------------------------------------------------------------------------------------


@pytest.mark.parametrize("schedule", [TWENTY_FOUR_SEVEN, OFFICE], ids=["24x7", "office"])
def test_negative_duration_is_refused(schedule):
    with pytest.raises(ValueError, match="must not be negative"):
        schedule.add(at(BERLIN, 6, 10, 10), -timedelta(seconds=1))


def _every_wednesday(first: date, years: int) -> frozenset[date]:
    return frozenset(first + timedelta(weeks=week) for week in range(years * 53))


def test_schedule_without_intervals_never_works():
    schedule = BusinessSchedule("Europe/Berlin", {})

    with pytest.raises(NoWorkingTimeError):
        schedule.add(at(BERLIN, 6, 10, 10), hours(1))


def test_working_day_that_is_always_a_holiday_never_works():
    schedule = BusinessSchedule(
        "Europe/Berlin",
        {WEDNESDAY: [(time(9), time(17))]},
        _every_wednesday(date(2026, 6, 10), years=4),
    )
    assert len(schedule.holidays) * 7 > MAX_SEARCH_DAYS

    with pytest.raises(NoWorkingTimeError):
        schedule.add(at(BERLIN, 6, 10, 10), hours(1))


def test_working_day_after_two_years_of_holidays_is_found():
    holidays = _every_wednesday(date(2026, 6, 10), years=2)
    schedule = BusinessSchedule("Europe/Berlin", {WEDNESDAY: [(time(9), time(17))]}, holidays)
    first_working_day = max(holidays) + timedelta(weeks=1)

    due = schedule.add(at(BERLIN, 6, 10, 10), hours(1))

    assert instant(due) == datetime.combine(first_working_day, time(10), tzinfo=BERLIN)


# --- Properties ---------------------------------------------------------------------------------

settings.register_profile("business-time", max_examples=200, deadline=None)
BUSINESS_TIME = settings.get_profile("business-time")

ZONES = (
    "Europe/Berlin",
    "Europe/London",
    "America/New_York",
    "America/Santiago",  # changes at midnight
    "Australia/Sydney",
    "Australia/Lord_Howe",  # a half-hour change
)
EPOCH = datetime(2025, 1, 1, tzinfo=UTC)
SECONDS_TO_2028 = int((datetime(2028, 1, 1, tzinfo=UTC) - EPOCH).total_seconds())
DAY = 24 * 3600
MIDNIGHT_MARK = 96  # quarter hours in a day


def _offset_change_days(name: str) -> list[datetime]:
    """The UTC start of every local day in 2025-2027 on which the zone changes its offset."""
    zone = ZoneInfo(name)
    changes = []
    day, previous = date(2025, 1, 1), None
    while day < date(2028, 1, 1):
        offset = datetime.combine(day, time(12), tzinfo=zone).utcoffset()
        if previous is not None and offset != previous:
            changes.append(datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC))
        day, previous = day + timedelta(days=1), offset
    return changes


OFFSET_CHANGE_DAYS = {name: _offset_change_days(name) for name in ZONES}

durations = st.integers(0, 30 * DAY).map(lambda seconds: timedelta(seconds=seconds))


# Half the marks fall between 01:00 and 04:00, where most zones change their clocks.
marks_of_day = st.one_of(st.integers(0, MIDNIGHT_MARK), st.integers(4, 16))


def _quarter(mark: int) -> time:
    """A quarter-hour mark of a day (0-96) as a wall-clock time; 96 is midnight, 00:00."""
    return time(mark // 4 % 24, mark % 4 * 15)


@st.composite
def _hours(draw):
    """1-5 working weekdays with 1-2 intervals each on the quarter hour; a day's last interval
    may run overnight, up to the next working day's first opening (never overlapping it)."""
    days = sorted(draw(st.sets(st.integers(0, 6), min_size=1, max_size=5)))
    marks = {}
    for day in days:
        count = draw(st.integers(1, 2))
        ordered = sorted(draw(st.sets(marks_of_day, min_size=2 * count, max_size=2 * count)))
        marks[day] = [(ordered[i], ordered[i + 1]) for i in range(0, 2 * count, 2)]
    hours = {day: [(_quarter(a), _quarter(b)) for a, b in marks[day]] for day in days}
    for day in days:
        if draw(st.integers(0, 3)) == 0:
            opens = marks[day][-1][0]
            following = marks.get((day + 1) % 7)
            latest = min(opens, following[0][0] if following else MIDNIGHT_MARK)
            hours[day][-1] = (_quarter(opens), _quarter(draw(st.integers(0, latest))))
    return hours


@st.composite
def scenarios(draw, *, shown_in_any_zone=True):
    """A schedule (24x7 one time in ten) and a start between 2025 and 2028, half the time close
    to a day its clocks change, where the arithmetic is hardest; holidays around the start."""
    zone = draw(st.sampled_from(ZONES))
    if draw(st.booleans()):
        start = EPOCH + timedelta(seconds=draw(st.integers(0, SECONDS_TO_2028)))
    else:
        change_day = draw(st.sampled_from(OFFSET_CHANGE_DAYS[zone]))
        start = change_day + timedelta(seconds=draw(st.integers(-3 * DAY, DAY)))
    if shown_in_any_zone:
        start = start.astimezone(ZoneInfo(draw(st.sampled_from((*ZONES, "UTC")))))
    if draw(st.integers(0, 9)) == 0:
        return BusinessSchedule(zone), start
    first = start.astimezone(ZoneInfo(zone)).date()
    offsets = draw(st.sets(st.integers(-1, 60), max_size=4))
    holidays = frozenset(first + timedelta(days=offset) for offset in offsets)
    return BusinessSchedule(zone, draw(_hours()), holidays), start


def _first_instant_showing(wall: datetime, zone: ZoneInfo) -> datetime:
    """Brute force: the first UTC quarter hour at which the wall clock shows `wall` or later
    (the offsets and changes of these zones all fall on quarter hours)."""
    moment = wall.replace(tzinfo=UTC) - timedelta(hours=15)  # before it, whatever the offset
    while moment.astimezone(zone).replace(tzinfo=None) < wall:
        moment += timedelta(minutes=15)
    return moment


def _working_time_by_brute_force(
    schedule: BusinessSchedule, start: datetime, end: datetime
) -> timedelta:
    if schedule.hours is None:
        return end - start
    zone, total = schedule.zone, timedelta(0)
    day = start.astimezone(zone).date() - timedelta(days=1)
    while day <= end.astimezone(zone).date():
        for opens_at, closes_at in (
            () if day in schedule.holidays else schedule.hours.get(day.weekday(), ())
        ):
            closes_on = day + timedelta(days=1) if closes_at <= opens_at else day
            opens = _first_instant_showing(datetime.combine(day, opens_at), zone)
            closes = _first_instant_showing(datetime.combine(closes_on, closes_at), zone)
            total += max(timedelta(0), min(closes, end) - max(opens, start))
        day += timedelta(days=1)
    return total


@BUSINESS_TIME
@given(scenario=scenarios(), duration=durations)
def test_between_undoes_add(scenario, duration):
    schedule, start = scenario

    due = schedule.add(start, duration)

    assert instant(due) >= instant(start)
    assert schedule.between(start, due) == duration


@BUSINESS_TIME
@given(scenario=scenarios(), shorter=durations, extra=durations)
def test_add_is_monotonic(scenario, shorter, extra):
    schedule, start = scenario

    assert instant(schedule.add(start, shorter)) <= instant(schedule.add(start, shorter + extra))


@BUSINESS_TIME
@given(scenario=scenarios(), real=durations)
def test_business_time_is_never_more_than_real_time(scenario, real):
    schedule, start = scenario
    end = (instant(start) + real).astimezone(start.tzinfo)  # the same zone: wall-clock traps

    business = schedule.between(start, end)

    assert timedelta(0) <= business <= real
    if schedule.is_24x7:
        assert business == real


@BUSINESS_TIME
@given(scenario=scenarios(), real=st.integers(0, 3 * DAY).map(lambda s: timedelta(seconds=s)))
def test_between_counts_what_the_wall_clock_shows(scenario, real):
    """An interval runs from the first instant the wall clock shows its opening time to the
    first it shows its closing time: an ambiguous time is its first occurrence, a skipped one
    the change itself."""
    schedule, start = scenario
    start = instant(start)
    # The random window, and one around every day in 2025-2027 the schedule's clocks change.
    windows = [(start, start + real)] + [
        (day - timedelta(days=1), day + timedelta(days=2))
        for day in OFFSET_CHANGE_DAYS[schedule.time_zone]
    ]

    for begin, end in windows:
        assert schedule.between(begin, end) == _working_time_by_brute_force(schedule, begin, end)


pauses = st.lists(
    st.tuples(durations, durations.map(lambda length: length / 3)),  # (run before, pause length)
    max_size=4,
)


@BUSINESS_TIME
@given(
    scenario=scenarios(shown_in_any_zone=False),
    target=st.integers(1, 30 * DAY).map(lambda seconds: timedelta(seconds=seconds)),
    pauses=pauses,
)
def test_due_time_is_target_plus_pauses(scenario, target, pauses):
    """The clock of incidents/sla.py: elapsed is counted at each pause, the due time is planned
    from the last resume; in business time it lies target + pauses after the start."""
    schedule, start = scenario
    elapsed = paused = timedelta(0)
    running_since = start
    for run, length in pauses:
        pause_at = running_since + run
        elapsed += schedule.between(running_since, pause_at)
        resume_at = pause_at + length
        paused += schedule.between(pause_at, resume_at)
        running_since = resume_at
    assume(target > elapsed)  # the due time is after the last resume

    due = schedule.add(running_since, target - elapsed)

    assert instant(due) > running_since
    assert schedule.between(start, due) == target + paused


def test_overlapping_periods_count_once():
    # An overnight shift Friday 22:00-06:00 and Saturday hours from 05:00 overlap for an hour.
    schedule = BusinessSchedule(
        time_zone="UTC", hours={4: [(time(22), time(6))], 5: [(time(5), time(9))]}
    )
    friday = datetime(2026, 11, 27, 22, 0, tzinfo=UTC)
    assert schedule.between(friday, datetime(2026, 11, 28, 9, 0, tzinfo=UTC)) == timedelta(hours=11)
    assert schedule.add(friday, timedelta(hours=11)) == datetime(2026, 11, 28, 9, 0, tzinfo=UTC)
