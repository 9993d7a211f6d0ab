"""The incident record page: what each member sees, every action through the page's forms and
the same services as the API, stale versions, refusals, and a query count that does not grow
with the timeline."""

from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from incidents import services
from incidents.api.views import IncidentViewSet
from incidents.choices import EventKind
from incidents.forms.actions import ACTIONS
from incidents.models import Incident, IncidentEvent, SlaClock
from itsm.tenancy import rls
from itsm.tenancy.choices import MembershipRole
from tests.factories import IncidentFactory, TeamFactory, TenantFactory
from tests.incidents.conftest import incident_state, make_incident

HTMX = {"HTTP_HX_REQUEST": "true"}


def page(desk, incident: Incident, action: str = "") -> str:
    url = f"/t/{desk.tenant.slug}/incidents/{incident.reference}/"
    return f"{url}{action}/" if action else url


def reload(desk, incident: Incident) -> Incident:
    with rls.tenant_scope(desk.tenant.pk):
        return Incident.objects.select_related("assignment_team", "assignee", "commander").get(
            pk=incident.pk
        )


def kinds(desk, incident: Incident) -> list[str]:
    with rls.tenant_scope(desk.tenant.pk):
        return list(
            IncidentEvent.objects.filter(incident=incident)
            .order_by("created_at", "id")
            .values_list("kind", flat=True)
        )


def as_user(client, user):
    client.force_login(user)
    return client


# --- What the page shows ----------------------------------------------------------------------


def test_the_record_shows_header_clocks_fields_and_timeline(desk, client):
    # Given an incident on hold, worked by L1
    incident = make_incident(desk, "on_hold")

    # When an agent opens it
    response = as_user(client, desk.l1_agent).get(page(desk, incident))

    # Then the header, both clocks (response met, resolution paused), fields and timeline show
    assert response.status_code == 200
    html = response.content.decode()
    assert f"{incident.reference} · Mail is down" in html
    assert '<span class="tag p4" title="Priority">SEV4</span>' in html
    assert "On hold" in html
    assert "Response SLA:" in html
    assert '<span class="sla sla-ok">met' in html
    assert '<li data-warn="50,75,90">' in html
    assert '<time class="sla sla-paused" datetime="" data-paused data-remaining="' in html
    assert "data-server-now=" in html
    assert "Awaiting caller" in html  # the hold reason
    assert "rita-requester" in html  # the caller
    assert "put it on hold: awaiting caller" in html
    assert 'data-shortcut="c"' in html


def test_a_running_clock_ticks_and_a_breached_one_says_when(desk, client):
    # Given an incident whose response clock breached before it was acknowledged
    incident = make_incident(desk)
    with rls.tenant_scope(desk.tenant.pk):
        clock = SlaClock.objects.get(incident=incident, kind="response")
        SlaClock.objects.filter(pk=clock.pk).update(
            started_at=clock.started_at - timedelta(days=1),
            due_at=clock.started_at - timedelta(hours=23),
            breached_at=clock.started_at - timedelta(hours=23),
        )
        services.incident_acknowledge(
            tenant=desk.tenant, incident_id=incident.pk, actor=desk.l1_agent
        )

    html = as_user(client, desk.l1_agent).get(page(desk, incident)).content.decode()

    # Then the response clock is breached, with when; the resolution clock counts down
    assert '<span class="sla sla-breached">breached <time datetime=' in html
    assert 'data-kind="resolution" tabindex="0"><span class="sla-text">' in html


def test_an_incident_of_another_tenant_is_a_404(desk, client):
    # Given an incident of another tenant with the same number as one of the desk's
    other = TenantFactory(slug="other")
    foreign = IncidentFactory(tenant=other, title="Secret")
    make_incident(desk)

    # When a desk agent opens the other tenant's incident through either tenant
    client = as_user(client, desk.l1_agent)
    through_other = client.get(f"/t/other/incidents/{foreign.reference}/")
    missing = client.get(f"/t/{desk.tenant.slug}/incidents/INC-999999/")
    garbage = client.get(f"/t/{desk.tenant.slug}/incidents/not-a-reference/")

    # Then neither exists for them
    assert [through_other.status_code, missing.status_code, garbage.status_code] == [404] * 3


def test_a_non_member_gets_a_404_and_changes_nothing(desk, client, make_member):
    incident = make_incident(desk, "in_progress")
    stranger = make_member(TenantFactory(slug="elsewhere"), MembershipRole.TENANT_ADMIN)
    before = incident_state(desk, incident)

    client = as_user(client, stranger)
    shown = client.get(page(desk, incident))
    posted = client.post(
        page(desk, incident, "hold"),
        {"version": incident.version, "hold_reason": "awaiting_vendor"},
    )

    assert (shown.status_code, posted.status_code) == (404, 404)
    assert incident_state(desk, incident) == before


# --- Requesters --------------------------------------------------------------------------------


def test_a_requester_sees_the_public_timeline_and_no_staff_actions(desk, client):
    # Given their incident with a work note and a comment
    incident = make_incident(desk, "in_progress")
    with rls.tenant_scope(desk.tenant.pk):
        ids = {"tenant": desk.tenant, "incident_id": incident.pk, "actor": desk.l1_agent}
        services.incident_comment(**ids, body="Internal: relay is flaky", is_public=False)
        services.incident_comment(**ids, body="We are on it.", is_public=True)

    # When the requester opens it
    response = as_user(client, desk.requester).get(page(desk, incident))

    # Then they see the comment, not the work note, and may only comment
    html = response.content.decode()
    assert response.status_code == 200
    assert "We are on it." in html
    assert "relay is flaky" not in html
    assert "Work notes" not in html  # no such timeline filter either
    for slug in ACTIONS:
        offered = f"/{incident.reference}/{slug}/" in html
        assert offered == (slug == "comment"), slug
    assert "priority-matrix" not in html


def test_a_requester_cannot_open_someone_elses_incident(desk, client):
    incident = make_incident(desk, "in_progress")  # reported by desk.requester
    client = as_user(client, desk.other_requester)
    assert client.get(page(desk, incident)).status_code == 404
    response = client.post(page(desk, incident, "comment"), {"body": "Me too"})
    assert response.status_code == 404
    assert kinds(desk, incident).count(EventKind.COMMENT) == 0


def test_a_requester_confirms_a_resolved_incident(desk, client):
    incident = make_incident(desk, "resolved")
    client = as_user(client, desk.requester)
    html = client.get(page(desk, incident)).content.decode()
    assert "Confirm the resolution and close" in html
    assert f"/{incident.reference}/reopen/" in html

    response = client.post(page(desk, incident, "close"), {"version": incident.version})

    assert response.status_code == 302
    assert reload(desk, incident).status == "closed"


def test_a_requester_reopens_a_resolved_incident(desk, client):
    incident = make_incident(desk, "resolved")
    response = as_user(client, desk.requester).post(
        page(desk, incident, "reopen"),
        {"version": incident.version, "reason": "Still cannot send mail."},
    )
    assert response.status_code == 302
    reopened = reload(desk, incident)
    assert (reopened.status, reopened.reopen_count) == ("in_progress", 1)


def test_a_requester_may_not_put_on_hold(desk, client):
    incident = make_incident(desk, "in_progress")
    before = incident_state(desk, incident)
    response = as_user(client, desk.requester).post(
        page(desk, incident, "hold"),
        {"version": incident.version, "hold_reason": "awaiting_caller"},
    )
    assert response.status_code == 403
    assert "may not put on hold" in response.content.decode()
    assert incident_state(desk, incident) == before


# --- Every action through the page -------------------------------------------------------------


def _action_cases(desk) -> dict[str, tuple[str, dict[str, Any], Any]]:
    """action -> (state before, form data, what must hold afterwards)."""
    return {
        "acknowledge": ("new", {}, lambda i: i.status == "in_progress" and i.acknowledged_at),
        "assign": (
            "in_progress",
            {"team": desk.l2.pk, "assignee": desk.l2_agent.pk},
            lambda i: (i.assignment_team, i.assignee) == (desk.l2, desk.l2_agent),
        ),
        "escalate": (
            "in_progress",
            {"kind": "functional", "reason": "Needs mail server access."},
            lambda i: i.assignment_team == desk.l2 and i.escalation_count == 1,
        ),
        "hold": (
            "in_progress",
            {"hold_reason": "awaiting_vendor", "note": "Ticket 77 with the vendor."},
            lambda i: (i.status, i.hold_reason) == ("on_hold", "awaiting_vendor"),
        ),
        "resume": ("on_hold", {"note": "Caller answered."}, lambda i: i.status == "in_progress"),
        "resolve": (
            "in_progress",
            {"resolution_code": "fixed", "resolution_notes": "Replaced the relay."},
            lambda i: (i.status, i.resolution_notes) == ("resolved", "Replaced the relay."),
        ),
        "close": ("resolved", {"note": ""}, lambda i: i.status == "closed"),
        "reopen": ("resolved", {"reason": "Broke again."}, lambda i: i.status == "in_progress"),
        "cancel": ("new", {"reason": "Duplicate."}, lambda i: i.status == "cancelled"),
        "change-priority": (
            "in_progress",
            {"impact": 1, "urgency": 1, "reason": "Whole company affected."},
            lambda i: (i.impact, i.urgency, i.priority) == (1, 1, 1),
        ),
        "declare-major": (
            "in_progress",
            {"commander": desk.manager.pk, "reason": "Company-wide outage."},
            lambda i: i.is_major and i.commander == desk.manager,
        ),
        "comment": ("in_progress", {"body": "Looking into it."}, lambda i: True),
        "work-note": ("in_progress", {"body": "Relay logs attached."}, lambda i: True),
        "stakeholder-update": ("in_progress", {"body": "ETA one hour."}, lambda i: True),
    }


EXPECTED_EVENT = {
    "acknowledge": EventKind.STATUS,
    "assign": EventKind.ASSIGNMENT,
    "escalate": EventKind.ESCALATION,
    "hold": EventKind.STATUS,
    "resume": EventKind.STATUS,
    "resolve": EventKind.STATUS,
    "close": EventKind.STATUS,
    "reopen": EventKind.STATUS,
    "cancel": EventKind.STATUS,
    "change-priority": EventKind.PRIORITY,
    "declare-major": EventKind.MAJOR_DECLARED,
    "comment": EventKind.COMMENT,
    "work-note": EventKind.WORK_NOTE,
    "stakeholder-update": EventKind.STAKEHOLDER_UPDATE,
}


def test_every_action_is_tested_here():
    assert set(EXPECTED_EVENT) == set(ACTIONS)


@pytest.mark.parametrize("action", list(EXPECTED_EVENT))
def test_each_action_through_the_page_runs_its_service(desk, client, action):
    # Given an incident in the state the action needs, offered on the page to an admin
    state, data, holds = _action_cases(desk)[action]
    incident = make_incident(desk, state)
    if action == "stakeholder-update":
        with rls.tenant_scope(desk.tenant.pk):
            services.incident_declare_major(
                tenant=desk.tenant,
                incident_id=incident.pk,
                actor=desk.admin,
                commander=desk.manager,
                reason="Outage.",
            )
        incident = reload(desk, incident)
    client = as_user(client, desk.admin)
    assert f"/{incident.reference}/{action}/" in client.get(page(desk, incident)).content.decode()
    events_before = len(kinds(desk, incident))

    # When the admin submits its form with the version they read
    response = client.post(page(desk, incident, action), {"version": incident.version, **data})

    # Then the service ran: Post/Redirect/Get back to the record with a message
    assert response.status_code == 302, response.content.decode()[:2000]
    assert response["Location"].startswith(page(desk, incident))
    after = reload(desk, incident)
    assert holds(after)
    assert after.version == incident.version + 1
    assert kinds(desk, incident)[events_before:] == [EXPECTED_EVENT[action]]
    shown = client.get(response["Location"]).content.decode()
    assert ACTIONS[action].done in shown


def test_with_htmx_the_record_is_rerendered_in_place(desk, client):
    incident = make_incident(desk, "in_progress")
    response = as_user(client, desk.l1_agent).post(
        page(desk, incident, "comment"), {"body": "Restarting the relay now."}, **HTMX
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert html.lstrip().startswith('<div id="record"')
    assert "<html" not in html
    assert "Restarting the relay now." in html
    assert "Comment added." in html
    # the forms now carry the version the comment made
    assert f'name="version" value="{incident.version + 1}"' in html


def test_acknowledge_is_one_button_with_its_shortcut(desk, client):
    incident = make_incident(desk)
    html = as_user(client, desk.l1_agent).get(page(desk, incident)).content.decode()
    assert 'data-shortcut="a">Acknowledge</button>' in html


def test_the_assign_form_offers_the_tenants_teams_and_agents_only(desk, client):
    incident = make_incident(desk, "in_progress")
    TeamFactory(tenant=TenantFactory(slug="other"), name="Foreign team")
    html = as_user(client, desk.l1_agent).get(page(desk, incident)).content.decode()
    assign = html.split('id="panel-assign"')[1].split("</details>")[0]
    assert desk.l2_agent.username in assign
    assert desk.requester.username not in assign
    assert desk.other_requester.username not in assign
    assert "Foreign team" not in assign
    assert f'<option value="{desk.l3.pk}">' in assign


def test_escalation_offers_the_next_tier(desk, client):
    incident = make_incident(desk, "in_progress")  # with L1
    html = as_user(client, desk.l1_agent).get(page(desk, incident)).content.decode()
    escalate = html.split('id="panel-escalate"')[1].split("</details>")[0]
    assert f'<option value="{desk.l2.pk}">' in escalate
    assert f'<option value="{desk.l3.pk}">' not in escalate
    assert f'<option value="{desk.l1.pk}">' not in escalate


def test_the_timeline_names_teams_by_their_names(desk, client):
    incident = make_incident(desk, "in_progress")  # with L1
    with rls.tenant_scope(desk.tenant.pk):
        services.incident_escalate(
            tenant=desk.tenant,
            incident_id=incident.pk,
            actor=desk.l1_agent,
            kind="functional",
            reason="Needs L2.",
        )
    html = as_user(client, desk.l1_agent).get(page(desk, incident)).content.decode()
    assert f"assigned it to {desk.l1.name}" in html
    assert f"escalated it to {desk.l2.name}" in html


def test_change_priority_previews_with_the_tenants_matrix(desk, client):
    incident = make_incident(desk, "in_progress")
    html = as_user(client, desk.l1_agent).get(page(desk, incident)).content.decode()
    assert 'id="priority-matrix" type="application/json">' in html
    assert '"1,1": 1' in html
    assert 'data-impact="change-priority-impact" data-urgency="change-priority-urgency"' in html
    assert 'id="change-priority-impact"' in html


def test_resolve_is_offered_only_to_whom_the_service_allows(desk, client):
    incident = make_incident(desk, "in_progress")  # team L1
    outsider = as_user(client, desk.outsider_agent)
    assert (
        f"/{incident.reference}/resolve/" not in outsider.get(page(desk, incident)).content.decode()
    )
    before = incident_state(desk, incident)

    response = outsider.post(
        page(desk, incident, "resolve"),
        {"version": incident.version, "resolution_code": "fixed", "resolution_notes": "Done."},
    )

    assert response.status_code == 403
    assert (
        "Only the assigned team, management or a tenant administrator" in response.content.decode()
    )
    assert incident_state(desk, incident) == before


# --- Stale versions and refusals ---------------------------------------------------------------


def test_a_stale_version_overwrites_nothing_and_says_who_changed_what(desk, client):
    # Given an agent who read the incident at version v
    incident = make_incident(desk, "in_progress")
    read = incident.version
    # And another agent who put it on hold meanwhile
    with rls.tenant_scope(desk.tenant.pk):
        services.incident_hold(
            tenant=desk.tenant,
            incident_id=incident.pk,
            actor=desk.l2_agent,
            hold_reason="awaiting_vendor",
        )
    before = incident_state(desk, incident)

    # When the first agent resolves with the version they read
    response = as_user(client, desk.l1_agent).post(
        page(desk, incident, "resolve"),
        {"version": read, "resolution_code": "workaround", "resolution_notes": "My typed notes"},
    )

    # Then nothing changed, the other actor and their change are named, the input is kept
    html = response.content.decode()
    assert response.status_code == 409
    assert incident_state(desk, incident) == before
    assert f"{incident.reference} was changed by leo-l2 while you were working on it" in html
    assert "put it on hold: awaiting vendor" in html
    assert "My typed notes" in html
    assert '<option value="workaround" selected>' in html
    assert f'name="version" value="{read + 1}"' in html  # resubmitting is a deliberate choice


def test_a_stale_version_with_htmx_is_a_409_fragment(desk, client):
    incident = make_incident(desk, "in_progress")
    with rls.tenant_scope(desk.tenant.pk):
        services.incident_assign(
            tenant=desk.tenant, incident_id=incident.pk, actor=desk.l2_agent, team=desk.l2
        )
    response = as_user(client, desk.l1_agent).post(
        page(desk, incident, "hold"),
        {"version": incident.version, "hold_reason": "awaiting_caller", "note": "Asked caller"},
        **HTMX,
    )
    html = response.content.decode()
    assert response.status_code == 409
    assert html.lstrip().startswith('<div id="record"')
    assert "leo-l2" in html
    assert f"assigned it to {desk.l2.name}" in html
    assert "Asked caller" in html
    assert reload(desk, incident).status == "in_progress"


def test_an_acknowledgement_that_came_second_names_the_first(desk, client):
    # Given two agents who opened the new incident; the second acknowledges first
    incident = make_incident(desk)
    with rls.tenant_scope(desk.tenant.pk):
        services.incident_acknowledge(
            tenant=desk.tenant, incident_id=incident.pk, actor=desk.l2_agent
        )
    before = incident_state(desk, incident)

    # When the first presses "a"
    response = as_user(client, desk.l1_agent).post(
        page(desk, incident, "acknowledge"), {"version": incident.version}, **HTMX
    )

    # Then they learn who took it, and are offered no stale acknowledge button
    html = response.content.decode()
    assert response.status_code == 409
    assert "was changed by leo-l2" in html
    assert "acknowledged it" in html
    assert 'data-shortcut="a"' not in html
    assert incident_state(desk, incident) == before


def test_a_requester_in_conflict_learns_nothing_internal(desk, client):
    # Given a resolved incident on which an agent wrote a work note after the requester read it
    incident = make_incident(desk, "resolved")
    with rls.tenant_scope(desk.tenant.pk):
        services.incident_comment(
            tenant=desk.tenant,
            incident_id=incident.pk,
            actor=desk.l2_agent,
            body="Internal: relay firmware is suspect",
            is_public=False,
        )
    before = incident_state(desk, incident)

    # When the requester confirms with the version they read
    response = as_user(client, desk.requester).post(
        page(desk, incident, "close"), {"version": incident.version, "note": "Works, thanks"}
    )

    # Then nothing is closed, and the note is neither shown nor its author named
    html = response.content.decode()
    assert response.status_code == 409
    assert "was changed by the service desk while you were working on it" in html
    assert "firmware" not in html
    assert "Works, thanks" in html
    assert incident_state(desk, incident) == before


def test_an_empty_comment_with_htmx_is_a_400_fragment(desk, client):
    incident = make_incident(desk, "in_progress")
    response = as_user(client, desk.requester).post(
        page(desk, incident, "comment"), {"body": "   "}, **HTMX
    )
    html = response.content.decode()
    assert response.status_code == 400
    assert html.lstrip().startswith('<div id="record"')
    assert "This field is required." in html
    assert '<details class="action-panel" id="panel-comment" open>' in html


def test_the_major_incident_panel_shows_commander_and_updates(desk, client):
    incident = make_incident(desk, "in_progress")
    with rls.tenant_scope(desk.tenant.pk):
        ids = {"tenant": desk.tenant, "incident_id": incident.pk}
        services.incident_declare_major(
            **ids, actor=desk.admin, commander=desk.manager, reason="Everyone is affected."
        )
        services.incident_stakeholder_update(**ids, actor=desk.manager, body="Next update 15:00.")

    staff = as_user(client, desk.manager).get(page(desk, incident)).content.decode()
    major = staff.split('class="card major-panel"')[1].split("</section>")[0]
    assert "Incident commander: <strong>mia-manager</strong>" in major
    assert "Next update 15:00." in major
    assert "/stakeholder-update/" in major
    assert '<span class="tag major">Major incident</span>' in staff

    # The l1 agent is neither commander nor management: no update form for them
    agent = as_user(client, desk.l1_agent).get(page(desk, incident)).content.decode()
    assert "/stakeholder-update/" not in agent
    requester = as_user(client, desk.requester).get(page(desk, incident)).content.decode()
    assert "major-panel" not in requester
    assert "Next update 15:00." not in requester


def test_an_illegal_transition_is_a_409_page(desk, client):
    incident = make_incident(desk)  # new: cannot be resumed
    before = incident_state(desk, incident)
    response = as_user(client, desk.l1_agent).post(
        page(desk, incident, "resume"), {"version": incident.version}
    )
    assert response.status_code == 409
    assert "Cannot resume an incident that is new." in response.content.decode()
    assert incident_state(desk, incident) == before


@pytest.mark.parametrize(
    ("action", "state", "data", "field_error"),
    [
        ("hold", "in_progress", {"hold_reason": "awaiting_godot"}, "Select a valid choice."),
        (
            "resolve",
            "in_progress",
            {"resolution_code": "fixed", "resolution_notes": ""},
            "This field is required.",
        ),
        ("cancel", "new", {"reason": "x" * 20001}, "at most 20000 characters"),
        ("comment", "in_progress", {"body": "x" * 20001}, "at most 20000 characters"),
        ("change-priority", "in_progress", {"impact": "9", "urgency": "1", "reason": "r"}, "valid"),
        ("assign", "in_progress", {"team": "abc"}, "Select a valid choice."),
    ],
)
def test_bad_input_is_a_400_with_the_field_error(desk, client, action, state, data, field_error):
    incident = make_incident(desk, state)
    before = incident_state(desk, incident)
    response = as_user(client, desk.admin).post(
        page(desk, incident, action), {"version": incident.version, **data}
    )
    html = response.content.decode()
    assert response.status_code == 400
    assert field_error in html
    assert "Please correct the errors below." in html
    assert incident_state(desk, incident) == before


@pytest.mark.parametrize("version", ["abc", "", "-1", "99999999999999999999", "1.5"])
def test_a_version_that_is_no_number_is_a_400(desk, client, version):
    incident = make_incident(desk)
    before = incident_state(desk, incident)
    response = as_user(client, desk.l1_agent).post(
        page(desk, incident, "acknowledge"), {"version": version}, **HTMX
    )
    assert response.status_code == 400
    assert "The form's version of the incident is not valid" in response.content.decode()
    assert incident_state(desk, incident) == before


def test_a_requirement_the_service_checks_is_a_field_error(desk, client):
    # The escalation target exists for the form, but the service finds no next tier from L3
    incident = make_incident(desk, "in_progress", assignment_team=desk.l3)
    response = as_user(client, desk.admin).post(
        page(desk, incident, "escalate"),
        {"version": incident.version, "kind": "functional", "reason": "Help"},
    )
    assert response.status_code == 400
    assert "Name the team to escalate to." in response.content.decode()


def test_an_unknown_action_is_a_404(desk, client):
    incident = make_incident(desk)
    response = as_user(client, desk.admin).post(page(desk, incident, "delete"), {"version": 1})
    assert response.status_code == 404


# --- Timeline ----------------------------------------------------------------------------------


def test_the_timeline_filters_by_kind_with_and_without_htmx(desk, client):
    incident = make_incident(desk, "in_progress")
    with rls.tenant_scope(desk.tenant.pk):
        ids = {"tenant": desk.tenant, "incident_id": incident.pk, "actor": desk.l1_agent}
        services.incident_comment(**ids, body="A public comment", is_public=True)
        services.incident_comment(**ids, body="An internal note", is_public=False)
    client = as_user(client, desk.l1_agent)

    comments = client.get(page(desk, incident) + "?kind=comments").content.decode()
    notes = client.get(page(desk, incident) + "?kind=work-notes", HTTP_HX_TARGET="timeline", **HTMX)
    events = client.get(page(desk, incident) + "?kind=events").content.decode()

    timeline_of = lambda html: html.split('id="timeline"')[1]  # noqa: E731
    assert "A public comment" in timeline_of(comments)
    assert "An internal note" not in timeline_of(comments)
    fragment = notes.content.decode()
    assert fragment.lstrip().startswith('<section id="timeline"')
    assert "An internal note" in fragment
    assert "A public comment" not in fragment
    assert "recorded the incident" in timeline_of(events)
    assert "A public comment" not in timeline_of(events)


def _page_queries(desk, client, incident) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(page(desk, incident))
    assert response.status_code == 200
    return len(queries)


@pytest.mark.parametrize("user", ["admin", "l1_agent", "requester"])
def test_the_query_count_does_not_grow_with_the_timeline(desk, client, user):
    # Given two incidents, with 3 and 30 timeline events, each with several authors
    short, long = make_incident(desk, "in_progress"), make_incident(desk, "in_progress")
    authors = [desk.l1_agent, desk.l2_agent, desk.admin, desk.requester]
    with rls.tenant_scope(desk.tenant.pk):
        for incident, total in ((short, 3), (long, 30)):
            for n in range(total - len(kinds(desk, incident))):
                services.incident_comment(
                    tenant=desk.tenant,
                    incident_id=incident.pk,
                    actor=authors[n % len(authors)],
                    body=f"Comment {n}",
                    is_public=n % 2 == 0,
                )
    assert (len(kinds(desk, short)), len(kinds(desk, long))) == (3, 30)
    client = as_user(client, getattr(desk, user))
    _page_queries(desk, client, short)  # warm the session

    # When each is shown, then the number of queries is the same
    few, many = _page_queries(desk, client, short), _page_queries(desk, client, long)
    assert few == many, (few, many)
    print(f"record page queries as {user}: {few} (3 events), {many} (30 events)")  # noqa: T201


# --- The page and the API agree ----------------------------------------------------------------


def test_the_page_grants_each_action_to_the_roles_the_api_does():
    for spec in ACTIONS.values():
        assert spec.roles == IncidentViewSet.action_roles[spec.api_action], spec.slug
