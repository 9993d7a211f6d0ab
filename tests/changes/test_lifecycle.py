"""Every state × action of each type of change, through the API: the allowed ones move the
change and record one status event, the rest are a 409 naming the allowed actions and change
nothing. The expected matrix is written out here, not derived from the table."""

import pytest

from changes import services
from changes.choices import ChangeAction, ChangeStatus, ChangeType
from changes.errors import ChangeRequirementError, InvalidChangeTransitionError
from changes.lifecycle import check_change_action, check_change_details
from changes.timers import OVERRUN, REMINDER, reminder_before, step_meaning
from itsm.tenancy import rls
from tests.changes.conftest import END, START, STATES, change_state, make_change

# action -> {from status: to status}, and the types it is for.
EXPECTED = {
    "submit": {"draft": "assessment"},
    "request_approval": {"assessment": "awaiting_approval"},
    "schedule": {"assessment": "scheduled"},
    "start": {"scheduled": "implementing"},
    "complete": {"implementing": "review"},
    "close": {"review": "closed"},
    "cancel": {
        "draft": "cancelled",
        "assessment": "cancelled",
        "awaiting_approval": "cancelled",
        "scheduled": "cancelled",
    },
}
ONLY_FOR = {
    "request_approval": {"normal", "emergency"},
    "schedule": {"standard"},
}
BODIES = {"close": {"outcome": "successful"}, "cancel": {"reason": "Not needed."}}


def expected(change_type: str, state: str, action: str) -> str | None:
    if change_type not in ONLY_FOR.get(action, {change_type}):
        return None
    return EXPECTED[action].get(state)


def test_the_table_covers_every_action():
    assert set(EXPECTED) == set(ChangeAction.values)


@pytest.mark.parametrize("change_type", ChangeType.values)
@pytest.mark.parametrize("status", ChangeStatus.values)
@pytest.mark.parametrize("action", ChangeAction.values)
def test_each_state_and_action_of_the_table(change_type, status, action):
    to = expected(change_type, status, action)
    if to is None:
        with pytest.raises(InvalidChangeTransitionError) as refused:
            check_change_action(status, change_type, ChangeAction(action))
        allowed = refused.value.extra["allowed_actions"]
        assert action not in allowed
        assert allowed == [a for a in EXPECTED if expected(change_type, status, a)]
    else:
        assert check_change_action(status, change_type, ChangeAction(action)).to_status == to


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("change_type", "state"),
    [(change_type, state) for change_type, states in STATES.items() for state in states],
)
@pytest.mark.parametrize("action", list(EXPECTED))
def test_each_state_and_action_through_the_api(cdesk, api_client, change_type, state, action):
    # Given a change of the type in the state
    change = make_change(cdesk, state, change_type)
    before = change_state(cdesk, change)
    to = expected(change_type, state, action)

    # When its change manager asks for the action, naming the version read
    response = api_client(cdesk.manager).post(
        cdesk.url(f"{change.reference}/{action.replace('_', '-')}/"),
        BODIES.get(action, {}),
        format="json",
        HTTP_IF_MATCH=change.etag,
    )

    # Then an allowed action moves it with one event, any other is a 409 changing nothing
    if to is None:
        assert response.status_code == 409, response.content
        body = response.json()
        assert body["code"] == "invalid_transition"
        assert body["allowed_actions"] == [a for a in EXPECTED if expected(change_type, state, a)]
        assert change_state(cdesk, change) == before
    else:
        assert response.status_code == 200, response.content
        assert response.json()["status"] == to
        row, events = change_state(cdesk, change)
        assert row["status"] == to
        assert row["version"] > change.version
        assert events > before[1]


@pytest.mark.parametrize(
    ("action", "field"),
    [
        ("request_approval", "backout_plan"),
        ("request_approval", "risk"),
        ("schedule", "planned_start"),
        ("close", "outcome"),
        ("cancel", "reason"),
    ],
)
def test_an_action_without_its_detail_names_the_field(action, field):
    with pytest.raises(ChangeRequirementError) as refused:
        check_change_details(ChangeAction(action), {field: "  "})
    assert field in refused.value.fields


@pytest.mark.django_db
def test_start_complete_and_close_set_their_timestamps(cdesk, api_client):
    change = make_change(cdesk, "scheduled")
    client = api_client(cdesk.manager)

    started = client.post(cdesk.url(f"{change.reference}/start/"), {}, format="json").json()
    completed = client.post(cdesk.url(f"{change.reference}/complete/"), {}, format="json").json()
    closed = client.post(
        cdesk.url(f"{change.reference}/close/"), {"outcome": "backed_out"}, format="json"
    ).json()

    assert started["actual_start"]
    assert not started["actual_end"]
    assert completed["actual_end"]
    assert (closed["status"], closed["outcome"]) == ("closed", "backed_out")
    assert closed["closed_at"]


@pytest.mark.django_db
def test_closing_needs_a_known_outcome(cdesk, api_client):
    change = make_change(cdesk, "review")
    before = change_state(cdesk, change)
    client = api_client(cdesk.manager)
    for body in ({}, {"outcome": "great"}):
        response = client.post(cdesk.url(f"{change.reference}/close/"), body, format="json")
        assert response.status_code == 400
        assert "outcome" in response.json()["fields"]
    assert change_state(cdesk, change) == before


@pytest.mark.django_db
def test_request_approval_without_a_risk_assessment_names_the_field(cdesk, api_client):
    change = make_change(cdesk, "draft", backout_plan="")
    client = api_client(cdesk.manager)
    client.post(cdesk.url(f"{change.reference}/submit/"), {}, format="json")

    response = client.post(cdesk.url(f"{change.reference}/request-approval/"), {}, format="json")

    assert response.status_code == 400
    assert {"risk", "backout_plan"} <= set(response.json()["fields"])


def test_the_services_arm_the_schedule_timer_as_the_change_moves(cdesk):
    # Given a normal change approved into its window (2027-01-04 10:00-12:00 UTC)
    change = make_change(cdesk, "scheduled")
    with rls.tenant_scope(cdesk.tenant.pk):
        change.refresh_from_db()
        timer = change.schedule_timer
        assert timer is not None
        assert timer.step is not None
        # Then the reminder is due the configured time before the start
        assert (step_meaning(timer.step), timer.fire_at) == (REMINDER, START - reminder_before())

        # When it starts, the overrun is armed for the end of the window
        services.change_start(tenant=cdesk.tenant, change_id=change.pk, actor=cdesk.manager)
        timer.refresh_from_db()
        assert timer.step is not None
        assert (step_meaning(timer.step), timer.fire_at) == (OVERRUN, END)

        # When it is completed, nothing is due any more
        services.change_complete(tenant=cdesk.tenant, change_id=change.pk, actor=cdesk.manager)
        timer.refresh_from_db()
        assert timer.fire_at is None
