"""Changes and their configuration in admin: read-mostly, writes through the services."""

from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.test import Client

from changes.models import Change, ChangeApproval, ChangeEvent, ChangeFix, ChangeIncident
from itsm.tenancy import rls
from tests.changes.conftest import change_state, make_change
from tests.factories import (
    ApprovalRuleFactory,
    CabMemberFactory,
    ChangeFactory,
    ChangeTemplateFactory,
    UserFactory,
)
from tests.incidents.conftest import make_incident
from tests.markers import platform_db
from tests.problems.conftest import ProblemDesk, make_problem

pytestmark = platform_db


@pytest.fixture
def root() -> Any:
    return UserFactory(username="root", is_staff=True, is_superuser=True)


@pytest.fixture
def platform_client(root: Any) -> Client:
    client = Client()
    client.force_login(root)
    return client


def test_the_platform_admin_sees_every_tenants_changes_and_configuration(
    platform_client, tenant_a, tenant_b
):
    ours, theirs = ChangeFactory(tenant=tenant_a), ChangeFactory(tenant=tenant_b)
    template = ChangeTemplateFactory(tenant=tenant_a)
    CabMemberFactory(tenant=tenant_a)
    ApprovalRuleFactory(tenant=tenant_a)

    changes = platform_client.get("/admin/changes/change/")
    page = platform_client.get(f"/admin/changes/change/{ours.pk}/change/")

    assert changes.status_code == page.status_code == 200
    assert ours.reference in changes.content.decode()
    assert theirs.title in changes.content.decode()
    for path in (
        "/admin/changes/changetemplate/",
        f"/admin/changes/changetemplate/{template.pk}/change/",
        "/admin/changes/cabmember/",
        "/admin/changes/approvalrule/",
        "/admin/changes/blackoutwindow/",
        "/admin/changes/changetemplate/add/",
        "/admin/changes/change/add/",
    ):
        assert platform_client.get(path).status_code == 200, path


def test_a_change_added_in_admin_goes_through_the_service(platform_client, tenant_a, admin_a):
    response = platform_client.post(
        "/admin/changes/change/add/",
        {
            "tenant": tenant_a.pk,
            "title": "Upgrade the relay",
            "description": "",
            "change_type": "normal",
            "owner": admin_a.pk,
            "implementation_plan": "",
            "backout_plan": "",
            "test_plan": "",
        },
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    with rls.platform_scope():
        change = Change.objects.get(tenant=tenant_a)
        kinds = list(ChangeEvent.objects.filter(change=change).values_list("kind", flat=True))
    assert (change.reference, change.status, kinds) == ("CHG-000001", "draft", ["created"])


def test_a_tenant_admin_reads_their_changes_only(tenant_a, tenant_b, admin_a):
    ours, theirs = ChangeFactory(tenant=tenant_a), ChangeFactory(tenant=tenant_b)
    client = Client()
    client.force_login(admin_a)

    listed = client.get("/admin/changes/change/")

    assert listed.status_code == 200
    assert ours.title in listed.content.decode()
    assert theirs.title not in listed.content.decode()
    assert client.get(f"/admin/changes/change/{theirs.pk}/change/").status_code in (302, 404)
    assert client.get("/admin/changes/change/add/").status_code == 403
    assert client.get("/admin/changes/changetemplate/add/").status_code == 200


# --- Acting on a change: its lifecycle through the services -------------------------------------


def _act_url(change: Change) -> str:
    return f"/admin/changes/change/{change.pk}/act/"


def _change_url(change: Change) -> str:
    return f"/admin/changes/change/{change.pk}/change/"


def _client(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def pdesk(cdesk) -> ProblemDesk:
    return ProblemDesk(desk=cdesk.desk, manager=cdesk.problem_manager, change_manager=cdesk.manager)


def _act(client: Client, change: Change, data: dict[str, Any], status: str) -> None:
    """Perform one step on the act page; it redirects to the change, now in `status`."""
    response = client.post(_act_url(change), data)
    assert response.status_code == 302, (data, response.context["form"].errors)
    assert response["Location"] == _change_url(change)
    with rls.platform_scope():
        assert Change.objects.get(pk=change.pk).status == status, data


def test_the_change_page_links_the_act_page_for_platform_admins_only(
    platform_client, cdesk, admin_a
):
    change = make_change(cdesk)
    boss = _client(cdesk.desk.admin)

    ours = platform_client.get(_change_url(change))
    read_only = boss.get(_change_url(change))
    page = platform_client.get(_act_url(change))

    link = f'<a href="{_act_url(change)}">Act on this change</a>'
    assert ours.status_code == read_only.status_code == page.status_code == 200
    assert link in ours.content.decode()
    assert "Act on this change" not in read_only.content.decode()
    assert page.context["title"] == f"Act on {change.reference}"
    breadcrumbs = page.content.decode().split('<div class="breadcrumbs">')[1].split("</div>")[0]
    assert '<a href="/admin/changes/change/">Changes</a>' in breadcrumbs
    assert f'<a href="{_change_url(change)}">{change.reference}</a>' in breadcrumbs
    assert boss.post(_act_url(change), {"action": "submit"}).status_code == 403


def test_a_problems_fix_goes_from_request_to_resolved_problem_in_admin(
    platform_client, root, cdesk, pdesk
):
    """Every step in admin, the CAB's approvals too. Tenant administrators only read changes in
    admin (as incidents), so the two CAB members are made admin-capable as platform staff with
    the permission to change changes; each approves as themselves, holding the approver's grant
    that requesting approval gave them."""
    change = make_change(cdesk)
    problem = make_problem(pdesk, "root_cause_known")
    permissions = Permission.objects.filter(
        content_type__app_label="changes", codename__in=["view_change", "change_change"]
    )
    for member in cdesk.cab:
        member.is_staff = True
        member.save(update_fields=["is_staff"])
        member.user_permissions.add(*permissions)

    _act(
        platform_client, change, {"action": "link_problems", "problems": problem.reference}, "draft"
    )
    _act(platform_client, change, {"action": "submit"}, "assessment")
    _act(
        platform_client,
        change,
        {"action": "assess_risk", "risk_impact": 3, "risk_likelihood": 2, "risk_backout": 2},
        "assessment",
    )
    _act(platform_client, change, {"action": "request_approval"}, "awaiting_approval")

    # The platform administrator holds no approver's grant: the service's refusal, not a 500
    refused = platform_client.post(_act_url(change), {"action": "approve", "comment": "Fine."})
    assert refused.status_code == 200
    assert refused.context["form"].errors == {"__all__": ["No such change awaiting your approval."]}

    first, second = cdesk.cab
    _act(
        _client(first),
        change,
        {"action": "approve", "comment": "Low traffic."},
        "awaiting_approval",
    )
    _act(_client(second), change, {"action": "approve"}, "scheduled")
    _act(platform_client, change, {"action": "start"}, "implementing")
    _act(platform_client, change, {"action": "complete", "note": "Relay 2.4 runs."}, "review")
    _act(
        platform_client,
        change,
        {"action": "close", "outcome": "successful", "note": "No mail lost."},
        "closed",
    )

    with rls.platform_scope():
        closed = Change.objects.get(pk=change.pk)
        problem.refresh_from_db()
        decisions = list(
            ChangeApproval.objects.filter(change=change)
            .order_by("id")
            .values_list("approver_id", "decision")
        )
        fixes = list(ChangeFix.objects.filter(change=change).values_list("problem_id", flat=True))
        kinds = list(
            ChangeEvent.objects.filter(change=change).order_by("id").values_list("kind", flat=True)
        )
    assert (closed.risk, closed.approvals_required, closed.outcome) == ("high", 2, "successful")
    assert decisions == [(first.pk, "approved"), (second.pk, "approved")]
    assert fixes == [problem.pk]
    assert problem.status == "resolved"
    assert change.reference in problem.fix_notes
    assert kinds.count("approval") == 2
    assert {"problems", "risk"} <= set(kinds)


@pytest.mark.parametrize(
    ("state", "data", "errors"),
    [
        (
            "draft",
            {"action": "start"},
            {"__all__": ["Cannot start implementing a normal change that is draft."]},
        ),
        (
            "closed",
            {"action": "cancel", "reason": "Too late."},
            {"__all__": ["Cannot cancel a normal change that is closed."]},
        ),
    ],
)
def test_an_illegal_action_shows_the_409_message_and_changes_nothing(
    platform_client, cdesk, state, data, errors
):
    change = make_change(cdesk, state)
    before = change_state(cdesk, change)

    response = platform_client.post(_act_url(change), data)

    assert response.status_code == 200
    assert response.context["form"].errors == errors
    [message] = errors["__all__"]
    assert response.content.decode().count(message) == 1
    assert change_state(cdesk, change) == before


def test_bad_input_is_shown_on_its_field_and_changes_nothing(platform_client, cdesk, pdesk):
    change = make_change(cdesk)
    problem = make_problem(pdesk)
    before = change_state(cdesk, change)

    unknown = platform_client.post(
        _act_url(change),
        {"action": "link_problems", "problems": f"{problem.reference}, PRB-000099 nonsense"},
    )
    no_risk = platform_client.post(_act_url(change), {"action": "assess_risk", "risk_impact": 2})
    no_reason = platform_client.post(_act_url(change), {"action": "cancel", "reason": " "})

    assert unknown.status_code == no_risk.status_code == no_reason.status_code == 200
    assert unknown.context["form"].errors == {
        "__all__": ["Some references name nothing in this tenant."],
        "problems": ["nonsense is not known here.", "PRB-000099 is not known here."],
    }
    assert no_risk.context["form"].errors == {
        "risk_likelihood": ["Required for this action."],
        "risk_backout": ["Required for this action."],
    }
    assert list(no_reason.context["form"].errors) == ["reason"]
    assert change_state(cdesk, change) == before
    with rls.platform_scope():
        assert not ChangeFix.objects.exists()


def test_a_tenant_admin_cannot_reach_another_tenants_change(cdesk, tenant_b):
    theirs = ChangeFactory(tenant=tenant_b)
    boss = _client(cdesk.desk.admin)

    assert boss.get(_act_url(theirs)).status_code == 404
    assert boss.post(_act_url(theirs), {"action": "cancel", "reason": "Mine now."}).status_code == (
        404
    )
    with rls.platform_scope():
        assert Change.objects.get(pk=theirs.pk).status == "draft"


def test_incidents_caused_are_recorded_by_reference(platform_client, cdesk):
    change = make_change(cdesk, "implementing")
    incident = make_incident(cdesk.desk)

    empty = platform_client.post(_act_url(change), {"action": "record_incidents", "incidents": ""})
    _act(
        platform_client,
        change,
        {"action": "record_incidents", "incidents": f" {incident.reference} "},
        "implementing",
    )

    assert empty.context["form"].errors == {"incidents": ["Required for this action."]}
    with rls.platform_scope():
        assert list(ChangeIncident.objects.values_list("change_id", "incident_id")) == [
            (change.pk, incident.pk)
        ]


def test_the_act_page_reads_a_bounded_number_of_queries(
    platform_client, cdesk, django_assert_max_num_queries
):
    change = make_change(cdesk, "awaiting_approval")

    with django_assert_max_num_queries(8):
        response = platform_client.get(_act_url(change))

    assert response.status_code == 200
    assert response.context["record_status"] == "Awaiting approval"
