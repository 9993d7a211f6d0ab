"""Who may do what to an incident through the API: every role against every endpoint.

Requesters work on the incidents they reported and nothing else; agents work every incident,
but only the assigned team, management or a tenant admin resolve it, and only the commander,
management or a tenant admin post stakeholder updates. A request that is refused changes
nothing: not the incident row, not its timeline.
"""

from dataclasses import dataclass, field
from typing import Any

import pytest

from incidents import services
from incidents.models import Incident, IncidentEvent
from itsm.tenancy import rls
from itsm.tenancy.choices import MembershipRole
from tests.factories import MembershipFactory, TenantFactory, UserFactory
from tests.incidents.conftest import incident_state, make_incident

pytestmark = pytest.mark.django_db


@dataclass(frozen=True)
class Endpoint:
    """One endpoint: how to call it, on an incident in which state, and what success looks like."""

    method: str
    path: str  # "" for the list; "{ref}/..." for an incident
    state: str = "new"
    body: dict[str, Any] = field(default_factory=dict)
    success: int = 200
    writes_event: bool = True


ENDPOINTS: dict[str, Endpoint] = {
    "list": Endpoint("get", "", writes_event=False),
    "retrieve": Endpoint("get", "{ref}/", writes_event=False),
    "create": Endpoint(
        "post", "", body={"title": "Printer on fire", "impact": 2}, success=201, writes_event=False
    ),
    "partial_update": Endpoint("patch", "{ref}/", body={"title": "Mail is down for everyone"}),
    "acknowledge": Endpoint("post", "{ref}/acknowledge/"),
    "assign": Endpoint("post", "{ref}/assign/", body={"team": "l2", "assignee": "leo-l2"}),
    "escalate": Endpoint("post", "{ref}/escalate/", body={"reason": "Needs the mail team."}),
    "hold": Endpoint(
        "post", "{ref}/hold/", state="in_progress", body={"hold_reason": "awaiting_vendor"}
    ),
    "resume": Endpoint("post", "{ref}/resume/", state="on_hold"),
    "resolve": Endpoint(
        "post",
        "{ref}/resolve/",
        state="in_progress",
        body={"resolution_code": "fixed", "resolution_notes": "Renewed the certificate."},
    ),
    "close": Endpoint("post", "{ref}/close/", state="resolved", body={"note": "Works again."}),
    "reopen": Endpoint("post", "{ref}/reopen/", state="resolved", body={"reason": "Broke again."}),
    "cancel": Endpoint("post", "{ref}/cancel/", body={"reason": "Raised twice."}),
    "change_priority": Endpoint(
        "post",
        "{ref}/change-priority/",
        body={"impact": 1, "urgency": 1, "reason": "The whole company is affected."},
    ),
    "comment": Endpoint("post", "{ref}/comment/", body={"body": "Any news?"}, success=201),
    "work_note": Endpoint(
        "post", "{ref}/work-note/", body={"body": "Relay 2 is down."}, success=201
    ),
    "declare_major": Endpoint(
        "post",
        "{ref}/declare-major/",
        body={"commander": "mia-manager", "reason": "Company-wide outage."},
    ),
    "stakeholder_update": Endpoint(
        "post",
        "{ref}/stakeholder-update/",
        state="major",
        body={"body": "Mail is back within the hour."},
        success=201,
    ),
    "timeline": Endpoint("get", "{ref}/timeline/", writes_event=False),
}

REQUESTER_ACTIONS = frozenset(
    {"list", "retrieve", "create", "comment", "close", "reopen", "timeline"}
)
# The team is l1, the commander of a major incident is lena-l1 (the team's agent).
ROLES = [
    "requester",
    "other_requester",
    "outsider_agent",
    "team_agent",
    "manager",
    "tenant_admin",
    "anonymous",
    "other_tenant_member",
]

ROLE_REFUSED = {
    "code": "permission_denied",
    "message": "Your role does not allow this action.",
    "fields": {},
}
NOT_FOUND = {"code": "not_found", "message": "Not found.", "fields": {}}
NO_SUCH_TENANT = {"code": "not_found", "message": "No such tenant.", "fields": {}}
NOT_AUTHENTICATED = {
    "code": "not_authenticated",
    "message": "Authentication credentials were not provided.",
    "fields": {},
}
NOT_THE_RESOLVER = {
    "code": "not_allowed",
    "message": (
        "Only the assigned team, management or a tenant administrator may resolve this incident."
    ),
    "fields": {},
}
NOT_THE_COMMANDER = {
    "code": "not_allowed",
    "message": "Only the incident commander or management post stakeholder updates.",
    "fields": {},
}


def expected_refusal(role: str, action: str) -> tuple[int, dict[str, Any]] | None:
    """The refusal `role` gets for `action`, or None when it is allowed."""
    if role == "anonymous":
        return 401, NOT_AUTHENTICATED
    if role == "other_tenant_member":
        return 404, NO_SUCH_TENANT
    if role == "other_requester":
        # Not the reporter: the incident does not exist for them, whatever the action.
        return None if action in ("list", "create") else (404, NOT_FOUND)
    if role == "requester":
        return None if action in REQUESTER_ACTIONS else (403, ROLE_REFUSED)
    if role == "outsider_agent" and action == "resolve":
        return 403, NOT_THE_RESOLVER
    if role == "outsider_agent" and action == "stakeholder_update":
        return 403, NOT_THE_COMMANDER
    return None


def _user(desk, role: str) -> Any:
    if role == "anonymous":
        return None
    if role == "other_tenant_member":
        other = TenantFactory(slug="globex", name="Globex")
        # The strongest role over there: it counts for nothing in acme.
        return MembershipFactory(
            tenant=other, role=MembershipRole.TENANT_ADMIN, user=UserFactory(username="gus")
        ).user
    return {
        "requester": desk.requester,
        "other_requester": desk.other_requester,
        "outsider_agent": desk.outsider_agent,
        "team_agent": desk.l1_agent,
        "manager": desk.manager,
        "tenant_admin": desk.admin,
    }[role]


def _incident(desk, state: str) -> Incident:
    if state != "major":
        return make_incident(desk, state)
    incident = make_incident(desk, "in_progress")
    with rls.tenant_scope(desk.tenant.pk):
        services.incident_declare_major(
            tenant=desk.tenant,
            incident_id=incident.pk,
            actor=desk.manager,
            commander=desk.l1_agent,
            reason="Company-wide outage.",
        )
        incident.refresh_from_db()
    return incident


def _snapshot(desk, incident: Incident) -> tuple[dict[str, Any], int, int]:
    """The incident row, its event count, and how many incidents the tenant has."""
    row, events = incident_state(desk, incident)
    with rls.tenant_scope(desk.tenant.pk):
        incidents = Incident.objects.count()
    return row, events, incidents


def _call(client, desk, endpoint: Endpoint, incident: Incident) -> Any:
    url = desk.url(endpoint.path.format(ref=incident.reference))
    return getattr(client, endpoint.method)(url, endpoint.body, format="json")


@pytest.mark.parametrize("action", list(ENDPOINTS))
@pytest.mark.parametrize("role", ROLES)
def test_role_by_action(desk, api_client, role, action):
    # Given an incident of rita-requester, assigned to l1, in the state the action needs
    endpoint = ENDPOINTS[action]
    incident = _incident(desk, endpoint.state)
    row_before, events_before, incidents_before = _snapshot(desk, incident)
    client = api_client(_user(desk, role))

    # When the role calls the endpoint
    response = _call(client, desk, endpoint, incident)

    # Then it is refused exactly as the matrix says, and nothing changes; or it succeeds
    row_after, events_after, incidents_after = _snapshot(desk, incident)
    refusal = expected_refusal(role, action)
    if refusal is not None:
        assert (response.status_code, response.json()) == refusal
        assert (row_after, events_after, incidents_after) == (
            row_before,
            events_before,
            incidents_before,
        )
        return
    assert response.status_code == endpoint.success, response.content
    assert events_after == events_before + (1 if endpoint.writes_event else 0)
    assert incidents_after == incidents_before + (1 if action == "create" else 0)
    if endpoint.writes_event and action not in ("comment", "work_note", "stakeholder_update"):
        assert row_after["version"] == row_before["version"] + 1
    if not endpoint.writes_event:
        assert row_after == row_before


def test_requesters_list_only_what_they_reported(desk, api_client):
    # Given an incident reported by each requester, and one an agent reported for nobody else
    rita = make_incident(desk, reported_by=desk.requester)
    ralf = make_incident(desk, reported_by=desk.other_requester, title="VPN drops")
    agents = make_incident(desk, reported_by=desk.l1_agent, title="Disk full")

    # When each requester and an agent list incidents
    def listed(user: Any) -> list[str]:
        response = api_client(user).get(desk.url())
        assert response.status_code == 200
        return [item["reference"] for item in response.json()["results"]]

    # Then each requester sees exactly their own; the agent sees all, newest first
    assert listed(desk.requester) == [rita.reference]
    assert listed(desk.other_requester) == [ralf.reference]
    assert listed(desk.outsider_agent) == [agents.reference, ralf.reference, rita.reference]


def test_requesters_read_only_the_public_timeline(desk, api_client):
    # Given an incident with public and internal events
    incident = make_incident(desk, "in_progress")  # created, assigned to l1, acknowledged
    with rls.tenant_scope(desk.tenant.pk):
        ids = {"tenant": desk.tenant, "incident_id": incident.pk, "actor": desk.l1_agent}
        services.incident_escalate(**ids, kind="functional", reason="Needs L2.")
        services.incident_comment(**ids, body="Relay 2 is down.", is_public=False)
        services.incident_comment(**ids, body="We are on it.", is_public=True)

    # When the reporter and an agent read the timeline
    as_reporter = api_client(desk.requester).get(desk.url(f"{incident.reference}/timeline/"))
    as_agent = api_client(desk.l1_agent).get(desk.url(f"{incident.reference}/timeline/"))

    # Then the reporter sees the public events only: no routing, no work notes
    assert as_reporter.status_code == 200
    assert [(event["kind"], event["body"]) for event in as_reporter.json()] == [
        ("created", ""),
        ("status", ""),
        ("comment", "We are on it."),
    ]
    assert all(event["is_public"] for event in as_reporter.json())
    assert as_agent.status_code == 200
    assert [event["kind"] for event in as_agent.json()] == [
        "created",
        "assignment",
        "status",
        "escalation",
        "work_note",
        "comment",
    ]


@pytest.mark.parametrize(
    ("extra", "value"),
    [("assignment_team", "l2"), ("reported_by", "ralf-requester"), ("assignee", "leo-l2")],
)
def test_requester_create_refuses_routing_and_reporter(desk, api_client, extra, value):
    # Given nothing recorded yet
    # When a requester reports an incident and also names a team, a reporter or an assignee
    response = api_client(desk.requester).post(
        desk.url(), {"title": "Printer on fire", extra: value}, format="json"
    )

    # Then the whole request is refused on that field; nothing is recorded
    assert response.status_code == 400
    assert response.json() == {
        "code": "invalid",
        "message": "Invalid input.",
        "fields": {extra: ["Unknown field."]},
    }
    with rls.tenant_scope(desk.tenant.pk):
        assert Incident.objects.count() == 0
        assert IncidentEvent.objects.count() == 0


def test_requester_create_makes_them_the_reporter(desk, api_client):
    # When a requester reports an incident
    response = api_client(desk.requester).post(
        desk.url(), {"title": "Printer on fire", "impact": 2, "urgency": 1}, format="json"
    )

    # Then they are its reporter, it is unrouted, and the matrix rated it
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["reference"], body["reported_by"], body["status"]) == (
        "INC-000001",
        "rita-requester",
        "new",
    )
    assert (body["assignment_team"], body["assignee"], body["priority"]) == (None, None, 2)
    with rls.tenant_scope(desk.tenant.pk):
        incident = Incident.objects.get()
        assert incident.reported_by == desk.requester
        event = IncidentEvent.objects.get()
    assert (event.kind, event.actor, event.is_public) == ("created", desk.requester, True)


def test_stakeholder_update_on_an_incident_that_is_not_major_is_a_409(desk, api_client):
    # Given an open incident that is not major
    incident = make_incident(desk, "in_progress")
    row_before, events_before, _ = _snapshot(desk, incident)

    # When the tenant admin posts a stakeholder update
    response = api_client(desk.admin).post(
        desk.url(f"{incident.reference}/stakeholder-update/"), {"body": "Soon."}, format="json"
    )

    # Then it is a conflict and nothing changes
    assert response.status_code == 409
    assert response.json() == {
        "code": "invalid_transition",
        "message": "Stakeholder updates belong to open major incidents.",
        "fields": {},
        "allowed_actions": [],
    }
    assert _snapshot(desk, incident)[:2] == (row_before, events_before)


@pytest.mark.parametrize("agent", ["l2_agent", "l3_agent", "outsider_agent"])
def test_only_the_assigned_team_resolves(desk, api_client, agent):
    # Given an incident in progress with team l1
    incident = make_incident(desk, "in_progress")
    row_before, events_before, _ = _snapshot(desk, incident)

    # When an agent of another team (or of none) resolves it
    response = api_client(getattr(desk, agent)).post(
        desk.url(f"{incident.reference}/resolve/"),
        {"resolution_code": "fixed", "resolution_notes": "Restarted."},
        format="json",
    )

    # Then it is refused with not_allowed and nothing changes
    assert (response.status_code, response.json()) == (403, NOT_THE_RESOLVER)
    assert _snapshot(desk, incident)[:2] == (row_before, events_before)
