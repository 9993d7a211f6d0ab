"""The change record page: what it shows, every action through the page's forms and the same
services as the API, the approvers' decisions, stale versions and refusals as usable pages, the
roles of each action (the same as the API's), the live risk preview, and a bounded number of
queries whatever the number of links, decisions and events."""

from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from changes import services
from changes.api.views import ChangeViewSet
from changes.choices import ChangeType
from changes.forms.actions import ACTIONS, DECISIONS
from changes.models import BlackoutWindow, Change, ChangeEvent, ChangeFix, ChangeIncident
from itsm.tenancy import rls
from problems.models import Problem
from tests.changes.conftest import END, START, change_state, make_change
from tests.factories import FACTORIES
from tests.incidents.conftest import make_incident
from tests.problems.conftest import ProblemDesk, make_known_error, make_problem
from tests.security.sweep import assert_record_action_roles

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def pdesk(cdesk) -> ProblemDesk:
    return ProblemDesk(desk=cdesk.desk, manager=cdesk.problem_manager, change_manager=cdesk.manager)


def page(cdesk, change: Change, action: str = "") -> str:
    url = f"/t/{cdesk.tenant.slug}/changes/{change.reference}/"
    return f"{url}{action}/" if action else url


def preview(cdesk) -> str:
    return reverse("changes:risk-preview", args=[cdesk.tenant.slug])


def reload(cdesk, change: Change) -> Change:
    with rls.tenant_scope(cdesk.tenant.pk):
        return Change.objects.get(pk=change.pk)


def events(cdesk, change: Change) -> list[str]:
    with rls.tenant_scope(cdesk.tenant.pk):
        return list(
            ChangeEvent.objects.filter(change=change)
            .order_by("created_at", "id")
            .values_list("kind", flat=True)
        )


def ids(cdesk, change: Change, actor: Any = None) -> dict[str, Any]:
    return {"tenant": cdesk.tenant, "change_id": change.pk, "actor": actor or cdesk.manager}


def link(cdesk, change: Change, *records: Any) -> None:
    with rls.tenant_scope(cdesk.tenant.pk):
        services.change_link_problems(
            **ids(cdesk, change),
            problems=[r.reference for r in records if isinstance(r, Problem)],
            known_errors=[r.reference for r in records if not isinstance(r, Problem)],
        )


def record(cdesk, change: Change, *incidents: Any) -> None:
    with rls.tenant_scope(cdesk.tenant.pk):
        services.change_record_incidents(
            **ids(cdesk, change), incidents=[incident.reference for incident in incidents]
        )


def as_user(client, user):
    client.force_login(user)
    return client


def messages_of(client, cdesk, change: Change) -> str:
    return str(client.get(page(cdesk, change)).content.decode())


# --- What the page shows ----------------------------------------------------------------------


def test_the_record_shows_every_section(cdesk, pdesk, client):
    # Given a scheduled change overlapping another on the same service, fixing a problem and a
    # known error, and recorded as the cause of an incident
    other = make_change(cdesk, "scheduled", title="Patch the relay's OS")
    change = make_change(
        cdesk,
        "scheduled",
        description="Relay 2.4 fixes the pool.",
        test_plan="Send a test mail.",
        implementer=cdesk.desk.l2_agent,
    )
    problem = make_problem(pdesk, "fix_in_progress")
    known_error = make_known_error(pdesk)
    incident = make_incident(cdesk.desk, "in_progress", title="Mail bounces")
    link(cdesk, change, problem, known_error)
    record(cdesk, change, incident)

    # When its change manager opens it
    response = as_user(client, cdesk.manager).get(page(cdesk, change))

    # Then every section is there
    assert response.status_code == 200
    html = response.content.decode()
    slug = cdesk.tenant.slug
    # Header
    assert f"{change.reference} · Upgrade the mail relay" in html
    assert ">Normal</span>" in html
    assert ">Scheduled</span>" in html
    assert ">Medium risk</span>" in html
    # Details
    assert "Relay 2.4 fixes the pool." in html
    assert cdesk.desk.service.name in html
    assert "carl-changes" in html
    assert "leo-l2" in html
    assert f'<time datetime="{START.isoformat()}">Mon 4 Jan 2027, 10:00</time>' in html
    assert f'<time datetime="{END.isoformat()}">Mon 4 Jan 2027, 12:00</time>' in html
    assert "Install 2.4 on the standby, switch over." in html
    assert "Switch back to the old relay." in html
    assert "Send a test mail." in html
    # Risk (read-only once scheduled)
    assert "<dt>Resulting risk</dt><dd>Medium</dd>" in html
    assert 'id="risk-result"' not in html
    # Approvals
    assert "Last requested of the change advisory board: 1 of 1 approval received" in html
    assert ">leo-l2</td>" in html
    assert ">Approved</td>" in html
    # Schedule warnings, linked to the other change
    assert f'<a href="/t/{slug}/changes/{other.reference}/">{other.reference}</a>' in html
    # Fixes and caused incidents
    assert f'href="/t/{slug}/problems/{problem.reference}/"' in html
    assert f'href="/t/{slug}/known-errors/{known_error.reference}/"' in html
    assert f'href="/t/{slug}/incidents/{incident.reference}/"' in html
    assert "Mail bounces" in html
    assert f'value="{problem.reference}"' in html  # the unlink checkbox
    assert f'value="{incident.reference}"' in html  # the unrecord checkbox
    # Timeline in words
    for phrase in (
        "recorded the change",
        "submitted it for assessment",
        "assessed the risk as medium (impact medium, likelihood medium, backout medium)",
        "requested approval from the Change advisory board (1 needed)",
        "approved it (round 1)",
        f"scheduled it: the approvals are complete, with schedule warnings: {other.reference}",
        f"linked {problem.reference}, {known_error.reference} as fixed by this change",
        f"recorded {incident.reference} as caused by this change",
    ):
        assert phrase in html, phrase
    # The actions of the status only
    for slug_ in ("start", "cancel", "link-problems", "record-incidents"):
        assert f'id="panel-{slug_}"' in html, slug_
    for slug_ in ("submit", "edit", "schedule", "approve", "complete"):
        assert f'id="panel-{slug_}"' not in html, slug_


def test_a_draft_offers_the_risk_form_with_a_live_preview(cdesk, client):
    change = make_change(cdesk, "assessment")

    html = as_user(client, cdesk.manager).get(page(cdesk, change)).content.decode()

    assert f'hx-get="/t/{cdesk.tenant.slug}/changes/risk/"' in html
    assert 'hx-target="#risk-result"' in html
    assert '<output id="risk-result"' in html
    assert "Resulting risk: Medium" in html
    for slug in ("edit", "request-approval", "cancel"):
        assert f'id="panel-{slug}"' in html, slug


def test_a_standard_change_shows_its_template_and_offers_scheduling(cdesk, client):
    change = make_change(cdesk, "assessment", ChangeType.STANDARD)

    html = as_user(client, cdesk.manager).get(page(cdesk, change)).content.decode()

    assert "Template 0, version 1" in html
    assert "A standard change is pre-approved." in html
    assert 'id="panel-schedule"' in html
    assert 'id="panel-request-approval"' not in html


def test_a_cancelled_change_shows_why(cdesk, client):
    change = make_change(cdesk, "cancelled")
    html = as_user(client, cdesk.manager).get(page(cdesk, change)).content.decode()
    assert "Why it was cancelled" in html
    assert "Not needed any more." in html
    assert "cancelled it" in html
    assert 'id="panel-' not in html.replace('id="panel-record-incidents"', "")


def test_an_agent_reads_and_may_record_incidents_only(cdesk, client):
    change = make_change(cdesk, "scheduled")
    incident = make_incident(cdesk.desk)
    record(cdesk, change, incident)

    html = as_user(client, cdesk.desk.l1_agent).get(page(cdesk, change)).content.decode()

    assert 'id="panel-record-incidents"' in html
    assert f'value="{incident.reference}"' not in html  # agents do not unrecord
    for slug in ("start", "cancel", "link-problems", "approve"):
        assert f'id="panel-{slug}"' not in html, slug


def test_a_requester_gets_403_and_another_tenants_change_is_a_404(cdesk, client, tenant_b):
    change = make_change(cdesk)  # CHG-000001 of A
    FACTORIES[Change](tenant=tenant_b)
    other = FACTORIES[Change](tenant=tenant_b)  # CHG-000002 exists in B only
    before = change_state(cdesk, change)

    requester = as_user(client, cdesk.desk.requester)
    assert requester.get(page(cdesk, change)).status_code == 403
    assert requester.post(page(cdesk, change, "cancel"), {"reason": "x"}).status_code == 403
    assert change_state(cdesk, change) == before
    manager = as_user(client, cdesk.manager)
    assert manager.get(page(cdesk, other)).status_code == 404
    assert manager.post(page(cdesk, other, "submit"), {"version": 1}).status_code == 404
    assert (
        client.get(f"/t/{cdesk.tenant.slug}/changes/CHG-99999999999999999999/").status_code == 404
    )
    assert client.get(f"/t/{cdesk.tenant.slug}/changes/PRB-000001/").status_code == 404
    assert client.get(f"/t/{tenant_b.slug}/changes/{other.reference}/").status_code == 404


# --- Every action through the page -------------------------------------------------------------


# action -> (the change's type, its state before, the form's input, the status after)
ACTION_CASES: dict[str, tuple[str, str, dict[str, Any], str]] = {
    "submit": (ChangeType.NORMAL, "draft", {}, "assessment"),
    "request-approval": (ChangeType.NORMAL, "assessment", {}, "awaiting_approval"),
    "schedule": (ChangeType.STANDARD, "assessment", {}, "scheduled"),
    "start": (ChangeType.NORMAL, "scheduled", {}, "implementing"),
    "complete": (ChangeType.NORMAL, "implementing", {"note": "Switched over."}, "review"),
    "close": (ChangeType.NORMAL, "review", {"outcome": "failed", "note": "Backed out."}, "closed"),
    "cancel": (ChangeType.NORMAL, "draft", {"reason": "Not needed."}, "cancelled"),
    "assess-risk": (
        ChangeType.NORMAL,
        "assessment",
        {"impact": "3", "likelihood": "2", "backout": "1"},
        "assessment",
    ),
    "edit": (
        ChangeType.NORMAL,
        "draft",
        {
            "title": "Upgrade the mail relays",
            "change_type": "emergency",
            "planned_start": "2027-02-01T09:00",
            "planned_end": "2027-02-01T11:30",
            "implementation_plan": "Install 2.5.",
            "backout_plan": "Switch back.",
        },
        "draft",
    ),
}


def test_every_change_action_is_tested_here():
    tested_elsewhere = {
        "approve",
        "reject",
        "link-problems",
        "unlink-problems",
        "record-incidents",
        "unrecord-incidents",
    }
    assert set(ACTION_CASES) | tested_elsewhere == set(ACTIONS)


@pytest.mark.parametrize("action", list(ACTION_CASES))
def test_each_action_through_the_page_runs_its_service(cdesk, client, action):
    change_type, state, data, after = ACTION_CASES[action]
    change = make_change(cdesk, state, change_type)
    before = len(events(cdesk, change))

    response = as_user(client, cdesk.manager).post(
        page(cdesk, change, action), {"version": change.version, **data}
    )

    assert response.status_code == 302, response.content.decode()[:3000]
    assert response["Location"] == page(cdesk, change)
    changed = reload(cdesk, change)
    assert changed.status == after
    assert len(events(cdesk, change)) == before + 1
    if action == "edit":
        assert changed.title == "Upgrade the mail relays"
        assert changed.change_type == "emergency"
        assert changed.planned_start == START.replace(month=2, day=1, hour=9)
        assert changed.planned_end == START.replace(month=2, day=1, hour=11, minute=30)
    if action == "close":
        assert (changed.outcome, events(cdesk, change)[-1]) == ("failed", "status")
    # And the record says it was done
    html = client.get(page(cdesk, change)).content.decode()
    assert ACTIONS[action].done in html
    if action == "assess-risk":
        assert changed.risk == "high"
        assert ">High risk</span>" in html
        assert "Resulting risk: High" in html
        assert "assessed the risk as high (impact high, likelihood medium, backout low)" in html


def test_with_htmx_the_record_is_rerendered_in_place(cdesk, client):
    change = make_change(cdesk, "assessment")

    response = as_user(client, cdesk.manager).post(
        page(cdesk, change, "assess-risk"),
        {"version": change.version, "impact": "1", "likelihood": "1", "backout": "2"},
        **HTMX,
    )

    assert response.status_code == 200
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="record"')
    assert "Risk assessed." in html
    assert ">Low risk</span>" in html


def test_scheduling_a_standard_change_warns_of_its_conflicts(cdesk, client):
    other = make_change(cdesk, "scheduled")
    change = make_change(cdesk, "assessment", ChangeType.STANDARD)

    response = as_user(client, cdesk.manager).post(
        page(cdesk, change, "schedule"), {"version": change.version}, **HTMX
    )

    assert response.status_code == 200
    html = response.content.decode()
    assert "Scheduled." in html
    assert f'<p class="message warning">Schedule warning: {other.reference} changes' in html
    assert reload(cdesk, change).status == "scheduled"


def test_a_cab_member_with_the_grant_approves_and_the_change_is_scheduled_with_warnings(
    cdesk, client
):
    # Given a change awaiting approval that overlaps a scheduled change on the same service
    other = make_change(cdesk, "scheduled")
    change = make_change(cdesk, "awaiting_approval")
    approver = as_user(client, cdesk.desk.l2_agent)
    html = approver.get(page(cdesk, change)).content.decode()
    assert "Awaiting the change advisory board: 0 of 1 approval received in round 1." in html
    assert 'id="panel-approve"' in html
    assert 'id="panel-reject"' in html

    # When a CAB member approves from the page
    response = approver.post(page(cdesk, change, "approve"), {"comment": "Go ahead."})

    # Then the change is scheduled, and the page says so with the overlap as a warning
    assert response.status_code == 302
    assert reload(cdesk, change).status == "scheduled"
    html = messages_of(approver, cdesk, change)
    assert f"Approved: {change.reference} is scheduled." in html
    assert f"Schedule warning: {other.reference} changes the same service" in html
    assert "Go ahead." in html
    assert 'id="panel-approve"' not in html  # the round is over


def test_a_rejection_sends_the_change_back_to_draft(cdesk, client):
    change = make_change(cdesk, "awaiting_approval")

    response = as_user(client, cdesk.desk.l3_agent).post(
        page(cdesk, change, "reject"), {"comment": "Not during the audit."}, **HTMX
    )

    assert response.status_code == 200
    html = response.content.decode()
    assert "Rejected: the change is back in draft." in html
    assert "rejected it (round 1)" in html
    assert "Not during the audit." in html
    assert reload(cdesk, change).status == "draft"


def test_a_rejection_without_a_comment_is_a_400_with_the_field_error(cdesk, client):
    change = make_change(cdesk, "awaiting_approval")
    before = change_state(cdesk, change)

    response = as_user(client, cdesk.desk.l3_agent).post(page(cdesk, change, "reject"), {})

    assert response.status_code == 400
    assert 'id="reject-comment_error"' in response.content.decode()
    assert change_state(cdesk, change) == before


@pytest.mark.parametrize("who", ["l1_agent", "manager"])
@pytest.mark.parametrize("verb", sorted(DECISIONS))
def test_someone_without_the_grant_gets_404_and_nothing_changes(cdesk, client, who, verb):
    # Given a change awaiting the CAB; an agent off the board, and the change manager
    change = make_change(cdesk, "awaiting_approval")
    user = cdesk.manager if who == "manager" else cdesk.desk.l1_agent
    before = change_state(cdesk, change)

    as_user(client, user)
    assert client.post(page(cdesk, change, verb), {"comment": "Fine."}).status_code == 404
    assert client.get(page(cdesk, change, verb)).status_code == 404
    html = client.get(page(cdesk, change)).content.decode()

    assert 'id="panel-approve"' not in html
    assert change_state(cdesk, change) == before


def test_a_second_decision_is_a_409(cdesk, client):
    change = make_change(cdesk, "awaiting_approval", risk=(3, 2, 1))  # two approvals needed
    approver = as_user(client, cdesk.desk.l2_agent)
    assert approver.post(page(cdesk, change, "approve"), {}).status_code == 302

    response = approver.post(page(cdesk, change, "approve"), {})

    assert response.status_code == 409
    assert "You already decided on this change in this round." in response.content.decode()


def test_closing_successful_resolves_a_linked_problem(cdesk, pdesk, client):
    change = make_change(cdesk, "review")
    problem = make_problem(pdesk, "fix_in_progress")
    link(cdesk, change, problem)

    response = as_user(client, cdesk.manager).post(
        page(cdesk, change, "close"), {"version": change.version, "outcome": "successful"}
    )

    assert response.status_code == 302
    assert reload(cdesk, change).outcome == "successful"
    with rls.tenant_scope(cdesk.tenant.pk):
        problem.refresh_from_db()
    assert problem.status == "resolved"
    html = messages_of(client, cdesk, change)
    assert "closed it as successful" in html
    assert ">Successful</span>" in html


def test_a_problem_manager_links_and_unlinks_problems(cdesk, pdesk, client):
    change = make_change(cdesk, "assessment")
    first, second = make_problem(pdesk), make_problem(pdesk)
    known_error = make_known_error(pdesk)
    as_user(client, cdesk.problem_manager)

    linked = client.post(
        page(cdesk, change, "link-problems"),
        {
            "version": change.version,
            "problems": f"{first.reference}, {second.reference} {known_error.reference}",
        },
        **HTMX,
    )

    assert linked.status_code == 200
    html = linked.content.decode()
    assert (
        f"Linked {first.reference}, {second.reference}, {known_error.reference} as fixed by "
        "this change." in html
    )
    unlinked = client.post(
        page(cdesk, change, "unlink-problems"),
        {"version": change.version, "problems": [first.reference, known_error.reference]},
    )
    assert unlinked.status_code == 302
    with rls.tenant_scope(cdesk.tenant.pk):
        fixes = ChangeFix.objects.filter(change=change).values("problem_id", "known_error_id")
        assert list(fixes) == [{"problem_id": second.pk, "known_error_id": None}]
    assert f"Unlinked {first.reference}, {known_error.reference}." in messages_of(
        client, cdesk, change
    )


def test_linking_an_unknown_problem_is_a_400_naming_it(cdesk, pdesk, client):
    change = make_change(cdesk, "assessment")
    problem = make_problem(pdesk)
    before = change_state(cdesk, change)

    response = as_user(client, cdesk.manager).post(
        page(cdesk, change, "link-problems"),
        {"version": change.version, "problems": f"{problem.reference}, PRB-000999"},
    )

    assert response.status_code == 400
    html = response.content.decode()
    assert 'id="link-problems-problems_error"' in html
    assert "PRB-000999 is not known here." in html
    assert f"{problem.reference}, PRB-000999" in html  # the input is kept
    assert change_state(cdesk, change) == before
    with rls.tenant_scope(cdesk.tenant.pk):
        assert not ChangeFix.objects.filter(change=change).exists()


def test_an_agent_records_incidents_and_a_change_manager_unrecords_one(cdesk, client):
    change = make_change(cdesk, "implementing")
    first, second = make_incident(cdesk.desk), make_incident(cdesk.desk)

    recorded = as_user(client, cdesk.desk.l1_agent).post(
        page(cdesk, change, "record-incidents"),
        {"version": change.version, "incidents": f"{first.reference} {second.reference}"},
    )
    assert recorded.status_code == 302
    html = messages_of(client, cdesk, change)
    assert f"Recorded {first.reference}, {second.reference} as caused by this change." in html

    unrecorded = as_user(client, cdesk.manager).post(
        page(cdesk, change, "unrecord-incidents"),
        {"version": change.version, "incidents": [first.reference]},
    )
    assert unrecorded.status_code == 302
    with rls.tenant_scope(cdesk.tenant.pk):
        caused = list(ChangeIncident.objects.filter(change=change).values_list("incident_id"))
    assert caused == [(second.pk,)]
    assert f"unrecorded {first.reference}" in messages_of(client, cdesk, change)


def test_editing_offers_the_tenants_services_and_staff(cdesk, client):
    change = make_change(cdesk)
    form = as_user(client, cdesk.manager).get(page(cdesk, change, "edit")).content.decode()
    assert '<details class="action-panel" id="panel-edit" open>' in form
    assert f'<option value="{cdesk.desk.service.pk}" selected>' in form
    assert f'<option value="{cdesk.manager.pk}" selected>carl-changes</option>' in form
    assert 'value="2027-01-04T10:00"' in form
    assert "rita-requester" not in form  # requesters are no owners


# --- Refusals -----------------------------------------------------------------------------------


def test_a_missing_outcome_is_a_400_with_the_field_error_kept_open(cdesk, client):
    change = make_change(cdesk, "review")
    before = change_state(cdesk, change)

    response = as_user(client, cdesk.manager).post(
        page(cdesk, change, "close"), {"version": change.version, "note": "It went well."}
    )

    assert response.status_code == 400
    html = response.content.decode()
    assert 'id="close-outcome_error"' in html
    assert '<details class="action-panel" id="panel-close" open>' in html
    assert "It went well." in html
    assert change_state(cdesk, change) == before


def test_a_window_ending_before_it_starts_is_a_400(cdesk, client):
    change = make_change(cdesk)
    before = change_state(cdesk, change)

    response = as_user(client, cdesk.manager).post(
        page(cdesk, change, "edit"),
        {
            "version": change.version,
            "title": "Upgrade",
            "change_type": "normal",
            "planned_start": "2027-02-01T09:00",
            "planned_end": "2027-02-01T08:00",
        },
    )

    assert response.status_code == 400
    assert 'id="edit-planned_end_error"' in response.content.decode()
    assert change_state(cdesk, change) == before


def test_requesting_approval_without_a_risk_is_a_400_saying_so(cdesk, client):
    change = make_change(cdesk)
    with rls.tenant_scope(cdesk.tenant.pk):
        services.change_submit(**ids(cdesk, change))
    change = reload(cdesk, change)
    before = change_state(cdesk, change)

    response = as_user(client, cdesk.manager).post(
        page(cdesk, change, "request-approval"), {"version": change.version}
    )

    assert response.status_code == 400
    assert "Assess the risk: impact, likelihood and backout difficulty." in (
        response.content.decode()
    )
    assert change_state(cdesk, change) == before


def test_an_illegal_transition_is_a_409_page_that_changes_nothing(cdesk, client):
    change = make_change(cdesk)
    before = change_state(cdesk, change)

    response = as_user(client, cdesk.manager).post(
        page(cdesk, change, "start"), {"version": change.version}
    )

    assert response.status_code == 409
    assert "Cannot start implementing a normal change that is draft." in (response.content.decode())
    assert change_state(cdesk, change) == before


def test_a_blackout_window_refuses_scheduling_with_a_409(cdesk, client):
    change = make_change(cdesk, "assessment", ChangeType.STANDARD)
    with rls.tenant_scope(cdesk.tenant.pk):
        BlackoutWindow.objects.create(
            tenant=cdesk.tenant,
            name="Year-end freeze",
            starts_at=START - timedelta(days=1),
            ends_at=END + timedelta(days=1),
        )
    before = change_state(cdesk, change)

    response = as_user(client, cdesk.manager).post(
        page(cdesk, change, "schedule"), {"version": change.version}
    )

    assert response.status_code == 409
    assert "The planned window overlaps a blackout window" in response.content.decode()
    assert change_state(cdesk, change) == before


def test_a_stale_version_overwrites_nothing_and_says_who_changed_what(cdesk, client):
    # Given a manager's form made before the admin submitted the change
    change = make_change(cdesk)
    stale = change.version
    with rls.tenant_scope(cdesk.tenant.pk):
        services.change_submit(**ids(cdesk, change, cdesk.desk.admin))
    before = change_state(cdesk, change)

    # When the manager cancels it with the old version
    response = as_user(client, cdesk.manager).post(
        page(cdesk, change, "cancel"), {"version": stale, "reason": "A duplicate."}
    )

    # Then nothing is written, the change is named and the input kept on the new version
    assert response.status_code == 409
    html = response.content.decode()
    assert "was changed by ada-admin" in html
    assert "submitted it for assessment" in html
    assert "A duplicate." in html
    assert f'name="version" value="{stale + 1}"' in html
    assert change_state(cdesk, change) == before


def test_an_unknown_action_is_a_404(cdesk, client):
    change = make_change(cdesk)
    response = as_user(client, cdesk.manager).post(page(cdesk, change, "explode"), {})
    assert response.status_code == 404


# --- The risk preview ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answers", "risk"),
    [
        ((1, 1, 1), "Low"),
        ((2, 1, 1), "Low"),
        ((2, 2, 1), "Medium"),
        ((3, 1, 1), "Medium"),
        ((3, 2, 1), "High"),
        ((1, 3, 3), "High"),
        ((2, 3, 2), "Medium"),
    ],
)
def test_the_risk_preview_gives_the_risk_of_three_answers(cdesk, client, answers, risk):
    impact, likelihood, backout = answers
    response = as_user(client, cdesk.desk.l1_agent).get(
        preview(cdesk),
        {"impact": impact, "likelihood": likelihood, "backout": backout},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    assert response.content.decode().strip() == f"Resulting risk: {risk}"


def test_the_risk_preview_is_a_page_without_javascript(cdesk, client):
    response = as_user(client, cdesk.desk.l1_agent).get(
        preview(cdesk), {"impact": 3, "likelihood": 3, "backout": 1}
    )
    assert response.status_code == 200
    assert "<title>Risk of a change" in response.content.decode()
    assert "Resulting risk: High" in response.content.decode()


def test_the_risk_preview_waits_for_three_answers_and_refuses_bad_ones(cdesk, client):
    as_user(client, cdesk.manager)
    incomplete = client.get(preview(cdesk), {"impact": 3, "likelihood": ""})
    assert incomplete.status_code == 200
    assert "answer all three" in incomplete.content.decode()
    for bad in ({"impact": 4, "likelihood": 1, "backout": 1}, {"impact": "high"}):
        response = client.get(preview(cdesk), bad)
        assert response.status_code == 400
        assert "Resulting risk: unknown" in response.content.decode()
    as_user(client, cdesk.desk.requester)
    assert client.get(preview(cdesk), {"impact": 1}).status_code == 403


# --- Roles: the page and the API agree -----------------------------------------------------------


def test_the_page_grants_each_action_to_the_roles_the_api_does():
    for spec in ACTIONS.values():
        assert spec.roles == ChangeViewSet.action_roles[spec.api_action], spec.slug
    assert {spec.api_action for spec in ACTIONS.values()} == (
        set(ChangeViewSet.input_serializer_classes) - {"create"}
    )


@pytest.mark.parametrize("action", list(ACTIONS))
def test_each_caller_gets_what_a_record_action_grants(
    client, tenant_a, tenant_b, make_member, action
):
    # A draft change of A, on which nobody holds an approver's grant: a decision is a 404 even
    # for the roles granted it (as in the API), any other action a 400 for the empty form.
    assert_record_action_roles(
        client,
        tenant_a,
        tenant_b,
        make_member,
        url_name="changes:action",
        action=action,
        granted=ACTIONS[action].roles,
        make_reference=lambda tenant, user: FACTORIES[Change](tenant=tenant).reference,
        granted_status=404 if action in DECISIONS else 400,
    )


# --- Queries ------------------------------------------------------------------------------------


def _round_trip(cdesk, change: Change) -> None:
    """Draft → assessment → awaiting approval → rejected back to draft: a decision and events."""
    with rls.tenant_scope(cdesk.tenant.pk):
        services.change_submit(**ids(cdesk, change))
        services.change_assess_risk(
            **ids(cdesk, change), risk_impact=2, risk_likelihood=2, risk_backout=2
        )
        services.change_request_approval(**ids(cdesk, change))
        services.change_reject(**ids(cdesk, change, cdesk.desk.l2_agent), comment="Not now.")


def _grow(cdesk, pdesk, change: Change, count: int) -> None:
    for _ in range(count):
        _round_trip(cdesk, change)
        link(cdesk, change, make_problem(pdesk), make_known_error(pdesk))
        record(cdesk, change, make_incident(cdesk.desk))


def test_the_record_costs_a_fixed_number_of_queries(
    cdesk, pdesk, client, django_assert_max_num_queries
):
    # Given a draft change with one of everything
    make_change(cdesk, "scheduled")  # an overlap to warn of
    change = make_change(cdesk)
    _grow(cdesk, pdesk, change, 1)
    as_user(client, cdesk.manager)
    client.get(page(cdesk, change))  # warm caches (content types, permissions)

    with CaptureQueriesContext(connection) as few:
        assert client.get(page(cdesk, change)).status_code == 200

    # When it has three times as many decisions, links and events
    _grow(cdesk, pdesk, change, 2)
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get(page(cdesk, change))

    # Then the page costs no more
    assert response.status_code == 200
    html = response.content.decode()
    assert html.count("rejected it (round") == 3
    assert len(few.captured_queries) <= 40, [q["sql"][:120] for q in few.captured_queries]
