"""The create form's "possibly the same" hint: as the title is typed, open incidents with the
same words show under it, each a link to open instead of recording a duplicate."""

from urllib.parse import urlencode

import pytest
from django.urls import reverse

from tests.factories import IncidentFactory
from tests.incidents.conftest import make_incident

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


def hint_url(desk, title: str) -> str:
    url = reverse("incidents:similar-open", args=[desk.tenant.slug])
    return f"{url}?{urlencode({'title': title})}"


def test_the_title_asks_for_the_hint_as_it_is_typed(client, desk):
    client.force_login(desk.l1_agent)

    html = client.get(reverse("incidents:create", args=[desk.tenant.slug])).content.decode()

    url = reverse("incidents:similar-open", args=[desk.tenant.slug])
    assert f'hx-get="{url}"' in html
    assert 'hx-trigger="input changed delay:400ms"' in html
    assert 'hx-target="#similar-open"' in html
    assert '<div id="similar-open" class="similar-open" aria-live="polite"></div>' in html


def test_open_incidents_with_the_same_words_are_offered(client, desk):
    open_one = make_incident(desk, "in_progress", title="Mail relay timeout on outbound mail")
    resolved = make_incident(desk, "resolved", title="Mail relay timeout last week")
    other = make_incident(desk, title="Printer jams on floor 3")
    client.force_login(desk.l1_agent)

    response = client.get(hint_url(desk, "mail relay timeout"), **HTMX)

    html = response.content.decode()
    assert response.status_code == 200
    assert "Possibly the same:" in html
    assert f"{open_one.reference} Mail relay timeout on outbound mail (In progress)" in html
    detail = reverse("incidents:detail", args=[desk.tenant.slug, open_one.reference])
    assert f'<a href="{detail}">Open it instead' in html
    assert resolved.reference not in html
    assert other.reference not in html


def test_at_most_five_are_offered(client, desk):
    for n in range(7):
        make_incident(desk, title=f"VPN drops every hour {n}")
    client.force_login(desk.l1_agent)

    html = client.get(hint_url(desk, "vpn drops"), **HTMX).content.decode()

    assert html.count("Open it instead") == 5


def test_a_requester_is_offered_only_what_they_reported(client, desk):
    theirs = IncidentFactory(
        tenant=desk.tenant, reported_by=desk.requester, title="Wifi is slow upstairs"
    )
    others = IncidentFactory(
        tenant=desk.tenant, reported_by=desk.other_requester, title="Wifi is slow downstairs"
    )
    client.force_login(desk.requester)

    html = client.get(hint_url(desk, "wifi slow"), **HTMX).content.decode()

    assert theirs.reference in html
    assert others.reference not in html


def test_no_title_no_hint(client, desk):
    make_incident(desk, title="Mail is down")
    client.force_login(desk.l1_agent)

    response = client.get(hint_url(desk, "  "), **HTMX)

    assert response.status_code == 200
    assert response.content.decode().strip() == ""


def test_another_tenants_incidents_are_never_offered(client, desk, tenant_b):
    secret = IncidentFactory(tenant=tenant_b, title="Mail relay secret outage")
    client.force_login(desk.l1_agent)

    html = client.get(hint_url(desk, "mail relay"), **HTMX).content.decode()

    assert secret.title not in html
    assert "secret" not in html
