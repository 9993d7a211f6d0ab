"""The lifecycle table and its guards, without a database."""

from datetime import UTC, datetime, timedelta

import pytest

from incidents.choices import LIFECYCLE, IncidentAction, IncidentStatus, allowed_actions
from incidents.errors import InvalidTransitionError, TransitionRequirementError
from incidents.lifecycle import check_action, check_details, check_reopen_window

EXPECTED = {
    # status: {action: status after}
    "new": {
        "acknowledge": "in_progress",
        "assign": "new",
        "escalate": "new",
        "cancel": "cancelled",
    },
    "in_progress": {
        "assign": "in_progress",
        "escalate": "in_progress",
        "hold": "on_hold",
        "resolve": "resolved",
        "cancel": "cancelled",
    },
    "on_hold": {
        "assign": "on_hold",
        "escalate": "on_hold",
        "resume": "in_progress",
        "cancel": "cancelled",
    },
    "resolved": {"close": "closed", "reopen": "in_progress"},
    "closed": {},
    "cancelled": {},
}


@pytest.mark.parametrize("status", IncidentStatus.values)
@pytest.mark.parametrize("action", IncidentAction.values)
def test_every_status_and_action_follows_the_table(status, action):
    expected = EXPECTED[status].get(action)
    if expected is None:
        with pytest.raises(InvalidTransitionError) as caught:
            check_action(status, IncidentAction(action))
        assert caught.value.code == "invalid_transition"
        assert caught.value.extra["allowed_actions"] == list(EXPECTED[status])
    else:
        rule = check_action(status, IncidentAction(action))
        assert (rule.to_status or status) == expected


def test_the_table_names_every_action_once():
    assert set(LIFECYCLE) == set(IncidentAction)
    assert allowed_actions("closed") == []


@pytest.mark.parametrize(
    ("action", "details", "missing"),
    [
        (IncidentAction.HOLD, {}, ["hold_reason"]),
        (IncidentAction.HOLD, {"hold_reason": "awaiting_godot"}, ["hold_reason"]),
        (
            IncidentAction.RESOLVE,
            {"resolution_code": "fixed", "resolution_notes": " "},
            ["resolution_notes"],
        ),
        (IncidentAction.RESOLVE, {}, ["resolution_code", "resolution_notes"]),
        (IncidentAction.ESCALATE, {"reason": ""}, ["reason"]),
        (IncidentAction.CANCEL, {}, ["reason"]),
    ],
)
def test_actions_refuse_missing_details(action, details, missing):
    with pytest.raises(TransitionRequirementError) as caught:
        check_details(action, details)
    assert sorted(caught.value.fields) == missing


def test_complete_details_pass():
    check_details(IncidentAction.HOLD, {"hold_reason": "awaiting_vendor"})
    check_details(
        IncidentAction.RESOLVE,
        {"resolution_code": "workaround", "resolution_notes": "Cleared the cache."},
    )
    check_details(IncidentAction.ACKNOWLEDGE, {})


def test_reopen_only_within_the_window():
    resolved = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    window = timedelta(days=7)
    check_reopen_window(resolved, resolved + window, window)
    with pytest.raises(InvalidTransitionError) as caught:
        check_reopen_window(resolved, resolved + window + timedelta(seconds=1), window)
    assert caught.value.code == "reopen_window_passed"
