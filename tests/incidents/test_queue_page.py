"""The incident queues of the workspace: which incidents each queue holds, filters, order,
cursor paging, the htmx refresh fragment, saved views and bulk assignment with a result per row."""

from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from incidents import services
from incidents.models import Incident
from itsm.tenancy import rls
from itsm.web.models import SavedView
from tests.factories import TenantFactory
from tests.incidents.conftest import Desk, make_incident

pytestmark = pytest.mark.django_db


def _page(desk: Desk, user: Any, query: str = "", **headers: str) -> Any:
    client = Client()
    client.force_login(user)
    return client.get(f"/t/{desk.tenant.slug}/incidents/{query}", headers=headers)


def _listed(response: Any) -> list[str]:
    return [incident.reference for incident in response.context["rows"]]


def _ref(incident: Incident) -> str:
    return incident.reference


def test_each_queue_holds_its_incidents(desk):
    # Given incidents in different situations
    mine = make_incident(desk, "in_progress", title="Mine")  # acknowledged by lena: hers
    unassigned_l2 = make_incident(desk, assignment_team=desk.l2, title="Nobody's")
    major = make_incident(desk, title="Everything is down")
    with rls.tenant_scope(desk.tenant.pk):
        services.incident_declare_major(
            tenant=desk.tenant,
            incident_id=major.pk,
            actor=desk.manager,
            commander=desk.manager,
            reason="All mail is down.",
        )
        Incident.objects.filter(pk=unassigned_l2.pk).update(
            sla_breached=True, sla_due_at=timezone.now() - timedelta(minutes=5)
        )
    closed = make_incident(desk, "closed", title="Done")

    # Then each queue lists what it should, and nothing closed
    assert _listed(_page(desk, desk.l1_agent, "?queue=mine")) == [_ref(mine)]
    teams = set(_listed(_page(desk, desk.l2_agent, "?queue=teams")))
    assert teams == {_ref(unassigned_l2)}
    unassigned = set(_listed(_page(desk, desk.l1_agent, "?queue=unassigned")))
    assert unassigned == {_ref(unassigned_l2), _ref(major)}
    assert _listed(_page(desk, desk.l1_agent, "?queue=unassigned&tier=l2")) == [_ref(unassigned_l2)]
    assert _listed(_page(desk, desk.l1_agent, "?queue=breached")) == [_ref(unassigned_l2)]
    assert _listed(_page(desk, desk.l1_agent, "?queue=major")) == [_ref(major)]
    everything_open = _listed(_page(desk, desk.l1_agent, "?queue=open"))
    assert _ref(closed) not in everything_open
    assert set(everything_open) == {_ref(mine), _ref(unassigned_l2), _ref(major)}


def test_breaching_soon_lists_clocks_due_within_the_window(desk, settings):
    settings.WORKSPACE_BREACHING_SOON = 3600
    soon, later = make_incident(desk, title="Soon"), make_incident(desk, title="Later")
    now = timezone.now()
    with rls.tenant_scope(desk.tenant.pk):
        Incident.objects.filter(pk=soon.pk).update(sla_due_at=now + timedelta(minutes=20))
        Incident.objects.filter(pk=later.pk).update(sla_due_at=now + timedelta(hours=5))
    assert _listed(_page(desk, desk.l1_agent, "?queue=breaching")) == [_ref(soon)]


def test_filters_text_and_order(desk):
    printer = make_incident(desk, title="Printer jams on floor 3", impact=1, urgency=1)
    vpn = make_incident(desk, title="VPN drops every hour", impact=3, urgency=3)
    assert _listed(_page(desk, desk.l1_agent, "?queue=open&q=printer")) == [_ref(printer)]
    assert _listed(_page(desk, desk.l1_agent, "?queue=open&q=floor+jams")) == [_ref(printer)]
    by_priority = _listed(_page(desk, desk.l1_agent, "?queue=open&ordering=priority"))
    assert by_priority == [_ref(printer), _ref(vpn)]
    reversed_ = _listed(_page(desk, desk.l1_agent, "?queue=open&ordering=-priority"))
    assert reversed_ == [_ref(vpn), _ref(printer)]
    filtered = _page(desk, desk.l1_agent, f"?queue=open&priority={printer.priority}")
    assert _listed(filtered) == [_ref(printer)]
    # the filter bar shows what is chosen, and every filter of an agent is there
    html = filtered.content.decode()
    assert f'<option value="{printer.priority}" selected>' in html
    for name in ("priority", "status", "service", "category", "team", "tier", "assignee"):
        assert f'<select id="f-{name}" name="{name}">' in html
    assert _listed(_page(desk, desk.l1_agent, "?queue=open&service=email")) != []


@pytest.mark.parametrize(
    "query",
    ["?ordering=title", "?priority=9", "?status=sleeping", "?team=nope", "?cursor=garbage"],
)
def test_bad_filters_are_a_400_page_naming_the_problem(desk, query):
    make_incident(desk)
    response = _page(desk, desk.l1_agent, query)
    assert response.status_code == 400
    assert response.context["problems"]
    assert response.context["rows"] == []


def test_cursor_pages_cover_every_incident_once(desk):
    made = {_ref(make_incident(desk, title=f"Incident {n}")) for n in range(57)}
    first = _page(desk, desk.l1_agent, "?queue=open&ordering=-created_at")
    seen = _listed(first)
    assert len(seen) == 50
    second = Client()
    second.force_login(desk.l1_agent)
    rest = second.get(first.context["next_url"])
    seen += _listed(rest)
    assert sorted(seen) == sorted(made)
    assert rest.context["next_url"] is None


def test_queries_do_not_grow_with_the_rows(desk):
    for n in range(3):
        make_incident(desk, title=f"Few {n}")
    _page(desk, desk.l1_agent, "?queue=open")  # the tenant's configuration is cached from here
    with CaptureQueriesContext(connection) as few:
        assert _page(desk, desk.l1_agent, "?queue=open").status_code == 200
    for n in range(30):
        make_incident(desk, title=f"Many {n}")
    with CaptureQueriesContext(connection) as many:
        response = _page(desk, desk.l1_agent, "?queue=open")
    assert len(_listed(response)) == 33
    assert len(many) == len(few), [q["sql"][:80] for q in many.captured_queries]


def test_the_htmx_refresh_gets_only_the_rows(desk):
    incident = make_incident(desk)
    with CaptureQueriesContext(connection) as whole:
        _page(desk, desk.l1_agent, "?queue=open")
    with CaptureQueriesContext(connection) as refresh:
        response = _page(
            desk, desk.l1_agent, "?queue=open", HX_Request="true", HX_Target="queue-rows"
        )
    # the refresh loads neither the filter bar's lists nor the saved views
    assert len(refresh) <= len(whole) - 5
    body = response.content.decode()
    assert response.status_code == 200
    assert incident.reference in body
    assert "<html" not in body
    assert 'id="queue-rows"' in body


def test_an_incident_without_a_running_clock_shows_none(desk):
    closed = make_incident(desk, "closed")
    response = _page(desk, desk.requester, "?queue=all-requests")
    assert _listed(response) == [_ref(closed)]
    assert b'<span class="muted">\xe2\x80\x94</span>' in response.content


def test_requesters_see_their_own_incidents_and_no_bulk_actions(desk):
    own = make_incident(desk, title="My laptop")
    make_incident(desk, title="Someone else's", reported_by=desk.other_requester)
    response = _page(desk, desk.requester)
    assert _listed(response) == [_ref(own)]
    assert response.context["bulk_form"] is None
    assert b"Assign selected" not in response.content
    # and cannot use the agents' queues by naming them
    assert _listed(_page(desk, desk.requester, "?queue=unassigned")) == [_ref(own)]


def test_bulk_assign_reports_each_row(desk):
    # Given one open incident and one closed one (assigning a closed incident is refused)
    open_one, closed = make_incident(desk), make_incident(desk, "closed")
    client = Client()
    client.force_login(desk.l1_agent)

    # When both are moved to L2 at once
    response = client.post(
        f"/t/{desk.tenant.slug}/incidents/bulk-assign/",
        {"incident": [_ref(open_one), _ref(closed), "INC-999999"], "team": "l2"},
    )

    # Then the open one moved, the others say why not
    assert response.status_code == 207
    results = {r.reference: r for r in response.context["results"]}
    assert results[_ref(open_one)].ok
    assert not results[_ref(closed)].ok
    assert "closed" in results[_ref(closed)].message.lower()
    assert results["INC-999999"].message == "Not found."
    with rls.tenant_scope(desk.tenant.pk):
        assert Incident.objects.get(pk=open_one.pk).assignment_team_id == desk.l2.pk
        assert Incident.objects.get(pk=closed.pk).assignment_team_id == desk.l1.pk


def test_bulk_assign_refuses_bad_input_and_requesters(desk):
    incident = make_incident(desk)
    client = Client()
    client.force_login(desk.l1_agent)
    url = f"/t/{desk.tenant.slug}/incidents/bulk-assign/"
    # nothing chosen, another tenant's team, a requester as assignee: back to the queue
    for data in (
        {"incident": [_ref(incident)]},
        {"incident": [_ref(incident)], "team": "not-ours"},
        {"incident": [_ref(incident)], "assignee": desk.requester.username},
        {"team": "l2"},
    ):
        response = client.post(url, data)
        assert response.status_code == 302, data
    requester = Client()
    requester.force_login(desk.requester)
    assert requester.post(url, {"incident": [_ref(incident)], "team": "l2"}).status_code == 403
    with rls.tenant_scope(desk.tenant.pk):
        assert Incident.objects.get(pk=incident.pk).assignment_team_id == desk.l1.pk


def test_saved_views_are_personal(desk):
    client = Client()
    client.force_login(desk.l1_agent)
    base = f"/t/{desk.tenant.slug}"
    response = client.post(
        f"{base}/saved-views/",
        {"page": "incidents:list", "name": "My P1s", "query": "queue=open&priority=1&cursor=x"},
    )
    assert response.status_code == 302
    assert response["Location"] == f"{base}/incidents/?queue=open&priority=1"
    with rls.tenant_scope(desk.tenant.pk):
        view = SavedView.objects.get()
    assert view.query == "queue=open&priority=1"
    assert [v.name for v in _page(desk, desk.l1_agent).context["saved_views"]] == ["My P1s"]
    assert list(_page(desk, desk.l2_agent).context["saved_views"]) == []
    # another agent can neither see nor delete it
    other = Client()
    other.force_login(desk.l2_agent)
    assert other.post(f"{base}/saved-views/{view.pk}/delete/").status_code == 404
    assert client.post(f"{base}/saved-views/{view.pk}/delete/").status_code == 302
    with rls.tenant_scope(desk.tenant.pk):
        assert not SavedView.objects.exists()


def test_saving_a_view_for_an_unknown_page_saves_nothing(desk):
    client = Client()
    client.force_login(desk.l1_agent)
    client.post(f"/t/{desk.tenant.slug}/saved-views/", {"page": "admin:index", "name": "x"})
    with rls.tenant_scope(desk.tenant.pk):
        assert not SavedView.objects.exists()


def test_search_jumps_to_a_number_and_lists_words(desk):
    printer = make_incident(desk, title="Printer jams")
    client = Client()
    client.force_login(desk.l1_agent)
    base = f"/t/{desk.tenant.slug}/search/"
    jump = client.get(base, {"q": printer.reference.lower()})
    assert jump.status_code == 302
    assert jump["Location"] == f"/t/{desk.tenant.slug}/incidents/{printer.reference}/"
    listed = client.get(base, {"q": "printer"})
    assert [hit.title for hit in listed.context["hits"]] == [f"{printer.reference} Printer jams"]
    assert client.get(base, {"q": "INC-999999"}).context["hits"] == []


def test_search_never_finds_what_the_user_may_not_see(desk):
    make_incident(desk, title="Secret printer", reported_by=desk.other_requester)
    other_tenant = TenantFactory(slug="other")
    client = Client()
    client.force_login(desk.requester)
    assert client.get(f"/t/{desk.tenant.slug}/search/", {"q": "printer"}).context["hits"] == []
    assert client.get(f"/t/{other_tenant.slug}/search/", {"q": "x"}).status_code == 404
