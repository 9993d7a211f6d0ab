"""The change calendar page: month and week, the tenant's days, conflicts, blackout windows, the
service filter, bad parameters, and the calendar-feed subscription on it."""

import re
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from icalendar import Calendar

from changes.api.schedule import CalendarFeedTokenViewSet, ChangeCalendarViewSet
from changes.models import CalendarFeedToken
from changes.views.calendar import ChangeCalendarPage
from itsm.tenancy import rls
from itsm.tenancy.choices import STAFF_ROLES
from tests.changes.schedule_fixtures import (  # noqa: F401  (fixtures, re-exported)
    at,
    make_blackout,
    make_change,
    other_sched,
    sched,
)
from tests.factories import (
    BusinessCalendarFactory,
    MembershipFactory,
    ServiceFactory,
    UserFactory,
)


def calendar(schedule, query: str = "") -> str:
    return f"/t/{schedule.tenant.slug}/changes/calendar/{query}"


def as_user(client, user):
    client.force_login(user)
    return client


def days_of(html: str) -> dict[str, str]:
    """The HTML of each day cell (month) or day column (week), by ISO date."""
    body = html.split("</tbody>")[0] if "<tbody>" in html else html
    segments = body.split('data-day="')[1:]
    days = {segment[:10]: segment for segment in segments}
    if days:  # the week's last column ends with its list
        last = max(days)
        days[last] = days[last].split("</ol>")[0]
    return days


def shown_on(html: str, reference: str) -> list[str]:
    return sorted(day for day, cell in days_of(html).items() if reference in cell)


def feed_tokens(schedule):
    with rls.tenant_scope(schedule.tenant.pk):
        return list(CalendarFeedToken.objects.filter(tenant=schedule.tenant))


# --- Month and week ------------------------------------------------------------------------------


def test_the_month_lists_each_change_on_the_days_its_window_touches(sched, client):  # noqa: F811
    # Given a change within a day and one from one evening to the morning after the next day
    short = make_change(sched, at(6, 10), at(6, 12), title="Patch the relay", risk="high")
    long = make_change(sched, at(7, 22), at(9, 2), title="Move the database")

    # When an agent opens May 2030
    response = as_user(client, sched.agent).get(calendar(sched, "?date=2030-05-15"))

    # Then each is on its days, linked to its record, with its times, status and risk
    assert response.status_code == 200
    html = response.content.decode()
    assert shown_on(html, short.reference) == ["2030-05-06"]
    assert shown_on(html, long.reference) == ["2030-05-07", "2030-05-08", "2030-05-09"]
    cell = days_of(html)["2030-05-06"]
    assert f'href="/t/{sched.tenant.slug}/changes/{short.reference}/"' in cell
    assert "Patch the relay" in cell
    assert '<time datetime="2030-05-06T10:00:00+00:00">10:00</time>' in cell
    assert '<time datetime="2030-05-06T12:00:00+00:00">12:00</time>' in cell
    assert "Scheduled" in cell
    assert "High risk" in cell
    assert "Risk not assessed" in days_of(html)["2030-05-08"]
    # A month grid of whole weeks, Monday first, as a table with a caption and column headers
    assert min(days_of(html)) == "2030-04-29"
    assert max(days_of(html)) == "2030-06-02"
    assert "<caption" in html
    assert '<th scope="col"><abbr title="Monday">Mon</abbr></th>' in html
    assert '<h2 class="cal-period">May 2030</h2>' in html
    assert "Times in UTC." in html


def test_the_days_are_the_tenants_days(sched, client):  # noqa: F811
    # Given a tenant working in Tokyo (UTC+9) and a change from 23:00 to 01:00 there, which in
    # UTC is within one day, and one that is a morning in Tokyo but the day before in UTC
    BusinessCalendarFactory(tenant=sched.tenant, time_zone="Asia/Tokyo")
    midnight = make_change(sched, at(6, 14), at(6, 16), title="Across midnight")
    morning = make_change(sched, at(6, 20), at(6, 22), title="Tokyo morning")
    as_user(client, sched.agent)

    # When the calendar is shown in the tenant's zone
    html = client.get(calendar(sched, "?date=2030-05-06")).content.decode()

    # Then the days and times are Tokyo's
    assert "Times in Asia/Tokyo." in html
    assert shown_on(html, midnight.reference) == ["2030-05-06", "2030-05-07"]
    assert shown_on(html, morning.reference) == ["2030-05-07"]
    first = days_of(html)["2030-05-06"]
    assert '<time datetime="2030-05-06T23:00:00+09:00">23:00</time>' in first
    assert '<time datetime="2030-05-07T01:00:00+09:00">7 May 01:00</time>' in first
    second = days_of(html)["2030-05-07"]
    assert "continued from" in second
    assert '<time datetime="2030-05-07T01:00:00+09:00">01:00</time>' in second

    # And asked for in UTC, they fall on UTC's days
    utc = client.get(calendar(sched, "?date=2030-05-06&tz=UTC")).content.decode()
    assert shown_on(utc, midnight.reference) == ["2030-05-06"]
    assert shown_on(utc, morning.reference) == ["2030-05-06"]


def test_the_week_shows_seven_days_with_times(sched, client):  # noqa: F811
    monday = make_change(sched, at(6, 10), at(6, 12), title="In the week")
    sunday_night = make_change(sched, at(12, 23), at(13, 1), title="Into the next week")
    next_week = make_change(sched, at(14, 10), at(14, 12), title="Next week")

    response = as_user(client, sched.agent).get(calendar(sched, "?view=week&date=2030-05-08"))

    assert response.status_code == 200
    html = response.content.decode()
    assert sorted(days_of(html)) == [f"2030-05-{day:02}" for day in range(6, 13)]
    assert shown_on(html, monday.reference) == ["2030-05-06"]
    assert shown_on(html, sunday_night.reference) == ["2030-05-12"]
    assert next_week.reference not in html
    assert '<h2 class="cal-period">6 – 12 May 2030</h2>' in html
    assert '<time datetime="2030-05-06">Monday 6 May</time>' in html
    assert '<time datetime="2030-05-13T01:00:00+00:00">13 May 01:00</time>' in html
    assert '<ol class="cal-week"' in html


def test_previous_and_next_keep_the_view_and_the_filters(sched, client):  # noqa: F811
    as_user(client, sched.agent)
    base = f"/t/{sched.tenant.slug}/changes/calendar/"

    month = client.get(calendar(sched, "?date=2030-05-15&service=mail")).content.decode()
    assert f'href="{base}?date=2030-04-01&amp;service=mail" rel="prev"' in month
    assert f'href="{base}?date=2030-06-01&amp;service=mail" rel="next"' in month
    today = timezone.now().date().isoformat()
    assert f'href="{base}?date={today}&amp;service=mail">Today</a>' in month
    assert f'href="{base}?date=2030-05-15&amp;service=mail&amp;view=week"' in month

    week = client.get(calendar(sched, "?view=week&date=2030-05-08")).content.decode()
    assert f'href="{base}?view=week&amp;date=2030-05-01" rel="prev"' in week
    assert f'href="{base}?view=week&amp;date=2030-05-15" rel="next"' in week

    # January's previous month is last year's December
    january = client.get(calendar(sched, "?date=2031-01-31")).content.decode()
    assert f'href="{base}?date=2030-12-01" rel="prev"' in january
    assert f'href="{base}?date=2031-02-01" rel="next"' in january


def test_without_a_date_the_calendar_shows_today_in_the_tenants_zone(sched, client):  # noqa: F811
    BusinessCalendarFactory(tenant=sched.tenant, time_zone="America/New_York")
    html = as_user(client, sched.agent).get(calendar(sched)).content.decode()
    today = timezone.now().astimezone(ZoneInfo("America/New_York")).date().isoformat()
    assert re.search(rf'data-day="{today}" aria-current="date"', html)
    assert "Times in America/New_York." in html


def test_the_service_filter_narrows_changes_and_blackout_windows(sched, client):  # noqa: F811
    mail = make_change(sched, at(6, 10), at(6, 12), title="Mail work")
    web = make_change(sched, at(6, 10), at(6, 12), title="Web work", services=[sched.web])
    make_blackout(sched, at(20, 0), at(21, 0), services=[sched.mail], name="Mail freeze")
    make_blackout(sched, at(22, 0), at(23, 0), name="Everything freeze")

    html = as_user(client, sched.agent).get(calendar(sched, "?date=2030-05-06&service=web"))
    html = html.content.decode()

    assert web.reference in html
    assert mail.reference not in html
    assert "Mail freeze" not in html
    assert "Everything freeze" in html
    assert '<h2 class="cal-period">May 2030 · Web</h2>' in html
    assert '<option value="web" selected>Web</option>' in html


def test_overlapping_changes_on_a_service_are_marked_and_touching_ones_are_not(
    sched,  # noqa: F811
    client,
):
    # Given two overlapping changes on mail, and two on web that only touch (10-12, 12-14)
    first = make_change(sched, at(6, 10), at(6, 12))
    second = make_change(sched, at(6, 11), at(6, 13))
    before = make_change(sched, at(7, 10), at(7, 12), services=[sched.web])
    after = make_change(sched, at(7, 12), at(7, 14), services=[sched.web])

    html = as_user(client, sched.agent).get(calendar(sched, "?date=2030-05-06")).content.decode()

    # Then the overlapping ones carry the mark and the sentence naming the other
    day = days_of(html)["2030-05-06"]
    assert day.count('class="cal-entry has-conflicts"') == 2
    assert day.count('<span class="conflict-mark" aria-hidden="true">⚠</span> 1 conflict<') == 2
    assert f"{second.reference} changes the same service from 2030-05-06 11:00" in day
    assert f"{first.reference} changes the same service from 2030-05-06 10:00" in day
    # And the touching ones do not
    touching = days_of(html)["2030-05-07"]
    assert before.reference in touching
    assert after.reference in touching
    assert "has-conflicts" not in touching
    assert "conflict-mark" not in touching
    assert "2 changes, 2 with conflicts" not in html
    assert "4 changes, 2 with conflicts." in html


def test_a_blackout_window_shades_its_days_with_its_name(sched, client):  # noqa: F811
    make_blackout(sched, at(9, 0), at(10, 12), name="Quarter close")
    make_blackout(sched, at(20, 8), at(20, 18), services=[sched.mail], name="Mail move")
    inside = make_change(sched, at(9, 10), at(9, 11))

    html = as_user(client, sched.agent).get(calendar(sched, "?date=2030-05-06")).content.decode()

    days = days_of(html)
    assert 'class="cal-day in-blackout"' in html
    assert days["2030-05-09"].startswith('2030-05-09"')
    for day in ("2030-05-09", "2030-05-10"):
        assert "Quarter close" in days[day]
        assert "(all services)" in days[day]
    assert '<span class="visually-hidden">, all day</span>' in days["2030-05-09"]
    assert 'until <time datetime="2030-05-10T12:00:00+00:00">12:00</time>' in days["2030-05-10"]
    assert "Quarter close" not in days["2030-05-11"]
    assert "Mail move" in days["2030-05-20"]
    assert "(Mail)" in days["2030-05-20"]
    assert 'from <time datetime="2030-05-20T08:00:00+00:00">08:00</time>' in days["2030-05-20"]
    # The change inside it is marked with the blackout conflict
    assert "overlaps the blackout window &#x27;Quarter close&#x27;" in days["2030-05-09"]
    assert inside.reference in days["2030-05-09"]
    # The cells themselves say it, for the grid's shading
    assert re.search(r'class="cal-day in-blackout" data-day="2030-05-09"', html)
    assert re.search(r'class="cal-day" data-day="2030-05-11"', html)


def test_only_changes_holding_their_window_in_this_tenant_are_shown(
    sched,  # noqa: F811
    other_sched,  # noqa: F811
    client,
):
    shown = {
        status: make_change(sched, at(6, 10), at(6, 12), status=status, title=f"Shown {status}")
        for status in ("awaiting_approval", "scheduled", "implementing")
    }
    hidden = [
        make_change(sched, at(6, 10), at(6, 12), status=status, title=f"Hidden {status}")
        for status in ("draft", "assessment", "review", "closed", "cancelled")
    ]
    theirs = make_change(other_sched, at(6, 10), at(6, 12), title="Their change")
    make_blackout(other_sched, at(6, 0), at(7, 0), name="Their freeze")

    html = as_user(client, sched.agent).get(calendar(sched, "?date=2030-05-06")).content.decode()

    for change in shown.values():
        assert change.title in html
    for change in hidden:
        assert change.title not in html
    assert "Their change" not in html
    assert "Their freeze" not in html
    assert theirs.title not in html
    # And the other tenant's calendar is absent to this member
    assert client.get(calendar(other_sched)).status_code == 404


def test_an_empty_period_says_so(sched, client):  # noqa: F811
    make_change(sched, at(6, 10), at(6, 12))
    html = as_user(client, sched.agent).get(calendar(sched, "?view=week&date=2030-06-12"))
    html = html.content.decode()
    assert "No change is scheduled in this week." in html
    assert "0 changes." in html


@pytest.mark.parametrize(
    ("query", "name", "why"),
    [
        ("?date=2030-02-30", "date", "Give a real day as YYYY-MM-DD"),
        ("?date=tomorrow", "date", "Give a real day as YYYY-MM-DD"),
        ("?date=0001-01-01", "date", "Choose a day between 1900-01-01 and 2999-12-31."),
        ("?view=year", "view", "Choose “month” or “week”, not “year”."),
        ("?service=printers", "service", "There is no service “printers” in this workspace."),
        ("?tz=Mars/Olympus", "tz", "“Mars/Olympus” is not a time zone"),
        ("?tz=../../etc/passwd", "tz", "is not a time zone"),
    ],
)
def test_a_bad_parameter_is_a_400_page_naming_it(sched, client, query, name, why):  # noqa: F811
    response = as_user(client, sched.agent).get(calendar(sched, query))
    assert response.status_code == 400
    html = response.content.decode()
    assert "The calendar cannot be shown" in html
    assert f"<code>{name}</code>" in html
    assert why in html
    assert "cal-month" not in html


def test_another_tenants_service_is_a_bad_parameter(sched, other_sched, client):  # noqa: F811
    ServiceFactory(tenant=other_sched.tenant, slug="theirs", name="Theirs")
    response = as_user(client, sched.agent).get(calendar(sched, "?service=theirs"))
    assert response.status_code == 400
    assert "Theirs" not in response.content.decode()


def test_requesters_are_refused_and_visitors_sent_to_log_in(sched, client):  # noqa: F811
    make_change(sched, at(6, 10), at(6, 12), title="Secret plan")
    assert client.get(calendar(sched)).status_code == 302
    response = as_user(client, sched.requester).get(calendar(sched, "?date=2030-05-06"))
    assert response.status_code == 403
    assert "Secret plan" not in response.content.decode()
    refused = client.post(calendar(sched), {"op": "create-feed"})
    assert refused.status_code == 403
    assert feed_tokens(sched) == []


def test_the_roles_are_the_apis():
    assert ChangeCalendarPage.page_roles == ChangeCalendarViewSet.action_roles["list"]
    assert ChangeCalendarPage.page_roles == CalendarFeedTokenViewSet.action_roles["create"]
    assert ChangeCalendarPage.page_roles == CalendarFeedTokenViewSet.action_roles["revoke"]


@pytest.mark.parametrize("role", sorted(STAFF_ROLES))
def test_every_staff_role_sees_the_calendar_and_may_subscribe(sched, client, role):  # noqa: F811
    user = MembershipFactory(tenant=sched.tenant, role=role, user=UserFactory()).user
    as_user(client, user)
    assert client.get(calendar(sched)).status_code == 200
    assert client.post(calendar(sched), {"op": "create-feed"}).status_code == 302
    assert [token.user_id for token in feed_tokens(sched)] == [user.pk]


def test_the_page_costs_the_same_with_1_or_15_changes(
    sched,  # noqa: F811
    client,
    django_assert_max_num_queries,
):
    # Given a blackout window, a member with a feed token and one change in the window (so
    # that the conflict check has a window's services to read, as with many)
    make_blackout(sched, at(6, 0), at(10, 0), name="Freeze")
    as_user(client, sched.agent).post(calendar(sched), {"op": "create-feed"})
    client.get(calendar(sched))  # the issued address is shown and forgotten
    make_change(sched, at(6, 10), at(6, 12), services=[sched.mail, sched.web])
    url = calendar(sched, "?date=2030-05-06")
    with CaptureQueriesContext(connection) as one:
        assert client.get(url).status_code == 200

    # When 14 more, overlapping each other and the window, on both services
    for n in range(14):
        make_change(sched, at(1 + n, 22), at(3 + n, 2), services=[sched.mail, sched.web])

    # Then the page makes no more queries, in the month and in the week
    with django_assert_max_num_queries(len(one.captured_queries)):
        html = client.get(url).content.decode()
    assert html.count("has-conflicts") > 15
    with django_assert_max_num_queries(len(one.captured_queries)):
        assert client.get(f"{url}&view=week").status_code == 200


# --- The calendar feed subscription --------------------------------------------------------------


def test_creating_a_feed_shows_its_address_once_and_the_address_works(sched, client):  # noqa: F811
    change = make_change(sched, at(6, 10), at(6, 12), title="Patch mail")
    as_user(client, sched.agent)

    # When the agent creates a feed address
    response = client.post(calendar(sched, "?view=week&date=2030-05-06"), {"op": "create-feed"})

    # Then they are sent back to the calendar they were on, where the address is shown once
    assert response.status_code == 302
    assert response["Location"] == (
        f"/t/{sched.tenant.slug}/changes/calendar/?view=week&date=2030-05-06#subscribe"
    )
    page = client.get(response["Location"])
    html = page.content.decode()
    assert "shown only this once" in html
    assert "Keep it secret" in html
    assert "no-store" in page["Cache-Control"]
    [url] = re.findall(
        r'id="feed-url" class="cal-feed-url" type="text" readonly value="([^"]+)"', html
    )
    assert url.startswith(f"http://testserver/t/{sched.tenant.slug}/changes/calendar.ics?token=")
    [token] = feed_tokens(sched)
    assert token.user_id == sched.agent.pk
    assert "never" in html  # not used yet
    again = client.get(calendar(sched)).content.decode()
    assert "feed-url" not in again
    assert url not in again

    # And a calendar client, logged in as nobody, reads the schedule at that address
    feed = Client().get(url.removeprefix("http://testserver"))
    assert feed.status_code == 200
    events = Calendar.from_ical(feed.content).walk("VEVENT")
    assert [str(event["UID"]) for event in events] == [f"change-{change.pk}@itsm"]
    assert str(events[0]["SUMMARY"]) == f"{change.reference} Patch mail"
    assert events[0].decoded("DTSTART") == datetime(2030, 5, 6, 10, tzinfo=UTC)
    # Its use is shown on the page
    listed = client.get(calendar(sched)).content.decode()
    assert "Last used" in listed
    assert "never" not in listed.split('id="subscribe"')[1]


def test_revoking_the_feed_stops_its_address(sched, client):  # noqa: F811
    as_user(client, sched.agent).post(calendar(sched), {"op": "create-feed"})
    html = client.get(calendar(sched)).content.decode()
    [url] = re.findall(r'readonly value="http://testserver([^"]+)"', html)
    [token] = feed_tokens(sched)
    assert Client().get(url).status_code == 200

    response = client.post(calendar(sched), {"op": "revoke-feed", "token_id": str(token.pk)})

    assert response.status_code == 302
    assert feed_tokens(sched) == []
    assert Client().get(url).status_code == 404
    page = client.get(response["Location"]).content.decode()
    assert "Revoked the calendar feed" in page
    assert "You have no feed address." in page
    # Revoking it again finds nothing
    gone = client.post(calendar(sched), {"op": "revoke-feed", "token_id": str(token.pk)})
    assert gone.status_code == 404


def test_another_members_feed_cannot_be_revoked(sched, client):  # noqa: F811
    as_user(client, sched.change_manager).post(calendar(sched), {"op": "create-feed"})
    [theirs] = feed_tokens(sched)
    as_user(client, sched.agent).post(calendar(sched), {"op": "create-feed"})

    response = client.post(calendar(sched), {"op": "revoke-feed", "token_id": str(theirs.pk)})

    assert response.status_code == 404
    assert sorted(token.user_id for token in feed_tokens(sched)) == sorted(
        [sched.change_manager.pk, sched.agent.pk]
    )
    # And the page lists only the member's own
    page = client.get(calendar(sched)).content.decode()
    assert f'name="token_id" value="{theirs.pk}"' not in page


def test_another_tenants_feed_cannot_be_revoked(sched, other_sched, client):  # noqa: F811
    as_user(client, other_sched.agent).post(calendar(other_sched), {"op": "create-feed"})
    [theirs] = feed_tokens(other_sched)
    response = as_user(client, sched.agent).post(
        calendar(sched), {"op": "revoke-feed", "token_id": str(theirs.pk)}
    )
    assert response.status_code == 404
    assert len(feed_tokens(other_sched)) == 1


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({}, "Say what to do (op)."),
        ({"op": "delete-everything"}, "Unknown operation “delete-everything”."),
        ({"op": "revoke-feed"}, "Say which feed address to revoke."),
        ({"op": "revoke-feed", "token_id": "x"}, "Enter a whole number."),
    ],
)
def test_a_bad_feed_post_is_a_400_and_writes_nothing(sched, client, data, error):  # noqa: F811
    as_user(client, sched.agent).post(calendar(sched), {"op": "create-feed"})
    before = [(token.pk, token.digest) for token in feed_tokens(sched)]

    response = client.post(calendar(sched), data)

    assert response.status_code == 400
    assert error in response.content.decode()
    assert [(token.pk, token.digest) for token in feed_tokens(sched)] == before


def test_the_feed_lists_a_members_token_with_its_dates(sched, client):  # noqa: F811
    as_user(client, sched.agent).post(calendar(sched), {"op": "create-feed"})
    client.get(calendar(sched))
    [token] = feed_tokens(sched)
    html = client.get(calendar(sched)).content.decode()
    assert f'<time datetime="{token.updated_at.astimezone(UTC):%Y-%m-%dT%H:%M:%S}' in html
    assert "Replace with a new address" in html
