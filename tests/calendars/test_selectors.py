"""calendar_schedule: the business schedule a calendar's rows describe."""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from itsm.calendars.business_time import BusinessSchedule
from itsm.calendars.models import Holiday, Weekday, WorkingPeriod
from itsm.calendars.selectors import calendar_schedule
from itsm.tenancy import rls
from tests.factories import BusinessCalendarFactory

BERLIN = ZoneInfo("Europe/Berlin")


def _period(calendar, weekday, starts_at, ends_at):
    return WorkingPeriod.objects.create(
        tenant=calendar.tenant,
        calendar=calendar,
        weekday=weekday,
        starts_at=starts_at,
        ends_at=ends_at,
    )


def _holiday(calendar, day, name=""):
    return Holiday.objects.create(tenant=calendar.tenant, calendar=calendar, date=day, name=name)


def test_no_calendar_is_24x7():
    schedule = calendar_schedule(calendar=None)

    assert schedule == BusinessSchedule(time_zone="UTC", hours=None)
    assert schedule.is_24x7


def test_calendar_without_periods_is_24x7_in_its_zone(tenant_a, django_assert_num_queries):
    calendar = BusinessCalendarFactory(tenant=tenant_a, time_zone="America/New_York")

    with rls.tenant_scope(tenant_a.pk), django_assert_num_queries(2):  # periods, holidays
        schedule = calendar_schedule(calendar=calendar)

    assert schedule == BusinessSchedule(time_zone="America/New_York", hours=None)
    assert schedule.is_24x7


def test_a_calendar_with_only_holidays_runs_round_the_clock_except_on_them(tenant_a):
    calendar = BusinessCalendarFactory(tenant=tenant_a, time_zone="Europe/Berlin")
    with rls.tenant_scope(tenant_a.pk):
        _holiday(calendar, date(2026, 12, 25), "Christmas Day")
        schedule = calendar_schedule(calendar=calendar)
    berlin = ZoneInfo("Europe/Berlin")
    eve = datetime(2026, 12, 24, 12, 0, tzinfo=berlin)
    # 12 h on the 24th, nothing on the 25th, then the 26th from midnight.
    assert schedule.add(eve, timedelta(hours=13)) == datetime(2026, 12, 26, 1, 0, tzinfo=berlin)
    assert schedule.between(eve, datetime(2026, 12, 26, 0, 0, tzinfo=berlin)) == timedelta(hours=12)


def test_periods_and_holidays_become_the_schedule(tenant_a, django_assert_num_queries):
    calendar = BusinessCalendarFactory(tenant=tenant_a, time_zone="Europe/Berlin")
    other = BusinessCalendarFactory(tenant=tenant_a, time_zone="Europe/Berlin")
    with rls.tenant_scope(tenant_a.pk):
        # Written out of order: the schedule lists each day's intervals by opening time.
        _period(calendar, Weekday.FRIDAY, time(22), time(6))  # overnight
        _period(calendar, Weekday.MONDAY, time(13), time(17))
        _period(calendar, Weekday.WEDNESDAY, time(8), time(0))  # to midnight
        _period(calendar, Weekday.MONDAY, time(9), time(12))
        _holiday(calendar, date(2026, 12, 25), "Christmas Day")
        _holiday(calendar, date(2026, 12, 23))
        _period(other, Weekday.TUESDAY, time(9), time(17))
        _holiday(other, date(2026, 12, 28))

    with rls.tenant_scope(tenant_a.pk), django_assert_num_queries(2):
        schedule = calendar_schedule(calendar=calendar)

    assert schedule == BusinessSchedule(
        time_zone="Europe/Berlin",
        hours={
            Weekday.MONDAY: [(time(9), time(12)), (time(13), time(17))],
            Weekday.WEDNESDAY: [(time(8), time(0))],
            Weekday.FRIDAY: [(time(22), time(6))],
        },
        holidays=frozenset({date(2026, 12, 23), date(2026, 12, 25)}),
    )
    # Monday 21 December 16:00 + 3 h: one hour on Monday, Wednesday and Friday are holidays,
    # two hours on Monday 28 December (not the other calendar's holiday).
    due = schedule.add(datetime(2026, 12, 21, 16, tzinfo=BERLIN), timedelta(hours=3))
    assert due.astimezone(UTC) == datetime(2026, 12, 28, 11, tzinfo=BERLIN).astimezone(UTC)


@pytest.mark.parametrize(
    ("time_zone", "hours"),
    [
        pytest.param("Europe/Berlin", 23, id="berlin"),
        pytest.param("America/New_York", 24, id="new-york"),  # changed two weeks before
    ],
)
def test_calendar_schedule_counts_real_hours_across_dst(tenant_a, time_zone, hours):
    calendar = BusinessCalendarFactory(tenant=tenant_a, time_zone=time_zone)
    with rls.tenant_scope(tenant_a.pk):
        _period(calendar, Weekday.SUNDAY, time(0), time(0))
        schedule = calendar_schedule(calendar=calendar)
    zone = ZoneInfo(time_zone)

    whole_sunday = schedule.between(
        datetime(2026, 3, 29, tzinfo=zone), datetime(2026, 3, 30, tzinfo=zone)
    )

    assert whole_sunday == timedelta(hours=hours)
