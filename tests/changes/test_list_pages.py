"""The change list (its queues, filters and search) and the approver's queue ("Awaiting my
approval"): who sees what, deciding from the queue, and what a refused decision leaves."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from changes import services
from changes.models import Change, ChangeApproval
from itsm.tenancy import rls
from itsm.tenancy.choices import MembershipRole
from tests.changes.conftest import END, START, change_state, make_change
from tests.factories import BusinessCalendarFactory, ChangeFactory, ServiceFactory


def as_user(client, user):
    client.force_login(user)
    return client


def changes_url(cdesk, query: str = "") -> str:
    return f"/t/{cdesk.tenant.slug}/changes/{query}"


def approvals_url(cdesk) -> str:
    return f"/t/{cdesk.tenant.slug}/changes/approvals/"


def status_of(cdesk, change) -> str:
    with rls.tenant_scope(cdesk.tenant.pk):
        return str(Change.objects.get(pk=change.pk).status)


def listed(response) -> str:
    assert response.status_code == 200
    return str(response.content.decode())


# --- The change list ----------------------------------------------------------------------------


def test_each_queue_lists_its_changes(cdesk, client):
    # Given changes in every stage, two of them implemented by the L1 agent
    agent = cdesk.desk.l1_agent
    make_change(cdesk, "draft", title="Draft one", implementer=agent)
    make_change(cdesk, "awaiting_approval", title="Waiting one")
    make_change(cdesk, "scheduled", title="Booked one")
    make_change(cdesk, "closed", title="Done one", implementer=agent)
    make_change(cdesk, "cancelled", title="Dropped one")
    everything = {"Draft one", "Waiting one", "Booked one", "Done one", "Dropped one"}
    expected = {
        "mine": {"Draft one"},
        "open": {"Draft one", "Waiting one", "Booked one"},
        "awaiting-approval": {"Waiting one"},
        "upcoming": {"Booked one"},
        "closed": {"Done one", "Dropped one"},
        "all": everything,
    }
    as_user(client, agent)

    for tab, shown in expected.items():
        # When the agent opens the tab
        html = listed(client.get(changes_url(cdesk, f"?queue={tab}")))
        # Then exactly its changes are listed
        assert {title for title in everything if title in html} == shown, tab


def test_the_list_shows_the_columns_and_links(cdesk, client):
    change = make_change(cdesk, "assessment", risk=(3, 3, 3), title="Relay upgrade")
    html = listed(as_user(client, cdesk.manager).get(changes_url(cdesk, "?queue=all")))
    assert f'href="/t/{cdesk.tenant.slug}/changes/{change.reference}/"' in html
    assert '<td data-label="Type">Normal</td>' in html
    assert '<td data-label="Status">Assessment</td>' in html
    assert '<span class="tag">High</span>' in html
    assert f'<td data-label="Services">{cdesk.desk.service.name}</td>' in html
    assert "4 Jan 2027 10:00</time> – <time" in html  # the site's zone: UTC
    assert "Raise change" in html
    assert "Awaiting my approval (0)" in html


def test_windows_are_shown_in_the_tenants_time_zone(cdesk, client):
    BusinessCalendarFactory(tenant=cdesk.tenant, time_zone="Europe/Berlin")
    make_change(cdesk)
    html = listed(as_user(client, cdesk.manager).get(changes_url(cdesk, "?queue=all")))
    assert "Window (Europe/Berlin)" in html
    assert "4 Jan 2027 11:00" in html  # 10:00 UTC


@pytest.mark.parametrize(
    ("query", "shown", "hidden"),
    [
        ("type=emergency", "Hurried", "Calm"),
        ("status=assessment", "Calm", "Hurried"),
        ("risk=high", "Hurried", "Calm"),
        ("service=payroll", "Calm", "Hurried"),
        ("q=quiet+night", "Calm", "Hurried"),
        ("planned_after=2027-02-01", "Calm", "Hurried"),
        ("planned_before=2027-01-05T00:00", "Hurried", "Calm"),
    ],
)
def test_filters_and_search_narrow_the_rows(cdesk, client, query, shown, hidden):
    payroll = ServiceFactory(tenant=cdesk.tenant, slug="payroll", name="Payroll")
    make_change(
        cdesk,
        "draft",
        change_type="emergency",
        title="Hurried fix",
        description="Mail is down.",
    )
    with rls.tenant_scope(cdesk.tenant.pk):
        hurried = Change.objects.get(title="Hurried fix")
        services.change_submit(tenant=cdesk.tenant, change_id=hurried.pk, actor=cdesk.manager)
        services.change_assess_risk(
            tenant=cdesk.tenant,
            change_id=hurried.pk,
            actor=cdesk.manager,
            risk_impact=3,
            risk_likelihood=3,
            risk_backout=3,
        )
        services.change_cancel(
            tenant=cdesk.tenant, change_id=hurried.pk, actor=cdesk.manager, reason="Done."
        )
    make_change(
        cdesk,
        "assessment",
        risk=(1, 1, 1),
        title="Calm upgrade",
        description="On a quiet night.",
        services=[payroll],
        planned_start=START + timedelta(days=40),
        planned_end=END + timedelta(days=40),
    )

    html = listed(as_user(client, cdesk.manager).get(changes_url(cdesk, f"?queue=all&{query}")))

    assert shown in html
    assert hidden not in html


def test_a_window_filter_is_read_in_the_tenants_time_zone(cdesk, client):
    # 10:00 UTC is 11:00 in Berlin: a change starting then starts "before 11:30" there only.
    BusinessCalendarFactory(tenant=cdesk.tenant, time_zone="Europe/Berlin")
    make_change(cdesk, title="Relay upgrade")
    as_user(client, cdesk.manager)
    before = "?queue=all&planned_before=2027-01-04T"
    assert "Relay upgrade" in listed(client.get(changes_url(cdesk, f"{before}11:30")))
    assert "Relay upgrade" not in listed(client.get(changes_url(cdesk, f"{before}10:30")))


def test_a_bad_filter_is_a_400_naming_it(cdesk, client):
    as_user(client, cdesk.manager)
    response = client.get(changes_url(cdesk, "?status=melted"))
    assert response.status_code == 400
    assert "status:" in response.content.decode()
    assert client.get(changes_url(cdesk, "?planned_after=soon")).status_code == 400
    assert client.get(changes_url(cdesk, "?ordering=title")).status_code == 400


def test_another_tenants_changes_never_appear(cdesk, client, tenant_b, admin_b):
    ChangeFactory(tenant=tenant_b, title="Tenant B change")
    mine = make_change(cdesk, title="Acme change")

    html = listed(as_user(client, cdesk.manager).get(changes_url(cdesk, "?queue=all")))
    assert "Acme change" in html
    assert "Tenant B change" not in html
    # Tenant B's administrator: a 404 on Acme's list, and nothing of Acme's in their own
    as_user(client, admin_b)
    assert client.get(changes_url(cdesk)).status_code == 404
    assert client.get(approvals_url(cdesk)).status_code == 404
    theirs = listed(client.get("/t/tenant-b/changes/?queue=all"))
    assert "Tenant B change" in theirs
    assert mine.title not in theirs


def test_a_requester_gets_403_on_the_lists(cdesk, client):
    make_change(cdesk)
    as_user(client, cdesk.desk.requester)
    assert client.get(changes_url(cdesk)).status_code == 403
    assert client.get(approvals_url(cdesk)).status_code == 403


def test_the_list_costs_the_same_for_more_rows(cdesk, client):
    as_user(client, cdesk.manager)
    with rls.tenant_scope(cdesk.tenant.pk):
        second = ServiceFactory(tenant=cdesk.tenant, slug="payroll")
    make_change(cdesk, services=[cdesk.desk.service, second])
    with CaptureQueriesContext(connection) as one:
        client.get(changes_url(cdesk, "?queue=all"))
    for _ in range(9):
        make_change(cdesk, services=[cdesk.desk.service, second], implementer=cdesk.desk.l1_agent)
    with CaptureQueriesContext(connection) as ten:
        response = client.get(changes_url(cdesk, "?queue=all"))
    assert response.content.decode().count("<tr data-href=") == 10
    assert len(ten) == len(one)


def test_the_list_refreshes_its_rows_only_for_htmx(cdesk, client, django_assert_max_num_queries):
    make_change(cdesk, title="Relay upgrade")
    as_user(client, cdesk.manager)
    with django_assert_max_num_queries(20):
        response = client.get(
            changes_url(cdesk, "?queue=all"), HTTP_HX_REQUEST="true", HTTP_HX_TARGET="queue-rows"
        )
    html = listed(response)
    assert "Relay upgrade" in html
    assert "Raise change" not in html  # the rows only


# --- The approver's queue -----------------------------------------------------------------------


def decide(client, cdesk, change, decision, comment="", **headers):
    return client.post(
        approvals_url(cdesk),
        {"reference": change.reference, "decision": decision, "comment": comment},
        **headers,
    )


def test_the_queue_lists_what_awaits_the_user_with_conflicts(cdesk, client):
    # Given a scheduled change on the mail service, and a high-risk one awaiting the CAB
    booked = make_change(cdesk, "scheduled", title="Booked relay work")
    waiting = make_change(cdesk, "awaiting_approval", risk=(3, 3, 3), title="Risky relay work")
    make_change(cdesk, "draft", title="Not asked yet")

    # When a CAB member opens their queue
    html = listed(as_user(client, cdesk.cab[0]).get(approvals_url(cdesk)))

    # Then the waiting change is listed with its board, approvals and the overlap
    assert waiting.reference in html
    assert "Risky relay work" in html
    assert "Booked relay work" not in html
    assert "Not asked yet" not in html
    assert "Change advisory board" in html
    assert "0 of 2" in html
    assert f"{booked.reference} changes the same service" in html
    # The list's link counts it too, as the API's ?awaiting_my_approval=true
    assert "Awaiting my approval (1)" in listed(client.get(changes_url(cdesk)))


def test_the_queue_is_empty_for_others(cdesk, client):
    make_change(cdesk, "awaiting_approval")
    html = listed(as_user(client, cdesk.desk.l1_agent).get(approvals_url(cdesk)))
    assert "Nothing awaits your approval." in html


def test_two_approvals_schedule_the_change_and_warn_of_conflicts(cdesk, client):
    booked = make_change(cdesk, "scheduled", title="Booked relay work")
    waiting = make_change(cdesk, "awaiting_approval", risk=(3, 3, 3))
    first, second = cdesk.cab

    # When the first of two approvers approves (a plain POST)
    response = decide(as_user(client, first), cdesk, waiting, "approve", "Fine by me.")

    # Then it still awaits the second, and the queue says so after the redirect
    assert response.status_code == 302
    assert response["Location"] == approvals_url(cdesk)
    html = listed(client.get(response["Location"]))
    assert f"Approved {waiting.reference}." in html
    assert "Nothing awaits your approval." in html
    assert status_of(cdesk, waiting) == "awaiting_approval"

    # When the second approves from the htmx form
    response = decide(as_user(client, second), cdesk, waiting, "approve", HTTP_HX_REQUEST="true")

    # Then the change is scheduled, and the queue fragment warns of the overlap
    html = listed(response)
    assert f"{waiting.reference} approved and scheduled." in html
    assert f"Conflicts with {booked.reference}:" in html
    assert "<html" not in html
    assert status_of(cdesk, waiting) == "scheduled"
    with rls.tenant_scope(cdesk.tenant.pk):
        assert ChangeApproval.objects.filter(change=waiting, decision="approved").count() == 2


def test_rejecting_needs_a_comment_and_sends_the_change_back(cdesk, client):
    waiting = make_change(cdesk, "awaiting_approval")
    before = change_state(cdesk, waiting)
    as_user(client, cdesk.cab[0])

    response = decide(client, cdesk, waiting, "reject", "   ")

    assert response.status_code == 400
    html = response.content.decode()
    assert "Required to reject." in html
    assert change_state(cdesk, waiting) == before

    response = decide(client, cdesk, waiting, "reject", "No backout tested.")

    assert response.status_code == 302
    after = listed(client.get(response["Location"]))
    assert f"Rejected {waiting.reference}: back to draft." in after
    assert status_of(cdesk, waiting) == "draft"


def test_a_second_decision_is_a_409(cdesk, client):
    waiting = make_change(cdesk, "awaiting_approval", risk=(3, 3, 3))
    as_user(client, cdesk.cab[0])
    assert decide(client, cdesk, waiting, "approve").status_code == 302
    before = change_state(cdesk, waiting)
    response = decide(client, cdesk, waiting, "reject", "Changed my mind.")
    assert response.status_code == 409
    assert "You already decided on this change in this round." in response.content.decode()
    assert change_state(cdesk, waiting) == before


@pytest.mark.parametrize(
    "who", ["l1_agent", "requester", "change_manager", "other_tenant", "unknown_reference"]
)
def test_without_the_grant_the_change_is_absent(cdesk, client, tenant_b, make_member, who):
    waiting = make_change(cdesk, "awaiting_approval")
    before = change_state(cdesk, waiting)
    users = {
        "l1_agent": cdesk.desk.l1_agent,
        "requester": cdesk.desk.requester,
        "change_manager": cdesk.manager,
        "other_tenant": make_member(tenant_b, MembershipRole.CHANGE_MANAGER),
        "unknown_reference": cdesk.cab[0],
    }
    as_user(client, users[who])
    url = "/t/tenant-b/changes/approvals/" if who == "other_tenant" else approvals_url(cdesk)
    reference = "CHG-999999" if who == "unknown_reference" else waiting.reference

    response = client.post(url, {"reference": reference, "decision": "approve"})

    assert response.status_code == (403 if who == "requester" else 404)
    assert change_state(cdesk, waiting) == before


def test_the_approvers_queue_costs_the_same_for_more_rows(cdesk, client):
    make_change(cdesk, "scheduled")
    make_change(cdesk, "awaiting_approval")
    as_user(client, cdesk.cab[0])
    with CaptureQueriesContext(connection) as one:
        listed(client.get(approvals_url(cdesk)))
    for _ in range(4):
        make_change(cdesk, "awaiting_approval", implementer=cdesk.desk.l1_agent)
    with CaptureQueriesContext(connection) as five:
        html = listed(client.get(approvals_url(cdesk)))
    assert html.count('class="card approval"') == 5
    assert len(five) == len(one)
