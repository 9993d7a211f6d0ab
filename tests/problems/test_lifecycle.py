"""The problem and known-error tables and their guards, without a database. The expected
matrices are written out here, not derived from the tables, so a change to a table fails."""

import pytest

from problems.choices import KnownErrorAction, KnownErrorStatus, ProblemAction, ProblemStatus
from problems.errors import InvalidProblemTransitionError, ProblemRequirementError
from problems.lifecycle import (
    check_known_error_action,
    check_problem_action,
    check_problem_details,
)

# action -> {from status: to status}; every other status refuses the action.
PROBLEM_EXPECTED = {
    "investigate": {"new": "under_investigation"},
    "identify_root_cause": {"under_investigation": "root_cause_known"},
    "start_fix": {"root_cause_known": "fix_in_progress"},
    "reinvestigate": {
        "root_cause_known": "under_investigation",
        "fix_in_progress": "under_investigation",
    },
    "resolve": {"root_cause_known": "resolved", "fix_in_progress": "resolved"},
    "close": {"resolved": "closed"},
    "reopen": {"resolved": "under_investigation"},
    "cancel": {
        "new": "cancelled",
        "under_investigation": "cancelled",
        "root_cause_known": "cancelled",
        "fix_in_progress": "cancelled",
    },
}

KNOWN_ERROR_EXPECTED = {
    "publish": {"draft": "published"},
    "retire": {"draft": "retired", "published": "retired"},
}


def test_the_tables_cover_every_action():
    assert set(PROBLEM_EXPECTED) == set(ProblemAction.values)
    assert set(KNOWN_ERROR_EXPECTED) == set(KnownErrorAction.values)


@pytest.mark.parametrize("status", ProblemStatus.values)
@pytest.mark.parametrize("action", ProblemAction.values)
def test_each_problem_state_and_action(status, action):
    expected = PROBLEM_EXPECTED[action].get(status)
    if expected is None:
        with pytest.raises(InvalidProblemTransitionError) as refused:
            check_problem_action(status, ProblemAction(action))
        allowed = refused.value.extra["allowed_actions"]
        assert allowed == [a for a, table in PROBLEM_EXPECTED.items() if status in table]
        assert action not in allowed
    else:
        assert check_problem_action(status, ProblemAction(action)).to_status == expected


@pytest.mark.parametrize("status", KnownErrorStatus.values)
@pytest.mark.parametrize("action", KnownErrorAction.values)
def test_each_known_error_state_and_action(status, action):
    expected = KNOWN_ERROR_EXPECTED[action].get(status)
    if expected is None:
        with pytest.raises(InvalidProblemTransitionError) as refused:
            check_known_error_action(status, KnownErrorAction(action))
        assert action not in refused.value.extra["allowed_actions"]
    else:
        assert check_known_error_action(status, KnownErrorAction(action)).to_status == expected


@pytest.mark.parametrize(
    ("action", "field"),
    [
        ("identify_root_cause", "root_cause"),
        ("resolve", "fix_notes"),
        ("reopen", "reason"),
        ("reinvestigate", "reason"),
        ("cancel", "reason"),
    ],
)
def test_an_action_without_its_detail_names_the_field(action, field):
    with pytest.raises(ProblemRequirementError) as refused:
        check_problem_details(ProblemAction(action), {field: "   "})
    assert list(refused.value.fields) == [field]
    check_problem_details(ProblemAction(action), {field: "given"})
