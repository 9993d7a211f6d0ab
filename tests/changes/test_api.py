"""The changes API: records, roles, edits with If-Match, the risk assessment, templates and the
boards' configuration, bad input and other tenants."""

import pytest

from changes.models import Change, ChangeEvent
from itsm.tenancy import rls
from itsm.tenancy.choices import MembershipRole
from tests.changes.conftest import END, START, change_state, make_change, make_template
from tests.factories import ServiceFactory, TenantFactory

pytestmark = pytest.mark.django_db


def test_a_change_manager_records_a_change(cdesk, api_client):
    # When a change manager records a normal change
    response = api_client(cdesk.manager).post(
        cdesk.url(),
        {
            "title": "Upgrade the mail relay",
            "services": ["email"],
            "planned_start": START.isoformat(),
            "planned_end": END.isoformat(),
            "implementer": "leo-l2",
            "backout_plan": "Switch back.",
        },
        format="json",
    )

    # Then it is numbered, a draft owned by its author, and the timeline starts
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["reference"], body["change_type"], body["status"]) == (
        "CHG-000001",
        "normal",
        "draft",
    )
    assert (body["owner"], body["implementer"], body["services"]) == (
        "carl-changes",
        "leo-l2",
        ["email"],
    )
    assert body["allowed_actions"] == ["submit", "cancel"]
    assert response["ETag"] == '"CHG-000001-1"'
    with rls.tenant_scope(cdesk.tenant.pk):
        [event] = ChangeEvent.objects.filter(change__number=1)
    assert (event.kind, event.actor, event.to_status) == ("created", cdesk.manager, "draft")


@pytest.mark.parametrize(
    ("who", "status"),
    [
        ("requester", 403),
        ("agent", 201),
        ("problem_manager", 201),
        ("admin", 201),
    ],
)
def test_who_records_changes(cdesk, api_client, who, status):
    user = {
        "requester": cdesk.desk.requester,
        "agent": cdesk.desk.l1_agent,
        "problem_manager": cdesk.problem_manager,
        "admin": cdesk.desk.admin,
    }[who]
    response = api_client(user).post(cdesk.url(), {"title": "Patch"}, format="json")
    assert response.status_code == status, response.content


def test_requesters_see_nothing_of_changes(cdesk, api_client):
    change = make_change(cdesk)
    client = api_client(cdesk.desk.requester)
    assert client.get(cdesk.url()).status_code == 403
    assert client.get(cdesk.url(f"{change.reference}/")).status_code == 404
    assert client.get(cdesk.url(f"{change.reference}/timeline/")).status_code == 404
    assert client.get(cdesk.api("change-templates/")).status_code == 403


def test_agents_read_changes_but_do_not_move_them(cdesk, api_client):
    change = make_change(cdesk)
    client = api_client(cdesk.desk.l1_agent)
    listed = client.get(cdesk.url())
    assert [row["reference"] for row in listed.json()["results"]] == [change.reference]
    assert client.get(cdesk.url(f"{change.reference}/")).status_code == 200
    assert client.post(cdesk.url(f"{change.reference}/submit/"), {}).status_code == 403


def test_another_tenants_change_is_absent(cdesk, api_client, admin_b):
    change = make_change(cdesk)
    client = api_client(admin_b)
    for path in ("", "timeline/", "approvals/", "conflicts/"):
        response = client.get(f"/api/v1/t/tenant-b/changes/{change.reference}/{path}")
        assert response.status_code == 404


def test_a_stale_if_match_is_refused_and_changes_nothing(cdesk, api_client):
    change = make_change(cdesk)
    client = api_client(cdesk.manager)
    client.patch(cdesk.url(f"{change.reference}/"), {"title": "Renamed"}, format="json")
    before = change_state(cdesk, change)

    for response in (
        client.post(cdesk.url(f"{change.reference}/submit/"), {}, HTTP_IF_MATCH=change.etag),
        client.patch(cdesk.url(f"{change.reference}/"), {"title": "x"}, HTTP_IF_MATCH=change.etag),
    ):
        assert response.status_code == 412
        assert response.json()["current_version"] == 2
    assert change_state(cdesk, change) == before


def test_an_edit_names_the_fields_and_stops_after_assessment(cdesk, api_client):
    change = make_change(cdesk)
    client = api_client(cdesk.manager)
    response = client.patch(
        cdesk.url(f"{change.reference}/"),
        {"test_plan": "Send a mail.", "services": [], "change_type": "emergency"},
        format="json",
        HTTP_IF_MATCH=change.etag,
    )
    assert response.status_code == 200, response.content
    assert (response.json()["change_type"], response.json()["services"]) == ("emergency", [])
    with rls.tenant_scope(cdesk.tenant.pk):
        event = ChangeEvent.objects.filter(change=change).latest("id")
    assert event.data == {"fields": ["change_type", "services", "test_plan"]}

    scheduled = make_change(cdesk, "scheduled")
    before = change_state(cdesk, scheduled)
    refused = client.patch(cdesk.url(f"{scheduled.reference}/"), {"title": "x"}, format="json")
    assert (refused.status_code, refused.json()["code"]) == (409, "not_editable")
    assert change_state(cdesk, scheduled) == before


@pytest.mark.parametrize(
    ("answers", "risk"), [((1, 1, 1), "low"), ((2, 2, 2), "medium"), ((3, 2, 1), "high")]
)
def test_the_risk_assessment(cdesk, api_client, answers, risk):
    change = make_change(cdesk, "assessment")
    impact, likelihood, backout = answers
    response = api_client(cdesk.manager).post(
        cdesk.url(f"{change.reference}/assess-risk/"),
        {"risk_impact": impact, "risk_likelihood": likelihood, "risk_backout": backout},
        format="json",
    )
    assert response.status_code == 200, response.content
    assert response.json()["risk"] == risk
    with rls.tenant_scope(cdesk.tenant.pk):
        event = ChangeEvent.objects.filter(change=change).latest("id")
    assert (event.kind, event.data["risk"]) == ("risk", risk)


# --- Bad input: a 400 naming the field, never a 500 --------------------------------------------


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "title"),
        ({"title": ""}, "title"),
        ({"title": "x" * 201}, "title"),
        ({"title": "x", "change_type": "standard"}, "change_type"),
        ({"title": "x", "change_type": "weird"}, "change_type"),
        ({"title": "x", "services": ["nope"]}, "services"),
        ({"title": "x", "owner": "rita-requester"}, "owner"),
        ({"title": "x", "implementer": "nobody"}, "implementer"),
        ({"title": "x", "planned_start": "tomorrow"}, "planned_start"),
        (
            {"title": "x", "planned_start": END.isoformat(), "planned_end": START.isoformat()},
            "planned_end",
        ),
        ({"title": "x", "status": "closed"}, "status"),
        ({"title": "x", "risk": "low"}, "risk"),
        ({"title": "x", "number": 5}, "number"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(cdesk, api_client, body, field):
    response = api_client(cdesk.manager).post(cdesk.url(), body, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()["fields"]
    with rls.tenant_scope(cdesk.tenant.pk):
        assert not Change.objects.exists()


def test_bad_risk_answers_name_the_field(cdesk, api_client):
    change = make_change(cdesk, "assessment")
    response = api_client(cdesk.manager).post(
        cdesk.url(f"{change.reference}/assess-risk/"),
        {"risk_impact": 4, "risk_likelihood": 1},
        format="json",
    )
    assert response.status_code == 400
    assert {"risk_impact", "risk_backout"} <= set(response.json()["fields"])


def test_another_tenants_service_is_an_unknown_value(cdesk, api_client):
    ServiceFactory(tenant=TenantFactory(), slug="elsewhere")
    response = api_client(cdesk.manager).post(
        cdesk.url(), {"title": "x", "services": ["elsewhere"]}, format="json"
    )
    assert response.status_code == 400
    assert "services" in response.json()["fields"]


@pytest.mark.parametrize("reference", ["CHG-99999999999999999999999", "PRB-000001", "CHG-x"])
def test_a_reference_that_names_no_change_is_a_404(cdesk, api_client, reference):
    make_change(cdesk)
    assert api_client(cdesk.manager).get(cdesk.url(f"{reference}/")).status_code == 404


def test_lists_filter_by_type_status_risk_service_window_and_text(cdesk, api_client):
    mail = make_change(cdesk, "assessment", risk=(3, 3, 3))
    other_service = ServiceFactory(tenant=cdesk.tenant, slug="vpn", owner_team=cdesk.desk.l2)
    vpn = make_change(
        cdesk,
        "draft",
        "emergency",
        title="Patch the VPN",
        services=[other_service],
        planned_start=END,
        planned_end=END.replace(hour=14),
    )
    client = api_client(cdesk.manager)

    def refs(**query):
        response = client.get(cdesk.url(), query)
        assert response.status_code == 200, response.content
        return [row["reference"] for row in response.json()["results"]]

    assert refs(type="emergency") == [vpn.reference]
    assert refs(status="assessment") == [mail.reference]
    assert refs(risk="high") == [mail.reference]
    assert refs(service="vpn") == [vpn.reference]
    assert refs(planned_after=END.isoformat()) == [vpn.reference]
    assert refs(planned_before=END.isoformat()) == [mail.reference]
    assert refs(search="vpn") == [vpn.reference]
    assert refs(ordering="number") == [mail.reference, vpn.reference]
    assert client.get(cdesk.url(), {"service": "nope"}).status_code == 400
    assert client.get(cdesk.url(), {"planned_after": "soon"}).status_code == 400


# --- Templates and the boards' configuration -----------------------------------------------------


def test_a_standard_change_from_a_template(cdesk, api_client):
    client = api_client(cdesk.manager)
    created = client.post(
        cdesk.api("change-templates/"),
        {
            "name": "Restart the relay",
            "services": ["email"],
            "implementation_plan": "Restart.",
            "backout_plan": "Start the old one.",
            "risk_impact": 1,
            "risk_likelihood": 1,
            "risk_backout": 1,
            "duration_minutes": 30,
        },
        format="json",
    )
    assert created.status_code == 201, created.content
    template = created.json()
    assert (template["risk"], template["version"]) == ("low", 1)
    edited = client.patch(
        cdesk.api(f"change-templates/{template['id']}/"), {"test_plan": "Mail."}, format="json"
    )
    assert edited.json()["version"] == 2

    response = client.post(
        cdesk.api(f"change-templates/{template['id']}/create-change/"),
        {"planned_start": START.isoformat()},
        format="json",
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["change_type"], body["title"], body["risk"]) == (
        "standard",
        "Restart the relay",
        "low",
    )
    assert (body["template"], body["template_version"]) == (template["id"], 2)
    assert body["services"] == ["email"]
    assert body["planned_end"].startswith("2027-01-04T10:30")
    assert body["test_plan"] == "Mail."
    # A template changes were made from is not deleted
    refused = client.delete(cdesk.api(f"change-templates/{template['id']}/"))
    assert (refused.status_code, refused.json()["code"]) == (409, "in_use")


def test_an_inactive_template_makes_no_change(cdesk, api_client):
    template = make_template(cdesk, is_active=False)
    response = api_client(cdesk.manager).post(
        cdesk.api(f"change-templates/{template.pk}/create-change/"), {}, format="json"
    )
    assert response.status_code == 400
    assert "template" in response.json()["fields"]


def test_boards_and_rules_are_kept_by_change_managers(cdesk, api_client):
    manager, agent = api_client(cdesk.manager), api_client(cdesk.desk.l1_agent)

    added = manager.post(
        cdesk.api("cab-members/"), {"user": "lena-l1", "board": "ecab"}, format="json"
    )
    requester = manager.post(cdesk.api("cab-members/"), {"user": "rita-requester"}, format="json")
    rule = manager.post(
        cdesk.api("approval-rules/"),
        {"change_type": "normal", "risk": "low", "approvals_required": 2},
        format="json",
    )
    duplicate = manager.post(
        cdesk.api("approval-rules/"), {"change_type": "normal", "risk": "low"}, format="json"
    )

    assert added.status_code == 201, added.content
    assert (requester.status_code, list(requester.json()["fields"])) == (400, ["user"])
    assert (rule.status_code, rule.json()["approvals_required"]) == (201, 2)
    assert duplicate.status_code == 400
    assert agent.get(cdesk.api("cab-members/")).status_code == 200
    assert agent.get(cdesk.api("approval-rules/")).status_code == 200
    assert agent.post(cdesk.api("approval-rules/"), {}, format="json").status_code == 403
    assert manager.delete(cdesk.api(f"cab-members/{added.json()['id']}/")).status_code == 204


def test_roles_on_changes():
    from changes.api.views import ChangeViewSet

    roles = ChangeViewSet.action_roles
    managers = {MembershipRole.CHANGE_MANAGER, MembershipRole.TENANT_ADMIN}
    assert set(roles["close"]) == managers
    assert set(roles["link_problems"]) == managers | {MembershipRole.PROBLEM_MANAGER}
    assert MembershipRole.REQUESTER not in roles["list"]
    assert MembershipRole.REQUESTER not in roles["approve"]
