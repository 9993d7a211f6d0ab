"""Incidents linked to problems: in bulk, one problem per incident, both ends, holds, the
resolution flow, and a query count that does not grow with the incidents."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from incidents.models import Incident, IncidentEvent
from itsm.notifications.models import Notification
from itsm.tenancy import rls
from problems import services
from problems.models import ProblemEvent, ProblemIncident
from tests.factories import IncidentFactory, TenantFactory
from tests.incidents.conftest import make_incident
from tests.problems.conftest import make_problem, problem_state

pytestmark = pytest.mark.django_db


def _links(pdesk) -> list[tuple[str, str]]:
    with rls.tenant_scope(pdesk.tenant.pk):
        return sorted(
            (link.problem.reference, link.incident.reference)
            for link in ProblemIncident.objects.select_related("problem", "incident")
        )


def _incident_events(pdesk, incident) -> list[IncidentEvent]:
    with rls.tenant_scope(pdesk.tenant.pk):
        return list(IncidentEvent.objects.filter(incident=incident, kind="link").order_by("id"))


def test_an_agent_links_incidents_and_both_ends_show_it(pdesk, api_client):
    desk = pdesk.desk
    problem = make_problem(pdesk)
    incidents = [make_incident(desk, "in_progress") for _ in range(3)]
    references = [incident.reference for incident in incidents]

    # When an agent links three incidents in one request
    response = api_client(desk.l1_agent).post(
        pdesk.url(f"{problem.reference}/link-incidents/"), {"incidents": references}, format="json"
    )

    # Then all three are linked, the problem lists them, and each incident shows its problem
    assert response.status_code == 200, response.content
    assert response.json() == {"changed": references, "unchanged": [], "held": []}
    client = api_client(pdesk.manager)
    listed = client.get(pdesk.url(f"{problem.reference}/incidents/")).json()
    assert [row["reference"] for row in listed] == references
    detail = client.get(pdesk.url(f"{problem.reference}/")).json()
    assert detail["incident_count"] == 3
    incident_detail = client.get(desk.url(f"{references[0]}/")).json()
    assert incident_detail["problem"] == {
        "reference": problem.reference,
        "title": problem.title,
        "status": "new",
    }
    # and requesters, who see no problems, see none on their incident either
    requester_view = api_client(desk.requester).get(desk.url(f"{references[0]}/")).json()
    assert requester_view["problem"] is None
    # and both timelines say so: one problem event for the batch, one event per incident
    with rls.tenant_scope(pdesk.tenant.pk):
        [linked] = ProblemEvent.objects.filter(problem=problem, kind="incidents_linked")
    assert (linked.actor, linked.data) == (desk.l1_agent, {"incidents": references})
    for incident in incidents:
        [event] = _incident_events(pdesk, incident)
        assert event.body == f"Linked to problem {problem.reference}: {problem.title}"
        assert event.data == {"problem": problem.reference, "linked": True}
    # and the incident's own timeline in the API shows the link
    incident_timeline = client.get(desk.url(f"{references[0]}/timeline/")).json()
    assert [event["data"] for event in incident_timeline if event["kind"] == "link"] == [
        {"problem": problem.reference, "linked": True}
    ]
    # and linking the same incidents again changes nothing
    again = api_client(desk.l1_agent).post(
        pdesk.url(f"{problem.reference}/link-incidents/"), {"incidents": references}, format="json"
    )
    assert again.json() == {"changed": [], "unchanged": references, "held": []}


def test_an_incident_links_to_one_problem_only(pdesk, api_client):
    desk = pdesk.desk
    first, second = make_problem(pdesk), make_problem(pdesk)
    taken, free = make_incident(desk), make_incident(desk)
    client = api_client(pdesk.manager)
    client.post(
        pdesk.url(f"{first.reference}/link-incidents/"),
        {"incidents": [taken.reference]},
        format="json",
    )
    before = (problem_state(pdesk, second), _links(pdesk))

    response = client.post(
        pdesk.url(f"{second.reference}/link-incidents/"),
        {"incidents": [free.reference, taken.reference]},
        format="json",
    )

    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "already_linked"
    assert body["fields"]["incidents"] == [f"{taken.reference} is linked to {first.reference}."]
    assert (problem_state(pdesk, second), _links(pdesk)) == before  # all or nothing
    assert _incident_events(pdesk, free) == []


def test_another_tenants_incident_is_an_unknown_one(pdesk, api_client):
    problem = make_problem(pdesk)
    mine = make_incident(pdesk.desk)
    other = TenantFactory()
    theirs = [IncidentFactory(tenant=other) for _ in range(3)][-1]  # INC-000003: not ours
    before = (problem_state(pdesk, problem), _links(pdesk))

    response = api_client(pdesk.manager).post(
        pdesk.url(f"{problem.reference}/link-incidents/"),
        {"incidents": [mine.reference, theirs.reference, "INC-999999", "garbage"]},
        format="json",
    )

    assert response.status_code == 400
    assert response.json()["fields"]["incidents"] == [
        "garbage: no such incident.",
        f"{theirs.reference}: no such incident.",
        "INC-999999: no such incident.",
    ]
    assert (problem_state(pdesk, problem), _links(pdesk)) == before


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"incidents": []},
        {"incidents": "INC-000001"},
        {"incidents": [["x"]]},
        {"incidents": ["INC-99999999999999999999999999"]},
        {"incidents": ["INC-000001"] * 1001},
        {"incidents": ["INC-000001"], "hold": "x"},
        {"incidents": ["INC-000001"], "problem": "PRB-000002"},
    ],
)
def test_a_malformed_link_request_is_a_400(pdesk, api_client, body):
    problem = make_problem(pdesk)
    response = api_client(pdesk.manager).post(
        pdesk.url(f"{problem.reference}/link-incidents/"), body, format="json"
    )
    assert response.status_code == 400
    assert set(response.json()["fields"]) & {"incidents", "hold", "problem"}


def test_unlinking_removes_the_link_on_both_ends(pdesk, api_client):
    desk = pdesk.desk
    problem = make_problem(pdesk)
    linked, other = make_incident(desk), make_incident(desk)
    client = api_client(pdesk.manager)
    url = pdesk.url(f"{problem.reference}/")
    client.post(f"{url}link-incidents/", {"incidents": [linked.reference]}, format="json")

    refused = client.post(
        f"{url}unlink-incidents/", {"incidents": [other.reference]}, format="json"
    )
    done = client.post(f"{url}unlink-incidents/", {"incidents": [linked.reference]}, format="json")
    agent = api_client(desk.l1_agent).post(
        f"{url}unlink-incidents/", {"incidents": [linked.reference]}, format="json"
    )

    assert refused.status_code == 400
    assert refused.json()["fields"]["incidents"] == [
        f"{other.reference} is not linked to {problem.reference}."
    ]
    assert done.json()["changed"] == [linked.reference]
    assert agent.status_code == 403
    assert _links(pdesk) == []
    assert client.get(desk.url(f"{linked.reference}/")).json()["problem"] is None
    assert [event.data["linked"] for event in _incident_events(pdesk, linked)] == [True, False]


def _bulk_link_queries(pdesk, count: int) -> int:
    desk = pdesk.desk
    problem = make_problem(pdesk)
    incidents = [
        IncidentFactory(tenant=desk.tenant, reported_by=desk.requester) for _ in range(count)
    ]
    with rls.tenant_scope(desk.tenant.pk), CaptureQueriesContext(connection) as queries:
        result = services.problem_link_incidents(
            tenant=desk.tenant,
            problem_id=problem.pk,
            actor=pdesk.manager,
            incidents=[incident.reference for incident in incidents],
        )
    assert len(result.changed) == count
    with rls.tenant_scope(desk.tenant.pk):
        assert ProblemIncident.objects.filter(problem=problem).count() == count
        assert IncidentEvent.objects.filter(incident__in=incidents, kind="link").count() == count
    return len(queries.captured_queries)


def test_linking_200_incidents_costs_the_queries_of_linking_10(pdesk):
    ten = _bulk_link_queries(pdesk, 10)
    two_hundred = _bulk_link_queries(pdesk, 200)
    print(f"bulk link: 10 incidents {ten} queries, 200 incidents {two_hundred} queries")  # noqa: T201
    assert ten == two_hundred
    assert ten <= 12


def test_linking_unlinking_200_incidents_through_the_api(pdesk, api_client):
    desk = pdesk.desk
    problem = make_problem(pdesk)
    references = [
        IncidentFactory(tenant=desk.tenant, reported_by=desk.requester).reference
        for _ in range(200)
    ]
    client = api_client(pdesk.manager)
    url = pdesk.url(f"{problem.reference}/")

    linked = client.post(f"{url}link-incidents/", {"incidents": references}, format="json")
    unlinked = client.post(f"{url}unlink-incidents/", {"incidents": references}, format="json")

    assert (linked.status_code, len(linked.json()["changed"])) == (200, 200)
    assert (unlinked.status_code, len(unlinked.json()["changed"])) == (200, 200)
    assert _links(pdesk) == []


# --- On hold awaiting the problem, and the resolution flow -------------------------------------


def test_linked_incidents_wait_for_the_problem_and_resume_when_it_is_resolved(pdesk, api_client):
    desk = pdesk.desk
    problem = make_problem(pdesk, "fix_in_progress")
    working = make_incident(desk, "in_progress", assignee=desk.l1_agent)
    fresh = make_incident(desk, "new")
    done = make_incident(desk, "resolved")
    client = api_client(pdesk.manager)
    url = pdesk.url(f"{problem.reference}/")

    # When the incidents are linked with hold, only the one in progress waits for the problem
    linked = client.post(
        f"{url}link-incidents/",
        {"incidents": [working.reference, fresh.reference, done.reference], "hold": True},
        format="json",
    )
    assert linked.json()["held"] == [working.reference]
    waiting = client.get(desk.url(f"{working.reference}/")).json()
    assert (waiting["status"], waiting["hold_reason"]) == ("on_hold", "awaiting_problem")

    # When the problem is resolved
    resolved = client.post(f"{url}resolve/", {"fix_notes": "Pool raised."}, format="json")
    assert resolved.status_code == 200, resolved.content

    # Then the waiting incident resumes, open ones hear of it, and the assignee is told
    resumed = client.get(desk.url(f"{working.reference}/")).json()
    assert (resumed["status"], resumed["hold_reason"]) == ("in_progress", "")
    told = [
        event.data
        for event in _incident_events(pdesk, working) + _incident_events(pdesk, fresh)
        if "problem_status" in event.data
    ]
    assert told == [{"problem": problem.reference, "problem_status": "resolved"}] * 2
    assert not [e for e in _incident_events(pdesk, done) if "problem_status" in e.data]
    with rls.tenant_scope(desk.tenant.pk):
        [notification] = Notification.objects.filter(event_type="problem.resolved")
        recipients = [delivery.user for delivery in notification.deliveries.all()]
    assert notification.reference == working.reference
    assert "Pool raised." in notification.body
    assert recipients == [desk.l1_agent, desk.l1_agent]  # by e-mail and in the app


def test_resolve_linked_incidents_gives_a_result_per_incident(pdesk, api_client):
    desk = pdesk.desk
    problem = make_problem(pdesk, "fix_in_progress")
    working = make_incident(desk, "in_progress")
    fresh = make_incident(desk, "new")
    admin = api_client(desk.admin)
    url = pdesk.url(f"{problem.reference}/")
    admin.post(
        f"{url}link-incidents/",
        {"incidents": [working.reference, fresh.reference]},
        format="json",
    )

    # Not before the problem is resolved
    early = admin.post(f"{url}resolve-linked-incidents/", {}, format="json")
    assert (early.status_code, early.json()["code"]) == (409, "problem_not_resolved")

    admin.post(f"{url}resolve/", {"fix_notes": "Pool raised."}, format="json")
    response = admin.post(
        f"{url}resolve-linked-incidents/", {"resolution_code": "fixed"}, format="json"
    )

    assert response.status_code == 200, response.content
    rows = {row["incident"]: row for row in response.json()}
    assert rows[working.reference]["result"] == "resolved"
    assert (rows[fresh.reference]["result"], rows[fresh.reference]["code"]) == (
        "refused",
        "invalid_transition",
    )
    with rls.tenant_scope(desk.tenant.pk):
        resolved = Incident.objects.get(pk=working.pk)
        assert Incident.objects.get(pk=fresh.pk).status == "new"
    assert resolved.status == "resolved"
    assert resolved.resolution_notes == f"Resolved by problem {problem.reference}: Pool raised."


def test_resolve_linked_incidents_refuses_incidents_the_actor_may_not_resolve(pdesk, api_client):
    # A problem manager outside the incident's team resolves nothing of it: a refusal per row
    desk = pdesk.desk
    problem = make_problem(pdesk, "resolved")
    working = make_incident(desk, "in_progress")
    client = api_client(pdesk.manager)
    url = pdesk.url(f"{problem.reference}/")
    client.post(f"{url}link-incidents/", {"incidents": [working.reference]}, format="json")

    response = client.post(f"{url}resolve-linked-incidents/", {}, format="json")

    assert response.status_code == 200
    assert [(row["result"], row["code"]) for row in response.json()] == [("refused", "not_allowed")]
