"""Conflicts of a change's window (changes.schedule and the calendar's batched twin) and the
calendar API: the changes and blackout windows of a range, each change with its conflicts."""

from datetime import UTC, datetime, timedelta, timezone

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from changes.calendar import calendar_window
from changes.schedule import BLACKOUT, CHANGE_OVERLAP, MAJOR_INCIDENT, blackouts, conflicts
from incidents.choices import Priority
from itsm.tenancy import rls
from tests.changes.schedule_fixtures import (  # noqa: F401  (fixtures, re-exported)
    at,
    make_blackout,
    make_change,
    other_sched,
    sched,
)
from tests.factories import IncidentFactory


def _conflicts(sched, change):  # noqa: F811
    """The change's conflicts, as changes.schedule finds them; the calendar finds the same."""
    with rls.tenant_scope(sched.tenant.pk):
        found = conflicts(change)
        window = calendar_window(
            tenant=sched.tenant, start=change.planned_start, end=change.planned_end
        )
    [entry] = [entry for entry in window.changes if entry.change.pk == change.pk]
    assert entry.conflicts == found
    return [(conflict.kind, conflict.reference) for conflict in found]


# --- Conflicts -----------------------------------------------------------------------------------


def test_overlapping_changes_on_one_service_conflict(sched):  # noqa: F811
    # Given two changes on the mail service, 10:00-11:00 and 10:30-12:00
    first = make_change(sched, at(6, 10), at(6, 11))
    second = make_change(sched, at(6, 10, 30), at(6, 12), status="awaiting_approval")

    # Then each warns of the other
    assert _conflicts(sched, first) == [(CHANGE_OVERLAP, second.reference)]
    assert _conflicts(sched, second) == [(CHANGE_OVERLAP, first.reference)]


def test_touching_windows_do_not_conflict(sched):  # noqa: F811
    # Given [10:00, 11:00) and [11:00, 12:00) on the same service
    first = make_change(sched, at(6, 10), at(6, 11))
    second = make_change(sched, at(6, 11), at(6, 12))

    # Then neither is in the other's way
    assert _conflicts(sched, first) == []
    assert _conflicts(sched, second) == []


def test_a_change_on_another_service_does_not_conflict(sched):  # noqa: F811
    # Given overlapping windows on mail and on web
    mail = make_change(sched, at(6, 10), at(6, 12))
    make_change(sched, at(6, 11), at(6, 13), services=[sched.web])

    # Then no conflict
    assert _conflicts(sched, mail) == []


@pytest.mark.parametrize("status", ["draft", "assessment", "review", "closed", "cancelled"])
def test_changes_not_holding_the_calendar_do_not_conflict(sched, status):  # noqa: F811
    # Given a scheduled change and an overlapping one that does not hold its window
    change = make_change(sched, at(6, 10), at(6, 12))
    make_change(sched, at(6, 10), at(6, 12), status=status)

    # Then no conflict
    assert _conflicts(sched, change) == []


def test_a_blackout_window_for_every_service_conflicts(sched):  # noqa: F811
    # Given a blackout of every service over the change's window
    window = make_blackout(sched, at(6, 0), at(7, 0), name="Month-end freeze")
    change = make_change(sched, at(6, 10), at(6, 12))

    # Then it is in the way, and blackouts() alone says so too
    assert _conflicts(sched, change) == [(BLACKOUT, "Month-end freeze")]
    with rls.tenant_scope(sched.tenant.pk):
        [found] = blackouts(change)
    assert (found.starts_at, found.ends_at) == (window.starts_at, window.ends_at)


def test_a_blackout_window_of_one_service_conflicts_only_with_that_service(sched):  # noqa: F811
    # Given a blackout of the web service only
    make_blackout(sched, at(6, 0), at(7, 0), services=[sched.web], name="Web launch")
    mail = make_change(sched, at(6, 10), at(6, 12))
    web = make_change(sched, at(6, 10), at(6, 12), services=[sched.web, sched.mail])

    # Then the web change is blocked, the mail change (and the two changes' overlap) aside
    assert _conflicts(sched, mail) == [(CHANGE_OVERLAP, web.reference)]
    assert _conflicts(sched, web) == [(CHANGE_OVERLAP, mail.reference), (BLACKOUT, "Web launch")]


def test_a_blackout_window_touching_the_change_does_not_conflict(sched):  # noqa: F811
    make_blackout(sched, at(6, 12), at(6, 18))
    change = make_change(sched, at(6, 10), at(6, 12))

    assert _conflicts(sched, change) == []


def test_an_open_major_incident_on_an_affected_service_conflicts(sched):  # noqa: F811
    # Given an open SEV1 on mail, a SEV1 on web, a resolved SEV1 and an open SEV3 on mail
    sev1 = IncidentFactory(tenant=sched.tenant, service=sched.mail, priority=Priority.SEV1)
    IncidentFactory(tenant=sched.tenant, service=sched.web, priority=Priority.SEV1)
    IncidentFactory(
        tenant=sched.tenant, service=sched.mail, priority=Priority.SEV1, status="resolved"
    )
    IncidentFactory(tenant=sched.tenant, service=sched.mail, priority=Priority.SEV3)
    change = make_change(sched, at(6, 10), at(6, 12))

    # Then only the open SEV1 on mail is in the way
    assert _conflicts(sched, change) == [(MAJOR_INCIDENT, sev1.reference)]


def test_windows_in_other_time_zones_are_compared_as_instants(sched):  # noqa: F811
    # Given a change entered as 12:30-13:30 at +02:00 (10:30-11:30 UTC) and one at 10:00-11:00 UTC
    plus_two = timezone(timedelta(hours=2))
    local = make_change(
        sched,
        datetime(2030, 5, 6, 12, 30, tzinfo=plus_two),
        datetime(2030, 5, 6, 13, 30, tzinfo=plus_two),
    )
    utc = make_change(sched, at(6, 10), at(6, 11))
    # and one at 13:00-14:00 +02:00 (11:00-12:00 UTC) after one at 10:00-11:00 UTC, on web
    touching = make_change(
        sched,
        datetime(2030, 5, 6, 13, 0, tzinfo=plus_two),
        datetime(2030, 5, 6, 14, 0, tzinfo=plus_two),
        services=[sched.web],
    )
    make_change(sched, at(6, 10), at(6, 11), services=[sched.web])

    # Then the first two conflict, the touching pair does not
    assert _conflicts(sched, local) == [(CHANGE_OVERLAP, utc.reference)]
    assert _conflicts(sched, utc) == [(CHANGE_OVERLAP, local.reference)]
    assert _conflicts(sched, touching) == []


def test_a_change_without_a_window_has_no_conflicts(sched):  # noqa: F811
    change = make_change(sched, None, None, status="assessment")
    make_blackout(sched, at(6, 0), at(7, 0))

    with rls.tenant_scope(sched.tenant.pk):
        assert conflicts(change) == []


def test_another_tenants_changes_and_blackouts_never_conflict(sched, other_sched):  # noqa: F811
    # Given the same window on a same-named service and a blackout in another tenant
    make_change(other_sched, at(6, 10), at(6, 12))
    make_blackout(other_sched, at(6, 0), at(7, 0))
    IncidentFactory(tenant=other_sched.tenant, service=other_sched.mail, priority=Priority.SEV1)
    change = make_change(sched, at(6, 10), at(6, 12))

    # Then this tenant's change has none
    assert _conflicts(sched, change) == []


# --- The calendar API ----------------------------------------------------------------------------


def _calendar(client, sched, start="2030-05-01T00:00:00Z", end="2030-06-01T00:00:00Z"):  # noqa: F811
    return client.get(sched.url("change-calendar/"), {"start": start, "end": end})


def test_the_calendar_lists_the_range_with_conflicts_and_blackouts(sched, api_client):  # noqa: F811
    # Given changes in May, one in June, a draft in May, a closed one in May, and blackouts
    first = make_change(sched, at(6, 10), at(6, 12), title="Patch mail", risk="low")
    second = make_change(sched, at(6, 11), at(6, 13), status="implementing", risk="high")
    closed = make_change(sched, at(2, 10), at(2, 11), status="closed", services=[sched.web])
    make_change(sched, at(20, 10), at(20, 11), status="draft")
    make_change(sched, datetime(2030, 6, 2, 10, tzinfo=UTC), datetime(2030, 6, 2, 11, tzinfo=UTC))
    freeze = make_blackout(sched, at(31, 20), datetime(2030, 6, 3, tzinfo=UTC), name="Freeze")
    make_blackout(sched, datetime(2030, 6, 5, tzinfo=UTC), datetime(2030, 6, 6, tzinfo=UTC))

    # When an agent reads May
    response = _calendar(api_client(sched.agent), sched)

    # Then May's changes (closed included, draft not) and the overlapping blackout are listed
    assert response.status_code == 200, response.content
    body = response.json()
    assert [c["reference"] for c in body["results"]] == [
        closed.reference,
        first.reference,
        second.reference,
    ]
    assert body["results"][1] == {
        "reference": first.reference,
        "title": "Patch mail",
        "change_type": "normal",
        "status": "scheduled",
        "risk": "low",
        "planned_start": "2030-05-06T10:00:00Z",
        "planned_end": "2030-05-06T12:00:00Z",
        "owner": None,
        "implementer": None,
        "services": ["mail"],
        "conflicts": [
            {
                "kind": CHANGE_OVERLAP,
                "message": f"{second.reference} changes the same service from 2030-05-06 11:00 "
                "to 2030-05-06 13:00 UTC.",
                "reference": second.reference,
                "starts_at": "2030-05-06T11:00:00Z",
                "ends_at": "2030-05-06T13:00:00Z",
            }
        ],
    }
    assert body["results"][0]["conflicts"] == []  # closed: it holds no window any more
    assert body["results"][0]["services"] == ["web"]
    assert body["blackout_windows"] == [
        {
            "id": freeze.pk,
            "name": "Freeze",
            "starts_at": "2030-05-31T20:00:00Z",
            "ends_at": "2030-06-03T00:00:00Z",
            "reason": "",
            "services": [],
        }
    ]


def test_the_calendar_range_accepts_offsets(sched, api_client):  # noqa: F811
    # Given a change 10:00-11:00 UTC
    change = make_change(sched, at(6, 10), at(6, 11))
    client = api_client(sched.agent)

    # When the range ends at 12:00+02:00 (10:00 UTC) it is not in it; at 12:30+02:00 it is
    ends_before = _calendar(client, sched, "2030-05-06T00:00:00+02:00", "2030-05-06T12:00:00+02:00")
    ends_inside = _calendar(client, sched, "2030-05-06T00:00:00+02:00", "2030-05-06T12:30:00+02:00")

    assert ends_before.json()["results"] == []
    assert [c["reference"] for c in ends_inside.json()["results"]] == [change.reference]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"end": "2030-05-02T00:00:00Z"}, "start"),
        ({"start": "2030-05-01T00:00:00Z"}, "end"),
        ({"start": "yesterday", "end": "2030-05-02T00:00:00Z"}, "start"),
        ({"start": "2030-05-01T00:00:00Z", "end": "2030-13-02T00:00:00Z"}, "end"),
        ({"start": "2030-05-02T00:00:00Z", "end": "2030-05-02T00:00:00Z"}, "end"),
        ({"start": "2030-05-02T00:00:00Z", "end": "2030-05-01T00:00:00Z"}, "end"),
        ({"start": "2030-01-01T00:00:00Z", "end": "2031-03-01T00:00:00Z"}, "end"),
        ({"start": "2030-05-01T00:00:00", "end": "2030-05-02T00:00:00Z"}, "start"),
    ],
)
def test_a_bad_range_is_a_400_naming_the_field(sched, api_client, query, field):  # noqa: F811
    response = api_client(sched.agent).get(sched.url("change-calendar/"), query)

    assert response.status_code == 400, response.content
    assert list(response.json()["fields"]) == [field]


def test_requesters_may_not_read_the_calendar(sched, api_client):  # noqa: F811
    make_change(sched, at(6, 10), at(6, 12))

    response = _calendar(api_client(sched.requester), sched)

    assert response.status_code == 403


def test_anonymous_callers_may_not_read_the_calendar(sched, api_client):  # noqa: F811
    assert _calendar(api_client(), sched).status_code == 401


def test_another_tenants_changes_are_never_listed(sched, other_sched, api_client):  # noqa: F811
    # Given a change and a blackout in each tenant, in the same window
    mine = make_change(sched, at(6, 10), at(6, 12))
    make_change(other_sched, at(6, 10), at(6, 12))
    make_blackout(other_sched, at(6, 0), at(7, 0))

    # When this tenant's change manager reads the calendar, only this tenant's change is there
    body = _calendar(api_client(sched.change_manager), sched).json()
    assert [c["reference"] for c in body["results"]] == [mine.reference]
    assert body["results"][0]["conflicts"] == []
    assert body["blackout_windows"] == []

    # And the other tenant's calendar is absent to them
    assert _calendar(api_client(sched.change_manager), other_sched).status_code == 404


def test_the_calendar_query_count_does_not_grow_with_the_changes(sched, api_client):  # noqa: F811
    # Given a calendar of a few conflicting changes, with a blackout and a major incident
    client = api_client(sched.agent)
    make_blackout(sched, at(6, 0), at(7, 0), services=[sched.web])
    IncidentFactory(tenant=sched.tenant, service=sched.mail, priority=Priority.SEV2)

    def changes_and_queries(count: int) -> tuple[int, int]:
        for hour in range(count):
            make_change(sched, at(6, hour), at(6, hour + 2), services=[sched.mail, sched.web])
        with CaptureQueriesContext(connection) as queries:
            response = _calendar(client, sched)
        assert response.status_code == 200
        return len(response.json()["results"]), len(queries.captured_queries)

    # When it has 2 changes and then 12
    few, few_queries = changes_and_queries(2)
    many, many_queries = changes_and_queries(10)

    # Then it takes the same number of queries
    assert (few, many) == (2, 12)
    assert many_queries == few_queries
