"""The incident page's "Problem and known fixes" card (served by problems, loaded by htmx):
matches shown to the agent diagnosing, "apply" through the same service as the API."""

import pytest
from django.urls import reverse

from incidents.choices import EventKind
from incidents.models import IncidentEvent
from itsm.tenancy import rls
from problems.models import KnownError
from tests.factories import ArticleFactory, IncidentFactory
from tests.problems.conftest import make_known_error

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def mail_known_error(pdesk):
    """A published known error; its problem says the relay drops mail connections."""
    known_error = make_known_error(pdesk, "published")
    with rls.tenant_scope(pdesk.tenant.pk):
        return KnownError.objects.select_related("problem").get(pk=known_error.pk)


def _urls(pdesk, incident):
    args = [pdesk.tenant.slug, incident.reference]
    return (
        reverse("incidents:detail", args=args),
        reverse("problems:incident-knowledge", args=args),
        reverse("problems:incident-knowledge-apply", args=args),
    )


def test_the_incident_page_loads_the_card_for_agents_only(client, pdesk):
    incident = IncidentFactory(tenant=pdesk.tenant, reported_by=pdesk.desk.requester)
    page, card, _apply = _urls(pdesk, incident)

    client.force_login(pdesk.desk.l1_agent)
    agent_view = client.get(page).content.decode()
    client.force_login(pdesk.desk.requester)
    requester_view = client.get(page).content.decode()

    assert f'hx-get="{card}"' in agent_view
    assert card not in requester_view


def test_the_card_shows_the_matching_known_error_with_its_workaround(
    client, pdesk, mail_known_error
):
    incident = IncidentFactory(tenant=pdesk.tenant, title="Mail waits in the outbox")
    _page, card, _apply = _urls(pdesk, incident)
    client.force_login(pdesk.desk.l1_agent)

    fragment = client.get(card, **HTMX)
    page = client.get(card)

    html = fragment.content.decode()
    assert fragment.status_code == 200
    assert mail_known_error.reference in html
    assert "Restart the relay." in html  # the workaround
    assert "Apply workaround" in html
    assert "<html" not in html  # htmx gets the card only
    assert "<html" in page.content.decode()  # without JavaScript it is a page


def test_applying_from_the_card_records_it_and_refreshes_the_timeline(
    client, pdesk, mail_known_error
):
    incident = IncidentFactory(tenant=pdesk.tenant, title="Mail waits in the outbox")
    _page, _card, apply = _urls(pdesk, incident)
    client.force_login(pdesk.desk.l1_agent)

    response = client.post(apply, {"known_error": mail_known_error.reference}, **HTMX)

    assert response.status_code == 200
    assert response["HX-Trigger"] == "timeline-changed"
    html = response.content.decode()
    assert f"linked to {mail_known_error.problem.reference}" in html
    assert "Applied" in html
    with rls.tenant_scope(pdesk.tenant.pk):
        assert IncidentEvent.objects.filter(incident=incident, kind=EventKind.KNOWLEDGE).exists()


def test_without_javascript_an_apply_redirects_to_the_incident(client, pdesk):
    article = ArticleFactory(tenant=pdesk.tenant, title="Clear the mail cache")
    incident = IncidentFactory(tenant=pdesk.tenant, title="Mail cache full")
    page, _card, apply = _urls(pdesk, incident)
    client.force_login(pdesk.desk.l1_agent)

    response = client.post(apply, {"article": article.reference})

    assert response.status_code == 302
    assert response["Location"] == f"{page}#timeline"
    timeline = client.get(page).content.decode()
    assert f"used article {article.reference}" in timeline


@pytest.mark.parametrize(
    "data", [{}, {"known_error": "KE-000001", "article": "KB-000001"}], ids=["none", "both"]
)
def test_a_bad_apply_is_a_400_card(client, pdesk, data):
    incident = IncidentFactory(tenant=pdesk.tenant)
    _page, _card, apply = _urls(pdesk, incident)
    client.force_login(pdesk.desk.l1_agent)

    response = client.post(apply, data, **HTMX)

    assert response.status_code == 400
    assert "Choose a known error or an article" in response.content.decode()


def test_a_closed_incident_offers_no_apply_and_refuses_one(client, pdesk, mail_known_error):
    incident = IncidentFactory(tenant=pdesk.tenant, title="Mail waits", status="closed")
    _page, card, apply = _urls(pdesk, incident)
    client.force_login(pdesk.desk.l1_agent)

    shown = client.get(card, **HTMX).content.decode()
    refused = client.post(apply, {"known_error": mail_known_error.reference}, **HTMX)

    assert "Apply workaround" not in shown
    assert refused.status_code == 409
