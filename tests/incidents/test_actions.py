"""Every state × every lifecycle action through the API: allowed ones succeed and write exactly
one event; the rest answer 409 naming the allowed actions, and change nothing."""

from typing import Any

import pytest

from incidents.choices import IncidentAction
from tests.incidents.conftest import STATES, incident_state, make_incident
from tests.incidents.test_lifecycle import EXPECTED


def valid_input(desk, action: str) -> dict[str, Any]:
    return {
        "acknowledge": {},
        "assign": {"team": desk.l2.slug, "assignee": desk.l2_agent.username},
        "escalate": {"kind": "functional", "reason": "Needs the mail platform team."},
        "hold": {"hold_reason": "awaiting_vendor", "note": "Ticket opened with the vendor."},
        "resume": {},
        "resolve": {"resolution_code": "fixed", "resolution_notes": "Replaced the certificate."},
        "close": {"note": "Confirmed by phone."},
        "reopen": {"reason": "It broke again."},
        "cancel": {"reason": "Raised in error."},
    }[action]


@pytest.mark.django_db
@pytest.mark.parametrize("state", STATES)
@pytest.mark.parametrize("action", IncidentAction.values)
def test_state_by_action(desk, api_client, state, action):
    incident = make_incident(desk, state)
    before, events_before = incident_state(desk, incident)
    client = api_client(desk.admin)

    response = client.post(
        desk.url(f"{incident.reference}/{action.replace('_', '-')}/"),
        valid_input(desk, action),
        format="json",
    )

    after, events_after = incident_state(desk, incident)
    expected_status = EXPECTED[state].get(action)
    if expected_status is None:
        assert response.status_code == 409, response.content
        body = response.json()
        assert body["code"] == "invalid_transition"
        assert body["allowed_actions"] == list(EXPECTED[state])
        assert (after, events_after) == (before, events_before)
    else:
        assert response.status_code == 200, response.content
        assert response.json()["status"] == expected_status
        assert after["status"] == expected_status
        assert events_after == events_before + 1
        assert after["version"] == before["version"] + 1
