"""The change calendar's iCalendar feed and the feed token that opens it."""

from datetime import UTC, datetime

import pytest
from icalendar import Calendar

from changes.models import CalendarFeedToken
from itsm.tenancy import rls
from itsm.tenancy.models import Membership
from tests.changes.schedule_fixtures import (  # noqa: F401  (fixtures, re-exported)
    at,
    make_blackout,
    make_change,
    other_sched,
    sched,
)


def _issue(api_client, schedule, user=None):
    response = api_client(user or schedule.agent).post(schedule.url("calendar-feed-token/"))
    assert response.status_code == 201, response.content
    return response.json()


def _feed_path(schedule, token: str) -> str:
    return f"/t/{schedule.tenant.slug}/changes/calendar.ics?token={token}"


def _events(response):
    return Calendar.from_ical(response.content).walk("VEVENT")


def test_the_feed_lists_exactly_the_tenants_scheduled_changes(
    sched,  # noqa: F811
    other_sched,  # noqa: F811
    api_client,
    client,
):
    # Given changes in every status of this tenant, a blackout window, and another tenant's
    scheduled = make_change(sched, at(6, 10), at(6, 12), title="Patch mail", risk="high")
    implementing = make_change(sched, at(5, 10), at(5, 12), status="implementing")
    awaiting = make_change(sched, at(7, 10), at(7, 12), status="awaiting_approval")
    for status in ("draft", "assessment", "review", "closed", "cancelled"):
        make_change(sched, at(8, 10), at(8, 12), status=status)
    make_change(sched, None, None, status="assessment")
    freeze = make_blackout(sched, at(9, 0), at(10, 0), name="Freeze")
    make_change(other_sched, at(6, 10), at(6, 12))
    make_blackout(other_sched, at(9, 0), at(10, 0), name="Their freeze")
    issued = _issue(api_client, sched)

    # When a calendar client fetches the feed URL, logged in as nobody
    response = client.get(issued["feed_url"])

    # Then it is an iCalendar document with one event per scheduled change and blackout window
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    events = _events(response)
    assert sorted(str(event["UID"]) for event in events) == sorted(
        [
            f"change-{implementing.pk}@itsm",
            f"change-{scheduled.pk}@itsm",
            f"change-{awaiting.pk}@itsm",
            f"blackout-{freeze.pk}@itsm",
        ]
    )
    [event] = [e for e in events if str(e["UID"]) == f"change-{scheduled.pk}@itsm"]
    assert str(event["SUMMARY"]) == f"{scheduled.reference} Patch mail"
    assert event.decoded("DTSTART") == datetime(2030, 5, 6, 10, tzinfo=UTC)
    assert event.decoded("DTEND") == datetime(2030, 5, 6, 12, tzinfo=UTC)
    assert str(event["DESCRIPTION"]).splitlines()[:3] == [
        "Type: Normal",
        "Risk: High",
        "Status: Scheduled",
    ]
    [blackout] = [e for e in events if str(e["UID"]) == f"blackout-{freeze.pk}@itsm"]
    assert str(blackout["SUMMARY"]) == "Blackout: Freeze"
    assert [str(c) for c in blackout["CATEGORIES"].cats] == ["BLACKOUT"]


def test_the_feed_records_when_it_was_used(sched, api_client, client):  # noqa: F811
    issued = _issue(api_client, sched)

    assert client.get(issued["feed_url"]).status_code == 200

    with rls.tenant_scope(sched.tenant.pk):
        assert CalendarFeedToken.objects.get(user=sched.agent).last_used_at is not None


def test_only_a_digest_of_the_token_is_stored(sched, api_client):  # noqa: F811
    issued = _issue(api_client, sched)

    with rls.tenant_scope(sched.tenant.pk):
        stored = CalendarFeedToken.objects.get(user=sched.agent)
    assert issued["token"] not in stored.digest
    assert len(stored.digest) == 64
    assert issued["feed_url"].endswith(_feed_path(sched, issued["token"]))


def test_a_revoked_token_opens_nothing(sched, api_client, client):  # noqa: F811
    # Given a feed token, revoked
    issued = _issue(api_client, sched)
    revoked = api_client(sched.agent).delete(sched.url("calendar-feed-token/"))
    assert revoked.status_code == 204

    # Then the feed is absent, the row gone, and revoking again is a 404
    assert client.get(issued["feed_url"]).status_code == 404
    with rls.tenant_scope(sched.tenant.pk):
        assert not CalendarFeedToken.objects.exists()
    again = api_client(sched.agent).delete(sched.url("calendar-feed-token/"))
    assert again.status_code == 404


def test_issuing_again_replaces_the_token(sched, api_client, client):  # noqa: F811
    first = _issue(api_client, sched)
    second = _issue(api_client, sched)

    assert client.get(first["feed_url"]).status_code == 404
    assert client.get(second["feed_url"]).status_code == 200
    with rls.tenant_scope(sched.tenant.pk):
        assert CalendarFeedToken.objects.count() == 1


def test_another_tenants_token_opens_nothing_here(sched, other_sched, api_client, client):  # noqa: F811
    # Given a token of the other tenant
    theirs = _issue(api_client, other_sched)

    # Then it opens its own tenant's feed, not this tenant's
    assert client.get(_feed_path(other_sched, theirs["token"])).status_code == 200
    assert client.get(_feed_path(sched, theirs["token"])).status_code == 404


@pytest.mark.parametrize("token", ["", "not-a-token", "x" * 500])
def test_a_wrong_token_opens_nothing(sched, api_client, client, token):  # noqa: F811
    _issue(api_client, sched)

    assert client.get(_feed_path(sched, token)).status_code == 404
    assert client.get(f"/t/{sched.tenant.slug}/changes/calendar.ics").status_code == 404


def test_an_unknown_tenant_opens_nothing(sched, api_client, client):  # noqa: F811
    issued = _issue(api_client, sched)

    assert client.get(f"/t/nowhere/changes/calendar.ics?token={issued['token']}").status_code == 404


def test_a_member_who_left_loses_the_feed(sched, api_client, client):  # noqa: F811
    # Given a member's feed token, and then the member removed from the tenant
    issued = _issue(api_client, sched)
    with rls.tenant_scope(sched.tenant.pk):
        Membership.objects.filter(user=sched.agent).update(is_active=False)

    # Then the feed is absent
    assert client.get(issued["feed_url"]).status_code == 404


def test_requesters_get_no_feed_token(sched, api_client):  # noqa: F811
    response = api_client(sched.requester).post(sched.url("calendar-feed-token/"))

    assert response.status_code == 403
    with rls.tenant_scope(sched.tenant.pk):
        assert not CalendarFeedToken.objects.exists()


def test_a_token_is_the_callers_own(sched, api_client):  # noqa: F811
    # Given tokens of two members, when one revokes, the other's stays
    _issue(api_client, sched, sched.agent)
    _issue(api_client, sched, sched.change_manager)

    assert api_client(sched.agent).delete(sched.url("calendar-feed-token/")).status_code == 204

    with rls.tenant_scope(sched.tenant.pk):
        assert list(CalendarFeedToken.objects.values_list("user", flat=True)) == [
            sched.change_manager.pk
        ]
