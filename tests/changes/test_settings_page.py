"""The change manager's settings page: the advisory boards' members, the approval rules and the
blackout windows, each kept through the same services as the API."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from changes import services
from changes.models import ApprovalRule, BlackoutService, BlackoutWindow, CabMember
from itsm.tenancy import rls
from itsm.tenancy.choices import MembershipRole
from tests.changes.conftest import make_change
from tests.factories import (
    ApprovalRuleFactory,
    BlackoutWindowFactory,
    BusinessCalendarFactory,
    CabMemberFactory,
    ServiceFactory,
)


def as_user(client, user):
    client.force_login(user)
    return client


def settings_url(cdesk) -> str:
    return f"/t/{cdesk.tenant.slug}/changes/settings/"


def rows(cdesk, model) -> list[dict[str, Any]]:
    with rls.tenant_scope(cdesk.tenant.pk):
        return list(model.objects.order_by("id").values())


def state(cdesk) -> list[list[dict[str, Any]]]:
    """Everything the page may write: what a refused request must leave alone."""
    models = (CabMember, ApprovalRule, BlackoutWindow, BlackoutService)
    return [rows(cdesk, model) for model in models]


NEXT_YEAR = timezone.now().year + 1


# --- Advisory boards ----------------------------------------------------------------------------


def test_a_member_added_to_the_cab_is_asked_to_approve_the_next_change(cdesk, client):
    # Given a change manager on the page, and an agent on no board
    agent = cdesk.desk.l1_agent
    as_user(client, cdesk.manager)
    html = client.get(settings_url(cdesk)).content.decode()
    assert "Change advisory board" in html
    assert "Emergency CAB" in html
    assert 'id="id_member-user"' in html
    assert 'id="id_rule-risk"' in html

    # When they add the agent to the CAB
    response = client.post(
        settings_url(cdesk), {"op": "add-member", "member-user": agent.pk, "member-board": "cab"}
    )

    # Then the page goes back to the boards with a message, and the next change sent for
    # approval is the agent's to approve
    assert response.status_code == 302
    assert response["Location"] == f"{settings_url(cdesk)}#boards"
    page = client.get(response["Location"]).content.decode()
    assert "lena-l1 is on the Change advisory board." in page
    change = make_change(cdesk, "awaiting_approval")
    approvals = as_user(client, agent).get(f"/t/{cdesk.tenant.slug}/changes/approvals/")
    assert change.reference in approvals.content.decode()


def test_a_member_removed_from_the_cab_is_not_asked_any_more(cdesk, client):
    leo = cdesk.desk.l2_agent
    with rls.tenant_scope(cdesk.tenant.pk):
        member = CabMember.objects.get(user=leo, board="cab")
    as_user(client, cdesk.manager)

    response = client.post(settings_url(cdesk), {"op": "remove-member", "id": member.pk})

    assert response.status_code == 302
    assert member.pk not in [row["id"] for row in rows(cdesk, CabMember)]
    change = make_change(cdesk, "awaiting_approval")
    approvals = as_user(client, leo).get(f"/t/{cdesk.tenant.slug}/changes/approvals/")
    assert change.reference not in approvals.content.decode()


def test_a_requester_or_another_tenants_member_is_not_a_choice(
    cdesk, client, tenant_b, make_member
):
    outsider = make_member(tenant_b, MembershipRole.AGENT)
    before = state(cdesk)
    as_user(client, cdesk.manager)
    for user in (cdesk.desk.requester, outsider):
        response = client.post(
            settings_url(cdesk), {"op": "add-member", "member-user": user.pk, "member-board": "cab"}
        )
        assert response.status_code == 400
        html = response.content.decode()
        assert 'id="id_member-user_error"' in html
        assert "Select a valid choice" in html
    assert state(cdesk) == before


# --- Approval rules -----------------------------------------------------------------------------


def test_the_defaults_show_where_no_rule_exists(cdesk, client):
    as_user(client, cdesk.manager)
    html = client.get(settings_url(cdesk)).content.decode()
    assert html.count("Default</span>") == 6
    assert "Rule</span>" not in html


def test_a_rule_added_decides_the_approvals_a_change_needs(cdesk, client):
    # Given a change assessed, and the default it would get
    change = make_change(cdesk, "assessment")
    as_user(client, cdesk.manager)

    # When a change manager adds a rule for its type and risk: three from the emergency CAB
    data = {
        "op": "add-rule",
        "rule-change_type": "normal",
        "rule-risk": change.risk,
        "rule-board": "ecab",
        "rule-approvals_required": "3",
    }
    response = client.post(settings_url(cdesk), data)

    # Then the page shows it in place of the default, and the change is asked for that
    assert response.status_code == 302
    assert response["Location"] == f"{settings_url(cdesk)}#rules"
    html = client.get(response["Location"]).content.decode()
    assert "Rule added: normal changes of" in html
    assert html.count("Default</span>") == 5
    with rls.tenant_scope(cdesk.tenant.pk):
        changed = services.change_request_approval(
            tenant=cdesk.tenant, change_id=change.pk, actor=cdesk.manager
        )
    assert (changed.approval_board, changed.approvals_required) == ("ecab", 3)


def test_a_second_rule_for_a_type_and_risk_is_refused(cdesk, client):
    ApprovalRuleFactory(tenant=cdesk.tenant, change_type="normal", risk="high")
    before = state(cdesk)
    as_user(client, cdesk.manager)
    data = {
        "op": "add-rule",
        "rule-change_type": "normal",
        "rule-risk": "high",
        "rule-board": "cab",
        "rule-approvals_required": "1",
    }

    response = client.post(settings_url(cdesk), data)

    assert response.status_code in (400, 409)
    html = response.content.decode()
    assert "This type and risk have a rule already; edit that one." in html
    assert 'id="id_rule-risk_error"' in html
    assert 'name="rule-approvals_required" value="1"' in html  # the input is kept
    assert state(cdesk) == before


def test_a_rule_is_edited_and_deleted(cdesk, client):
    rule = ApprovalRuleFactory(tenant=cdesk.tenant, change_type="normal", risk="low")
    as_user(client, cdesk.manager)
    html = client.get(settings_url(cdesk)).content.decode()
    assert f'id="id_rule-{rule.pk}-approvals_required"' in html

    response = client.post(
        settings_url(cdesk),
        {
            "op": "save-rule",
            "id": rule.pk,
            f"rule-{rule.pk}-board": "ecab",
            f"rule-{rule.pk}-approvals_required": "2",
        },
    )
    assert response.status_code == 302
    with rls.tenant_scope(cdesk.tenant.pk):
        rule.refresh_from_db()
    assert (rule.board, rule.approvals_required) == ("ecab", 2)

    response = client.post(settings_url(cdesk), {"op": "delete-rule", "id": rule.pk})
    assert response.status_code == 302
    assert rows(cdesk, ApprovalRule) == []
    assert "the default applies again" in client.get(response["Location"]).content.decode()


def test_a_rule_needs_one_approval_at_least(cdesk, client):
    rule = ApprovalRuleFactory(tenant=cdesk.tenant, change_type="normal", risk="low")
    before = state(cdesk)
    as_user(client, cdesk.manager)
    response = client.post(
        settings_url(cdesk),
        {
            "op": "save-rule",
            "id": rule.pk,
            f"rule-{rule.pk}-board": "cab",
            f"rule-{rule.pk}-approvals_required": "0",
        },
    )
    assert response.status_code == 400
    assert f'id="id_rule-{rule.pk}-approvals_required_error"' in response.content.decode()
    assert state(cdesk) == before


# --- Blackout windows ---------------------------------------------------------------------------


def blackout(prefix: str = "blackout", **data):
    values = {
        "name": "Year-end freeze",
        "starts_at": f"{NEXT_YEAR}-01-04T10:00",
        "ends_at": f"{NEXT_YEAR}-01-04T18:00",
        "reason": "Payroll run.",
        **data,
    }
    return {f"{prefix}-{name}": value for name, value in values.items()}


def test_a_blackout_window_is_added_in_the_tenants_zone(cdesk, client):
    # Given a tenant working in Berlin (UTC+1 in January)
    BusinessCalendarFactory(tenant=cdesk.tenant, time_zone="Europe/Berlin")
    as_user(client, cdesk.manager)

    # When a change manager adds a window on the mail service
    response = client.post(
        settings_url(cdesk),
        {"op": "add-blackout", **blackout(services=[cdesk.desk.service.pk])},
    )

    # Then it is stored in UTC with its service, and shown in Berlin time
    assert response.status_code == 302
    assert response["Location"] == f"{settings_url(cdesk)}#blackouts"
    (window,) = rows(cdesk, BlackoutWindow)
    assert window["starts_at"] == datetime(NEXT_YEAR, 1, 4, 9, 0, tzinfo=UTC)
    assert window["ends_at"] == datetime(NEXT_YEAR, 1, 4, 17, 0, tzinfo=UTC)
    assert [link["service_id"] for link in rows(cdesk, BlackoutService)] == [cdesk.desk.service.pk]
    html = client.get(response["Location"]).content.decode()
    assert "Blackout window added: Year-end freeze." in html
    assert f"{NEXT_YEAR}-01-04 10:00" in html
    assert "Starts (Europe/Berlin)" in html


def test_a_window_without_services_covers_all_of_them(cdesk, client):
    BlackoutWindowFactory(tenant=cdesk.tenant, name="Freeze")
    as_user(client, cdesk.manager)
    html = client.get(settings_url(cdesk)).content.decode()
    assert "Freeze" in html
    assert "All services" in html


def test_a_past_window_is_not_listed(cdesk, client):
    past = timezone.now() - timedelta(days=3)
    BlackoutWindowFactory(tenant=cdesk.tenant, name="Last freeze", starts_at=past)
    as_user(client, cdesk.manager)
    assert "Last freeze" not in client.get(settings_url(cdesk)).content.decode()


def test_a_window_ending_before_it_starts_is_refused(cdesk, client):
    window = BlackoutWindowFactory(tenant=cdesk.tenant)
    before = state(cdesk)
    as_user(client, cdesk.manager)
    late, early = f"{NEXT_YEAR}-01-04T18:00", f"{NEXT_YEAR}-01-04T10:00"

    response = client.post(
        settings_url(cdesk), {"op": "add-blackout", **blackout(starts_at=late, ends_at=early)}
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert 'id="id_blackout-ends_at_error"' in html
    assert 'value="Year-end freeze"' in html  # the input is kept

    prefix = f"blackout-{window.pk}"
    data = {
        "op": "save-blackout",
        "id": window.pk,
        **blackout(prefix, starts_at=late, ends_at=early),
    }
    response = client.post(settings_url(cdesk), data)
    assert response.status_code == 400
    assert f'id="id_{prefix}-ends_at_error"' in response.content.decode()
    assert state(cdesk) == before


def test_a_window_is_edited_and_deleted(cdesk, client):
    window = BlackoutWindowFactory(tenant=cdesk.tenant)
    payroll = ServiceFactory(tenant=cdesk.tenant, slug="payroll", name="Payroll")
    as_user(client, cdesk.manager)
    prefix = f"blackout-{window.pk}"

    response = client.post(
        settings_url(cdesk),
        {"op": "save-blackout", "id": window.pk, **blackout(prefix, services=[payroll.pk])},
    )
    assert response.status_code == 302
    with rls.tenant_scope(cdesk.tenant.pk):
        window.refresh_from_db()
    assert window.name == "Year-end freeze"
    assert window.starts_at == datetime(NEXT_YEAR, 1, 4, 10, 0, tzinfo=UTC)  # a UTC tenant
    assert [link["service_id"] for link in rows(cdesk, BlackoutService)] == [payroll.pk]

    response = client.post(settings_url(cdesk), {"op": "delete-blackout", "id": window.pk})
    assert response.status_code == 302
    assert rows(cdesk, BlackoutWindow) == []
    assert rows(cdesk, BlackoutService) == []


# --- Refusals and access ------------------------------------------------------------------------


def test_another_tenants_rows_are_absent(cdesk, client, tenant_b):
    theirs: dict[str, Any] = {
        "remove-member": CabMemberFactory(tenant=tenant_b),
        "save-rule": ApprovalRuleFactory(tenant=tenant_b),
        "delete-rule": ApprovalRuleFactory(tenant=tenant_b),
        "save-blackout": BlackoutWindowFactory(tenant=tenant_b),
        "delete-blackout": BlackoutWindowFactory(tenant=tenant_b),
    }
    before = state(cdesk)
    as_user(client, cdesk.manager)
    for op, row in theirs.items():
        data = {
            "op": op,
            "id": row.pk,
            f"rule-{row.pk}-board": "cab",
            f"rule-{row.pk}-approvals_required": "1",
            **blackout(f"blackout-{row.pk}"),
        }
        assert client.post(settings_url(cdesk), data).status_code == 404, op
    for op in ("remove-member", "delete-rule", "delete-blackout"):
        for absent in ("999999", "x", "", "²"):
            assert client.post(settings_url(cdesk), {"op": op, "id": absent}).status_code == 404
    assert state(cdesk) == before
    with rls.tenant_scope(tenant_b.pk):
        assert CabMember.objects.filter(pk=theirs["remove-member"].pk).exists()
        assert ApprovalRule.objects.filter(pk=theirs["delete-rule"].pk).exists()
        assert BlackoutWindow.objects.filter(pk=theirs["delete-blackout"].pk).exists()


def test_an_unknown_op_is_a_bad_request(cdesk, client):
    before = state(cdesk)
    as_user(client, cdesk.manager)
    for data in ({"op": "drop-everything"}, {}):
        response = client.post(settings_url(cdesk), data)
        assert response.status_code == 400
        assert "Unknown action" in response.content.decode()
    assert state(cdesk) == before


@pytest.mark.parametrize(
    ("who", "status"),
    [
        ("l1_agent", 403),
        ("problem_manager", 403),
        ("requester", 403),
        ("admin", 200),
        ("manager", 200),
    ],
)
def test_only_change_managers_open_the_page(cdesk, client, who, status):
    user = getattr(cdesk, who, None) or getattr(cdesk.desk, who)
    as_user(client, user)
    assert client.get(settings_url(cdesk)).status_code == status
    before = state(cdesk)
    response = client.post(
        settings_url(cdesk),
        {"op": "add-member", "member-user": cdesk.desk.l1_agent.pk, "member-board": "cab"},
    )
    assert response.status_code == (302 if status == 200 else 403)
    if status != 200:
        assert state(cdesk) == before


def test_the_list_links_to_the_page_for_change_managers_only(cdesk, client):
    link = f'href="{settings_url(cdesk)}"'
    as_user(client, cdesk.manager)
    assert link in client.get(f"/t/{cdesk.tenant.slug}/changes/").content.decode()
    as_user(client, cdesk.desk.l1_agent)
    assert link not in client.get(f"/t/{cdesk.tenant.slug}/changes/").content.decode()


def test_anonymous_users_are_sent_to_log_in(cdesk, client):
    response = client.get(settings_url(cdesk))
    assert response.status_code == 302
    assert "login" in response["Location"]
    assert client.post(settings_url(cdesk), {"op": "add-rule"}).status_code == 302


def test_the_page_costs_the_same_with_1_or_5_rows_per_section(
    cdesk, client, django_assert_max_num_queries
):
    # Given one extra member, rule and window (a window on a service)
    services_ = [ServiceFactory(tenant=cdesk.tenant, slug=f"svc-{n}") for n in range(2)]

    def add_rows(n: int) -> None:
        CabMemberFactory(tenant=cdesk.tenant)
        ApprovalRuleFactory(tenant=cdesk.tenant)
        window = BlackoutWindowFactory(tenant=cdesk.tenant, name=f"Freeze {n}")
        with rls.tenant_scope(cdesk.tenant.pk):
            BlackoutService.objects.create(
                tenant=cdesk.tenant, window=window, service=services_[n % 2]
            )

    add_rows(0)
    as_user(client, cdesk.manager)
    with CaptureQueriesContext(connection) as one:
        assert client.get(settings_url(cdesk)).status_code == 200

    # When four more of each
    for n in range(1, 5):
        add_rows(n)

    # Then the page makes no more queries
    with django_assert_max_num_queries(len(one.captured_queries)):
        html = client.get(settings_url(cdesk)).content.decode()
    assert html.count("Rule</span>") == 5
    assert "Freeze 4" in html
