"""Approval of normal and emergency changes: the board and the number of approvals, the
approvers' grants, one decision each per round, rejection, blackout windows and conflicts."""

from datetime import timedelta

import pytest

from changes.choices import ApprovalBoard, ChangeType
from changes.models import ApprovalRule, BlackoutWindow, ChangeApproval, ChangeUserObjectPermission
from itsm.tenancy import rls
from tests.changes.conftest import END, START, change_state, make_change

pytestmark = pytest.mark.django_db


def _grantees(cdesk, change) -> set[str]:
    with rls.tenant_scope(cdesk.tenant.pk):
        return set(
            ChangeUserObjectPermission.objects.filter(content_object=change).values_list(
                "user__username", flat=True
            )
        )


def _decide(api_client, cdesk, change, user, verb="approve", comment="Fine."):
    return api_client(user).post(
        cdesk.url(f"{change.reference}/{verb}/"), {"comment": comment}, format="json"
    )


def test_requesting_approval_grants_the_cab_and_one_approval_schedules(cdesk, api_client):
    # Given a medium-risk normal change awaiting approval (default: one CAB approval)
    change = make_change(cdesk, "awaiting_approval")
    assert (change.approval_board, change.approvals_required, change.approval_round) == (
        "cab",
        1,
        1,
    )
    assert _grantees(cdesk, change) == {"leo-l2", "lou-l3"}

    # When one CAB member approves
    response = _decide(api_client, cdesk, change, cdesk.desk.l2_agent)

    # Then the change is scheduled, the answer lists conflicts, and every grant is revoked
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "scheduled"
    assert response.json()["conflicts"] == []
    assert _grantees(cdesk, change) == set()
    decisions = api_client(cdesk.manager).get(cdesk.url(f"{change.reference}/approvals/"))
    assert [(d["approver"], d["decision"]) for d in decisions.json()] == [("leo-l2", "approved")]


def test_high_risk_needs_two_approvals(cdesk, api_client):
    change = make_change(cdesk, "awaiting_approval", risk=(3, 2, 1))
    assert (change.risk, change.approvals_required) == ("high", 2)

    first = _decide(api_client, cdesk, change, cdesk.desk.l2_agent)
    assert (first.status_code, first.json()["status"]) == (200, "awaiting_approval")

    second = _decide(api_client, cdesk, change, cdesk.desk.l3_agent)
    assert (second.status_code, second.json()["status"]) == (200, "scheduled")


def test_a_tenant_rule_overrides_the_default(cdesk, api_client):
    with rls.tenant_scope(cdesk.tenant.pk):
        ApprovalRule.objects.create(
            tenant=cdesk.tenant, change_type="normal", risk="medium", approvals_required=2
        )
    change = make_change(cdesk, "awaiting_approval")
    assert change.approvals_required == 2
    response = _decide(api_client, cdesk, change, cdesk.desk.l2_agent)
    assert response.json()["status"] == "awaiting_approval"


def test_an_emergency_change_goes_to_the_emergency_board(cdesk, api_client):
    change = make_change(cdesk, "awaiting_approval", ChangeType.EMERGENCY)
    assert change.approval_board == ApprovalBoard.ECAB
    assert _grantees(cdesk, change) == {"mia-manager"}

    cab_member = _decide(api_client, cdesk, change, cdesk.desk.l2_agent)
    ecab_member = _decide(api_client, cdesk, change, cdesk.ecab)

    assert cab_member.status_code == 404
    assert (ecab_member.status_code, ecab_member.json()["status"]) == (200, "scheduled")


def test_a_rejection_returns_the_change_to_draft_and_revokes_the_grants(cdesk, api_client):
    change = make_change(cdesk, "awaiting_approval")

    response = _decide(api_client, cdesk, change, cdesk.desk.l3_agent, "reject", "Too risky.")

    assert response.status_code == 200, response.content
    assert response.json()["status"] == "draft"
    assert _grantees(cdesk, change) == set()
    # A new request is a new round
    client = api_client(cdesk.manager)
    client.post(cdesk.url(f"{change.reference}/submit/"), {}, format="json")
    again = client.post(cdesk.url(f"{change.reference}/request-approval/"), {}, format="json")
    assert (again.status_code, again.json()["approval_round"]) == (200, 2)
    assert _decide(api_client, cdesk, change, cdesk.desk.l3_agent).status_code == 200


def test_a_rejection_needs_a_comment(cdesk, api_client):
    change = make_change(cdesk, "awaiting_approval")
    before = change_state(cdesk, change)
    for comment in ("", "   "):
        response = _decide(api_client, cdesk, change, cdesk.desk.l2_agent, "reject", comment)
        assert response.status_code == 400
        assert "comment" in response.json()["fields"]
    assert change_state(cdesk, change) == before


def test_an_approver_without_the_grant_gets_404_and_nothing_changes(cdesk, api_client):
    change = make_change(cdesk, "awaiting_approval")
    before = change_state(cdesk, change)

    for user in (cdesk.desk.l1_agent, cdesk.manager, cdesk.desk.admin):
        assert _decide(api_client, cdesk, change, user).status_code == 404
        assert _decide(api_client, cdesk, change, user, "reject", "No.").status_code == 404

    assert change_state(cdesk, change) == before
    with rls.tenant_scope(cdesk.tenant.pk):
        assert not ChangeApproval.objects.exists()


def test_a_second_decision_is_a_409(cdesk, api_client):
    change = make_change(cdesk, "awaiting_approval", risk=(3, 3, 3))
    assert _decide(api_client, cdesk, change, cdesk.desk.l2_agent).status_code == 200
    before = change_state(cdesk, change)

    again = _decide(api_client, cdesk, change, cdesk.desk.l2_agent, "reject", "Changed my mind")

    assert (again.status_code, again.json()["code"]) == (409, "already_decided")
    assert change_state(cdesk, change) == before


def test_cancelling_revokes_the_grants(cdesk, api_client):
    change = make_change(cdesk, "awaiting_approval")
    response = api_client(cdesk.manager).post(
        cdesk.url(f"{change.reference}/cancel/"), {"reason": "Not needed."}, format="json"
    )
    assert response.status_code == 200
    assert _grantees(cdesk, change) == set()
    assert _decide(api_client, cdesk, change, cdesk.desk.l2_agent).status_code == 404


def test_awaiting_my_approval(cdesk, api_client):
    mine = make_change(cdesk, "awaiting_approval", risk=(3, 3, 3))
    make_change(cdesk, "assessment")
    emergency = make_change(cdesk, "awaiting_approval", ChangeType.EMERGENCY)

    def refs(user):
        response = api_client(user).get(cdesk.url(), {"awaiting_my_approval": "true"})
        assert response.status_code == 200, response.content
        return [row["reference"] for row in response.json()["results"]]

    assert refs(cdesk.desk.l2_agent) == [mine.reference]
    assert refs(cdesk.ecab) == [emergency.reference]
    _decide(api_client, cdesk, mine, cdesk.desk.l2_agent)
    assert refs(cdesk.desk.l2_agent) == []
    assert refs(cdesk.desk.l3_agent) == [mine.reference]


# --- Blackout windows and conflicts --------------------------------------------------------------


def _blackout(cdesk):
    with rls.tenant_scope(cdesk.tenant.pk):
        BlackoutWindow.objects.create(
            tenant=cdesk.tenant,
            name="Year-end freeze",
            starts_at=START - timedelta(days=1),
            ends_at=END + timedelta(days=1),
        )


def test_a_blackout_refuses_the_last_approval_of_a_normal_change(cdesk, api_client):
    change = make_change(cdesk, "awaiting_approval")
    _blackout(cdesk)
    before = change_state(cdesk, change)

    response = _decide(api_client, cdesk, change, cdesk.desk.l2_agent)

    assert (response.status_code, response.json()["code"]) == (409, "blackout_window")
    assert change_state(cdesk, change) == before
    assert _grantees(cdesk, change) == {"leo-l2", "lou-l3"}


def test_a_blackout_only_warns_for_an_emergency_change(cdesk, api_client):
    change = make_change(cdesk, "awaiting_approval", ChangeType.EMERGENCY)
    _blackout(cdesk)

    response = _decide(api_client, cdesk, change, cdesk.ecab)

    assert (response.status_code, response.json()["status"]) == (200, "scheduled")
    assert [c["kind"] for c in response.json()["conflicts"]] == ["blackout_window"]


def test_a_blackout_refuses_scheduling_a_standard_change(cdesk, api_client):
    change = make_change(cdesk, "assessment", ChangeType.STANDARD)
    _blackout(cdesk)
    response = api_client(cdesk.manager).post(
        cdesk.url(f"{change.reference}/schedule/"), {}, format="json"
    )
    assert (response.status_code, response.json()["code"]) == (409, "blackout_window")


def test_an_overlapping_change_is_a_warning_in_the_schedule_answer(cdesk, api_client):
    # Given a scheduled change on the mail service, and a standard change in the same window
    other = make_change(cdesk, "scheduled")
    change = make_change(cdesk, "assessment", ChangeType.STANDARD)

    # When the standard change is scheduled
    response = api_client(cdesk.manager).post(
        cdesk.url(f"{change.reference}/schedule/"), {}, format="json"
    )

    # Then it is scheduled, and the answer names the overlap
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "scheduled"
    assert [(c["kind"], c["reference"]) for c in body["conflicts"]] == [
        ("change_overlap", other.reference)
    ]
    listed = api_client(cdesk.manager).get(cdesk.url(f"{change.reference}/conflicts/"))
    assert [c["reference"] for c in listed.json()] == [other.reference]
