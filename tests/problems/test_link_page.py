"""Linking incidents to a problem in bulk from a searchable list: one service call with every
ticked incident, all or nothing, with a reason per refused incident."""

from django.db import connection
from django.test.utils import CaptureQueriesContext

from incidents.models import Incident, IncidentEvent
from itsm.tenancy import rls
from itsm.tenancy.choices import MembershipRole
from problems import services
from problems.models import ProblemEvent, ProblemIncident
from tests.incidents.conftest import make_incident
from tests.problems.conftest import make_problem, problem_state

HTMX = {"HTTP_HX_REQUEST": "true"}


def as_user(client, user):
    client.force_login(user)
    return client


def link_page(pdesk, problem, query: str = "") -> str:
    return f"/t/{pdesk.tenant.slug}/problems/{problem.reference}/link/{query}"


def linked_numbers(pdesk, problem) -> set[int]:
    with rls.tenant_scope(pdesk.tenant.pk):
        return set(
            ProblemIncident.objects.filter(problem=problem).values_list(
                "incident__number", flat=True
            )
        )


def test_the_list_shows_incidents_with_their_links_and_searches(pdesk, client):
    # Given incidents: one linked here, one linked to another problem, two free
    problem = make_problem(pdesk, "under_investigation")
    other = make_problem(pdesk, "under_investigation")
    here, elsewhere = make_incident(pdesk.desk), make_incident(pdesk.desk)
    free = make_incident(pdesk.desk, title="Printer jams on tray 2")
    make_incident(pdesk.desk, "resolved", title="Old printer fault")
    with rls.tenant_scope(pdesk.tenant.pk):
        for target, incident in ((problem, here), (other, elsewhere)):
            services.problem_link_incidents(
                tenant=pdesk.tenant,
                problem_id=target.pk,
                actor=pdesk.manager,
                incidents=[incident.reference],
            )

    response = as_user(client, pdesk.manager).get(link_page(pdesk, problem))

    assert response.status_code == 200
    html = response.content.decode()
    assert f'value="{free.reference}"' in html
    assert f'value="{here.reference}"' not in html  # no checkbox to tick again
    assert "linked here" in html
    assert f'href="/t/{pdesk.tenant.slug}/problems/{other.reference}/"' in html
    assert "Old printer fault" not in html  # open incidents by default
    found = client.get(link_page(pdesk, problem, "?q=printer&status=all")).content.decode()
    assert "Printer jams on tray 2" in found
    assert "Old printer fault" in found
    assert here.reference not in found


def test_linking_three_incidents_is_one_call_with_events_on_both_sides(pdesk, client):
    # Given a problem and three incidents, two of them being worked
    problem = make_problem(pdesk, "under_investigation")
    incidents = [
        make_incident(pdesk.desk, state) for state in ("in_progress", "in_progress", "new")
    ]
    before = problem_state(pdesk, problem)[1]

    # When the manager ticks the three and asks to hold those in progress
    response = as_user(client, pdesk.manager).post(
        link_page(pdesk, problem),
        {
            "version": problem.version,
            "incidents": [incident.reference for incident in incidents],
            "hold": "on",
        },
    )

    # Then the three are linked in one batch, each incident's timeline says so, and the ones in
    # progress wait for the problem
    assert response.status_code == 302
    assert linked_numbers(pdesk, problem) == {incident.number for incident in incidents}
    with rls.tenant_scope(pdesk.tenant.pk):
        kinds = list(ProblemEvent.objects.filter(problem=problem).values_list("kind", flat=True))
        assert kinds.count("incidents_linked") == 1
        assert len(kinds) == before + 1
        assert (
            IncidentEvent.objects.filter(
                incident__in=[i.pk for i in incidents], kind="link"
            ).count()
            == 3
        )
        holds = dict(
            Incident.objects.filter(pk__in=[i.pk for i in incidents]).values_list(
                "number", "hold_reason"
            )
        )
    assert sorted(value for value in holds.values() if value) == [
        "awaiting_problem",
        "awaiting_problem",
    ]
    page = client.get(response["Location"]).content.decode()
    assert "Linked 3 incidents." in page
    assert "Put on hold:" in page


def test_hundreds_of_incidents_link_in_a_fixed_number_of_queries(pdesk, client):
    problem = make_problem(pdesk, "under_investigation")
    with rls.tenant_scope(pdesk.tenant.pk):
        references = [make_incident(pdesk.desk).reference for _ in range(3)]
    as_user(client, pdesk.manager)

    with CaptureQueriesContext(connection) as few:
        client.post(
            link_page(pdesk, problem), {"version": problem.version, "incidents": references[:1]}
        )
    problem.version += 1
    with CaptureQueriesContext(connection) as more:
        client.post(
            link_page(pdesk, problem), {"version": problem.version, "incidents": references[1:]}
        )

    assert len(more) == len(few)
    assert len(linked_numbers(pdesk, problem)) == 3


def test_an_incident_linked_elsewhere_refuses_the_batch_with_a_reason_each(pdesk, client):
    problem = make_problem(pdesk, "under_investigation")
    other = make_problem(pdesk, "under_investigation")
    taken, free = make_incident(pdesk.desk), make_incident(pdesk.desk)
    with rls.tenant_scope(pdesk.tenant.pk):
        services.problem_link_incidents(
            tenant=pdesk.tenant,
            problem_id=other.pk,
            actor=pdesk.manager,
            incidents=[taken.reference],
        )
    before = problem_state(pdesk, problem)

    response = as_user(client, pdesk.manager).post(
        link_page(pdesk, problem),
        {"version": problem.version, "incidents": [free.reference, taken.reference]},
        **HTMX,
    )

    assert response.status_code == 409
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="picker">')
    assert f"{taken.reference} is linked to {other.reference}." in html
    assert f'value="{free.reference}" checked' in html  # the ticks are kept
    assert problem_state(pdesk, problem) == before
    assert linked_numbers(pdesk, problem) == set()


def test_an_unknown_reference_is_a_400(pdesk, client):
    problem = make_problem(pdesk, "under_investigation")
    response = as_user(client, pdesk.manager).post(
        link_page(pdesk, problem), {"version": problem.version, "incidents": ["INC-424242"]}
    )
    assert response.status_code == 400
    assert "INC-424242: no such incident." in response.content.decode()


def test_nothing_ticked_is_a_400(pdesk, client):
    problem = make_problem(pdesk, "under_investigation")
    response = as_user(client, pdesk.manager).post(
        link_page(pdesk, problem), {"version": problem.version}
    )
    assert response.status_code == 400
    assert "Tick an incident." in response.content.decode()


def test_a_stale_version_links_nothing(pdesk, client):
    problem = make_problem(pdesk, "under_investigation")
    incident = make_incident(pdesk.desk)
    response = as_user(client, pdesk.manager).post(
        link_page(pdesk, problem),
        {"version": problem.version - 1, "incidents": [incident.reference]},
    )
    assert response.status_code == 409
    html = response.content.decode()
    assert "was changed while you were choosing" in html
    assert f'name="version" value="{problem.version}"' in html
    assert linked_numbers(pdesk, problem) == set()


def test_a_bad_filter_is_a_400(pdesk, client):
    problem = make_problem(pdesk)
    response = as_user(client, pdesk.manager).get(link_page(pdesk, problem, "?service=nope"))
    assert response.status_code == 400
    assert "service:" in response.content.decode()


def test_an_agent_may_link(pdesk, client):
    problem = make_problem(pdesk, "under_investigation")
    incident = make_incident(pdesk.desk)
    response = as_user(client, pdesk.desk.l1_agent).post(
        link_page(pdesk, problem), {"version": problem.version, "incidents": [incident.reference]}
    )
    assert response.status_code == 302
    assert linked_numbers(pdesk, problem) == {incident.number}


def test_requesters_and_change_managers_get_403(pdesk, client, make_member):
    problem = make_problem(pdesk)
    incident = make_incident(pdesk.desk)
    for user in (pdesk.desk.requester, make_member(pdesk.tenant, MembershipRole.CHANGE_MANAGER)):
        as_user(client, user)
        assert client.get(link_page(pdesk, problem)).status_code == 403
        response = client.post(
            link_page(pdesk, problem),
            {"version": problem.version, "incidents": [incident.reference]},
        )
        assert response.status_code == 403
    assert linked_numbers(pdesk, problem) == set()


def test_a_closed_problem_offers_no_link_button(pdesk, client):
    problem = make_problem(pdesk, "closed")
    html = as_user(client, pdesk.manager).get(link_page(pdesk, problem)).content.decode()
    assert "no more incidents are linked to it" in html
    assert '<button class="button" type="submit">Link</button>' not in html
