"""The problem queue, the known-error list, "Record a problem" and the search box's problem
provider."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from itsm.tenancy import rls
from itsm.tenancy.choices import MembershipRole
from problems import services
from problems.models import Problem, ProblemIncident
from tests.factories import ProblemFactory
from tests.incidents.conftest import make_incident
from tests.problems.conftest import make_known_error, make_problem


def as_user(client, user):
    client.force_login(user)
    return client


def queue(pdesk, query: str = "") -> str:
    return f"/t/{pdesk.tenant.slug}/problems/{query}"


# --- The problem queue --------------------------------------------------------------------------


def test_the_queue_lists_the_rows_of_a_tab(pdesk, client):
    # Given a problem of this manager with a linked incident, and somebody else's
    mine = make_problem(pdesk, "under_investigation", title="Relay pool exhausted")
    incident = make_incident(pdesk.desk)
    with rls.tenant_scope(pdesk.tenant.pk):
        services.problem_link_incidents(
            tenant=pdesk.tenant,
            problem_id=mine.pk,
            actor=pdesk.manager,
            incidents=[incident.reference],
        )
    ProblemFactory(tenant=pdesk.tenant, title="Printer queue stalls")

    # When the manager opens "My problems"
    response = as_user(client, pdesk.manager).get(queue(pdesk, "?queue=mine"))

    # Then only theirs is listed, with its count of incidents
    assert response.status_code == 200
    html = response.content.decode()
    assert "Relay pool exhausted" in html
    assert "Printer queue stalls" not in html
    assert f'href="/t/{pdesk.tenant.slug}/problems/{mine.reference}/"' in html
    assert '<td data-label="Incidents">1</td>' in html
    assert "Record problem" in html
    all_tab = client.get(queue(pdesk, "?queue=all")).content.decode()
    assert "Printer queue stalls" in all_tab


@pytest.mark.parametrize(
    ("tab", "shown", "hidden"),
    [
        ("open", "new", "resolved"),
        ("awaiting-fix", "fix_in_progress", "under_investigation"),
        ("resolved", "resolved", "closed"),
    ],
)
def test_the_tabs_narrow_by_status(pdesk, client, tab, shown, hidden):
    make_problem(pdesk, shown, title=f"Shown {shown}")
    make_problem(pdesk, hidden, title=f"Hidden {hidden}")
    html = as_user(client, pdesk.manager).get(queue(pdesk, f"?queue={tab}")).content.decode()
    assert f"Shown {shown}" in html
    assert f"Hidden {hidden}" not in html


def test_text_search_filters_and_order_apply(pdesk, client):
    make_problem(pdesk, title="Relay pool exhausted")
    make_problem(pdesk, title="Printer queue stalls")
    as_user(client, pdesk.desk.l1_agent)

    html = client.get(queue(pdesk, "?queue=all&q=relay+pool&ordering=-number")).content.decode()
    assert "Relay pool exhausted" in html
    assert "Printer queue stalls" not in html
    filtered = client.get(queue(pdesk, "?queue=all&status=new&manager=pia-problems"))
    assert filtered.status_code == 200
    assert "Printer queue stalls" in filtered.content.decode()


def test_the_queue_costs_the_same_for_more_rows(pdesk, client):
    as_user(client, pdesk.manager)
    make_problem(pdesk, services=[pdesk.desk.service])
    client.get(queue(pdesk, "?queue=all"))  # the tenant's configuration is cached from here
    with CaptureQueriesContext(connection) as one:
        client.get(queue(pdesk, "?queue=all"))
    for _ in range(4):
        make_problem(pdesk, services=[pdesk.desk.service])
    with CaptureQueriesContext(connection) as five:
        response = client.get(queue(pdesk, "?queue=all"))
    assert response.content.decode().count("<tr data-href=") == 5
    assert len(five) == len(one)


def test_a_bad_filter_is_a_400_naming_it(pdesk, client):
    response = as_user(client, pdesk.manager).get(queue(pdesk, "?status=melted"))
    assert response.status_code == 400
    assert "status:" in response.content.decode()
    assert as_user(client, pdesk.manager).get(queue(pdesk, "?ordering=title")).status_code == 400


def test_a_requester_gets_403_on_the_lists(pdesk, client):
    as_user(client, pdesk.desk.requester)
    assert client.get(queue(pdesk)).status_code == 403
    assert client.get(f"/t/{pdesk.tenant.slug}/known-errors/").status_code == 403


def test_an_agent_sees_no_create_button(pdesk, client):
    html = as_user(client, pdesk.desk.l1_agent).get(queue(pdesk)).content.decode()
    assert "Record problem" not in html


def test_the_queue_can_be_saved_as_a_view(pdesk, client):
    as_user(client, pdesk.manager)
    response = client.post(
        f"/t/{pdesk.tenant.slug}/saved-views/",
        {"page": "problems:list", "name": "Awaiting", "query": "queue=awaiting-fix"},
    )
    assert response.status_code == 302
    assert "Awaiting" in client.get(queue(pdesk)).content.decode()


# --- Known errors -------------------------------------------------------------------------------


def test_the_known_error_list_searches_and_filters(pdesk, client):
    published = make_known_error(pdesk, "published")
    draft = make_known_error(pdesk)
    as_user(client, pdesk.desk.l1_agent)
    url = f"/t/{pdesk.tenant.slug}/known-errors/"

    html = client.get(url).content.decode()  # published by default
    assert published.reference in html
    assert draft.reference not in html
    drafts = client.get(f"{url}?queue=all&status=draft").content.decode()
    assert draft.reference in drafts
    assert published.reference not in drafts
    found = client.get(f"{url}?queue=all&q=waits").content.decode()
    assert published.reference in found
    assert draft.reference in found
    assert client.get(f"{url}?queue=all&q=nothinglikethis").content.decode().count("KE-") == 0


# --- Record a problem ---------------------------------------------------------------------------


def test_a_problem_manager_records_a_problem(pdesk, client):
    as_user(client, pdesk.manager)
    url = f"/t/{pdesk.tenant.slug}/problems/new/"
    assert client.get(url).status_code == 200

    response = client.post(
        url,
        {
            "title": "Relay pool exhausted",
            "description": "Mail waits.",
            "services": [pdesk.desk.service.pk],
            "impact": "2",
            "urgency": "2",
            "problem_manager": pdesk.manager.pk,
            "review_at": "2030-01-31T09:00",
        },
    )

    assert response.status_code == 302
    with rls.tenant_scope(pdesk.tenant.pk):
        problem = Problem.objects.get(title="Relay pool exhausted")
        assert list(problem.services.all()) == [pdesk.desk.service]
        assert problem.review_at is not None
    assert response["Location"] == f"/t/{pdesk.tenant.slug}/problems/{problem.reference}/"


def test_bad_input_keeps_the_form_with_a_400(pdesk, client):
    as_user(client, pdesk.manager)
    response = client.post(
        f"/t/{pdesk.tenant.slug}/problems/new/",
        {"title": "", "impact": "9", "urgency": "1", "description": "Kept text"},
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert "The problem was not recorded." in html
    assert "Kept text" in html
    with rls.tenant_scope(pdesk.tenant.pk):
        assert not Problem.objects.exists()


def test_incidents_named_in_the_address_are_linked_with_the_new_problem(pdesk, client):
    first, second = make_incident(pdesk.desk), make_incident(pdesk.desk)
    as_user(client, pdesk.manager)
    url = f"/t/{pdesk.tenant.slug}/problems/new/?incidents={first.reference},{second.reference}"
    assert first.reference in client.get(url).content.decode()

    response = client.post(
        url,
        {
            "title": "Mail relay",
            "impact": "3",
            "urgency": "3",
            "incidents": f"{first.reference},{second.reference}",
        },
    )

    assert response.status_code == 302
    with rls.tenant_scope(pdesk.tenant.pk):
        assert ProblemIncident.objects.filter(problem__title="Mail relay").count() == 2


def test_a_refused_link_records_no_problem_either(pdesk, client):
    as_user(client, pdesk.manager)
    response = client.post(
        f"/t/{pdesk.tenant.slug}/problems/new/",
        {"title": "Mail relay", "impact": "3", "urgency": "3", "incidents": "INC-999999"},
    )
    assert response.status_code == 400
    assert "INC-999999: no such incident." in response.content.decode()
    with rls.tenant_scope(pdesk.tenant.pk):
        assert not Problem.objects.exists()


@pytest.mark.parametrize(
    "role", [MembershipRole.AGENT, MembershipRole.CHANGE_MANAGER, MembershipRole.REQUESTER]
)
def test_only_problem_managers_and_admins_record_problems(pdesk, client, make_member, role):
    as_user(client, make_member(pdesk.tenant, role))
    assert client.get(f"/t/{pdesk.tenant.slug}/problems/new/").status_code == 403


# --- The search box -----------------------------------------------------------------------------


def test_search_jumps_to_a_problem_or_known_error_and_lists_words(pdesk, client):
    problem = make_problem(pdesk, title="Relay pool exhausted")
    known_error = make_known_error(pdesk, "published")
    as_user(client, pdesk.desk.l1_agent)
    search = f"/t/{pdesk.tenant.slug}/search/"

    assert client.get(search, {"q": problem.reference})["Location"].endswith(
        f"/problems/{problem.reference}/"
    )
    assert client.get(search, {"q": known_error.reference})["Location"].endswith(
        f"/known-errors/{known_error.reference}/"
    )
    html = client.get(search, {"q": "relay"}).content.decode()
    assert "Relay pool exhausted" in html
    assert known_error.reference in html  # its root cause mentions the relay


def test_a_requester_finds_no_problem(pdesk, client):
    make_problem(pdesk, title="Relay pool exhausted")
    as_user(client, pdesk.desk.requester)
    html = client.get(f"/t/{pdesk.tenant.slug}/search/", {"q": "relay"}).content.decode()
    assert "Relay pool exhausted" not in html
