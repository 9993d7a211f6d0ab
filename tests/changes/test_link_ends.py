"""Both ends of a change's links: the change names the problems, known errors and incidents it
is linked to; problems, known errors and incidents name their changes (API and record-page
cards, served by changes because the lower apps cannot import it); the global search box finds
changes. All tenant-checked."""

import pytest

from changes import services
from incidents.models import Incident
from itsm.tenancy import rls
from tests.changes.conftest import make_change
from tests.factories import ChangeFactory, IncidentFactory, TenantFactory
from tests.problems.conftest import ProblemDesk, make_known_error, make_problem

pytestmark = pytest.mark.django_db


@pytest.fixture
def pdesk(cdesk) -> ProblemDesk:
    return ProblemDesk(desk=cdesk.desk, manager=cdesk.problem_manager, change_manager=cdesk.manager)


def _linked(cdesk, pdesk):
    """A change fixing a problem and a known error, and the cause of an incident."""
    change = make_change(cdesk, title="Replace the mail relay")
    problem = make_problem(pdesk, "root_cause_known")
    known_error = make_known_error(pdesk)
    incident = IncidentFactory(tenant=cdesk.tenant, reported_by=cdesk.desk.requester)
    with rls.tenant_scope(cdesk.tenant.pk):
        services.change_link_problems(
            tenant=cdesk.tenant,
            change_id=change.pk,
            actor=cdesk.manager,
            problems=[problem.reference],
            known_errors=[known_error.reference],
        )
        services.change_record_incidents(
            tenant=cdesk.tenant,
            change_id=change.pk,
            actor=cdesk.manager,
            incidents=[incident.reference],
        )
    return change, problem, known_error, incident


# --- API ----------------------------------------------------------------------------------------


def test_the_change_names_what_it_fixes_and_caused(cdesk, pdesk, api_client):
    change, problem, known_error, incident = _linked(cdesk, pdesk)

    body = api_client(cdesk.desk.l1_agent).get(cdesk.url(f"{change.reference}/")).json()
    listed = api_client(cdesk.desk.l1_agent).get(cdesk.url()).json()["results"]

    assert body["fixes_problems"] == [problem.reference]
    assert body["fixes_known_errors"] == [known_error.reference]
    assert body["caused_incidents"] == [incident.reference]
    assert listed[0]["caused_incidents"] == [incident.reference]


def test_problems_known_errors_and_incidents_name_their_changes(cdesk, pdesk, api_client):
    change, problem, known_error, incident = _linked(cdesk, pdesk)
    make_change(cdesk, title="Unrelated")
    client = api_client(cdesk.desk.l1_agent)

    for path in (
        f"problems/{problem.reference}/changes/",
        f"known-errors/{known_error.reference}/changes/",
        f"incidents/{incident.reference}/changes/",
    ):
        response = client.get(cdesk.api(path))
        assert response.status_code == 200, (path, response.content)
        assert [row["reference"] for row in response.json()] == [change.reference], path
        assert response.json()[0]["status"] == "draft"

    other = IncidentFactory(tenant=cdesk.tenant, reported_by=cdesk.desk.requester)
    assert client.get(cdesk.api(f"incidents/{other.reference}/changes/")).json() == []


def test_the_other_ends_are_tenant_checked_and_closed_to_requesters(cdesk, pdesk, api_client):
    _change, problem, _known_error, incident = _linked(cdesk, pdesk)
    other_tenant = TenantFactory()
    ChangeFactory(tenant=other_tenant)

    requester = api_client(cdesk.desk.requester)
    # The incident is the requester's own: still nothing of change management for them.
    assert requester.get(cdesk.api(f"incidents/{incident.reference}/changes/")).status_code == 403
    # Problems they do not see at all: absent, as on the problem API
    assert requester.get(cdesk.api(f"problems/{problem.reference}/changes/")).status_code == 404
    # Another tenant's path does not exist for this member
    outsider = api_client(cdesk.desk.l1_agent)
    elsewhere = f"/api/v1/t/{other_tenant.slug}/problems/{problem.reference}/changes/"
    assert outsider.get(elsewhere).status_code == 404
    assert outsider.get(cdesk.api("problems/PRB-999999/changes/")).status_code == 404


# --- Record-page cards --------------------------------------------------------------------------


def test_the_problem_page_shows_its_changes_and_offers_to_raise_one(cdesk, pdesk, client):
    change, problem, _known_error, _incident = _linked(cdesk, pdesk)
    client.force_login(cdesk.problem_manager)

    page = client.get(f"/t/{cdesk.tenant.slug}/problems/{problem.reference}/").content.decode()
    card = client.get(
        f"/t/{cdesk.tenant.slug}/change-links/problem/{problem.reference}/",
        HTTP_HX_REQUEST="true",
    ).content.decode()

    assert f"/change-links/problem/{problem.reference}/" in page  # the card is placed
    assert f"{change.reference} Replace the mail relay" in card
    assert f"/changes/new/?problem={problem.reference}" in card
    assert "<html" not in card  # htmx gets the card alone


def test_the_known_error_page_shows_its_changes(cdesk, pdesk, client):
    change, _problem, known_error, _incident = _linked(cdesk, pdesk)
    client.force_login(cdesk.desk.l1_agent)
    slug = cdesk.tenant.slug

    page = client.get(f"/t/{slug}/known-errors/{known_error.reference}/").content.decode()
    card = client.get(f"/t/{slug}/change-links/known-error/{known_error.reference}/")

    assert f"/change-links/known-error/{known_error.reference}/" in page
    assert f"{change.reference} Replace the mail relay" in card.content.decode()


def test_an_agent_does_not_get_the_raise_button(cdesk, pdesk, client):
    _change, problem, _known_error, _incident = _linked(cdesk, pdesk)
    client.force_login(cdesk.desk.l1_agent)
    card = client.get(f"/t/{cdesk.tenant.slug}/change-links/problem/{problem.reference}/")
    assert card.status_code == 200
    assert "/changes/new/" not in card.content.decode()


def test_the_incident_page_shows_its_cause(cdesk, pdesk, client):
    change, _problem, _known_error, incident = _linked(cdesk, pdesk)
    client.force_login(cdesk.desk.l1_agent)

    page = client.get(f"/t/{cdesk.tenant.slug}/incidents/{incident.reference}/").content.decode()
    card = client.get(f"/t/{cdesk.tenant.slug}/change-links/incident/{incident.reference}/")

    assert f"/change-links/incident/{incident.reference}/" in page
    assert f"{change.reference} Replace the mail relay" in card.content.decode()
    assert "Record as caused" not in card.content.decode()  # one cause at most


def test_an_agent_records_the_cause_from_the_incident(cdesk, client):
    change = make_change(cdesk, "implementing", title="Patch the relay")
    incident = IncidentFactory(tenant=cdesk.tenant, reported_by=cdesk.desk.requester)
    client.force_login(cdesk.desk.l1_agent)
    url = f"/t/{cdesk.tenant.slug}/change-links/incident/{incident.reference}/"

    response = client.post(url, {"change": change.reference.lower()}, HTTP_HX_REQUEST="true")

    assert response.status_code == 200, response.content
    html = response.content.decode()
    assert f"Recorded as caused by {change.reference}." in html
    assert f"{change.reference} Patch the relay" in html
    with rls.tenant_scope(cdesk.tenant.pk):
        assert (
            incident.__class__.objects.get(pk=incident.pk).caused_by_change.change_id == change.pk
        )


def test_recording_a_cause_refuses_bad_and_foreign_changes(cdesk, client):
    incident = IncidentFactory(tenant=cdesk.tenant, reported_by=cdesk.desk.requester)
    foreign = ChangeFactory(tenant=TenantFactory())
    client.force_login(cdesk.desk.l1_agent)
    url = f"/t/{cdesk.tenant.slug}/change-links/incident/{incident.reference}/"

    empty = client.post(url, {"change": ""})
    unknown = client.post(url, {"change": foreign.reference})
    nonsense = client.post(url, {"change": "not a change"})

    for response in (empty, unknown, nonsense):
        assert response.status_code == 400
    assert "No such change." in unknown.content.decode()
    with rls.tenant_scope(cdesk.tenant.pk):
        assert not hasattr(Incident.objects.get(pk=incident.pk), "caused_by_change")


def test_a_second_cause_is_a_conflict(cdesk, client):
    first = make_change(cdesk, title="First")
    second = make_change(cdesk, title="Second")
    incident = IncidentFactory(tenant=cdesk.tenant, reported_by=cdesk.desk.requester)
    client.force_login(cdesk.desk.l1_agent)
    url = f"/t/{cdesk.tenant.slug}/change-links/incident/{incident.reference}/"
    assert client.post(url, {"change": first.reference}).status_code == 302

    response = client.post(url, {"change": second.reference})

    # The card shows the cause and no form now; the refused POST says why with the form's page
    assert response.status_code == 409
    assert "caused by another change" in response.content.decode()


# --- The global search box ----------------------------------------------------------------------


def test_the_search_box_finds_changes(cdesk, client):
    change = make_change(cdesk, title="Replace the mail relay")
    client.force_login(cdesk.desk.l1_agent)
    search = f"/t/{cdesk.tenant.slug}/search/"

    jump = client.get(search, {"q": change.reference})
    words = client.get(search, {"q": "mail relay"}).content.decode()

    assert jump.status_code == 302
    assert jump["Location"].endswith(f"/changes/{change.reference}/")
    assert f"{change.reference} Replace the mail relay" in words


def test_requesters_and_other_tenants_find_no_change(cdesk, client):
    change = make_change(cdesk, title="Replace the mail relay")
    foreign = ChangeFactory(tenant=TenantFactory(), title="Replace the mail relay elsewhere")
    search = f"/t/{cdesk.tenant.slug}/search/"

    client.force_login(cdesk.desk.requester)
    assert "Replace the mail relay" not in client.get(search, {"q": "mail relay"}).content.decode()
    assert client.get(search, {"q": change.reference}).status_code == 200  # no jump
    client.force_login(cdesk.desk.l1_agent)
    html = client.get(search, {"q": "relay elsewhere"}).content.decode()
    assert foreign.title not in html
