"""The problems and known-errors API: records, roles, every state × action, ETags, bad input."""

import pytest

from incidents.models import PriorityMatrixCell
from itsm.tenancy import rls
from itsm.tenancy.choices import MembershipRole
from problems.models import KnownError, Problem, ProblemEvent
from tests.factories import ServiceFactory, TeamFactory, TenantFactory
from tests.problems.conftest import (
    PROBLEM_STATES,
    make_known_error,
    make_problem,
    problem_state,
)
from tests.problems.test_lifecycle import KNOWN_ERROR_EXPECTED, PROBLEM_EXPECTED

pytestmark = pytest.mark.django_db

ACTION_BODIES = {
    "investigate": {},
    "identify_root_cause": {"root_cause": "The pool is too small."},
    "start_fix": {},
    "reinvestigate": {"reason": "The pool was not it."},
    "resolve": {"fix_notes": "Pool raised."},
    "close": {},
    "reopen": {"reason": "Drops again."},
    "cancel": {"reason": "Duplicate."},
}


def _url_action(action: str) -> str:
    return action.replace("_", "-")


# --- Recording ---------------------------------------------------------------------------------


def test_a_problem_manager_records_a_problem(pdesk, api_client):
    # Given the tenant rates impact 2 × urgency 2 as SEV2 (the default says SEV3)
    desk = pdesk.desk
    with rls.tenant_scope(desk.tenant.pk):
        PriorityMatrixCell.objects.create(tenant=desk.tenant, impact=2, urgency=2, priority=2)
    other = ServiceFactory(tenant=desk.tenant, slug="vpn", owner_team=desk.l2)

    # When a problem manager records a problem
    response = api_client(pdesk.manager).post(
        pdesk.url(),
        {
            "title": "Mail relay drops connections",
            "services": ["email", "vpn"],
            "category": "software",
            "impact": 2,
            "urgency": 2,
            "problem_manager": "pia-problems",
            "assignment_team": "l3",
        },
        format="json",
    )

    # Then it is numbered, rated by the tenant's matrix and shows what it was given
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["reference"] == "PRB-000001"
    assert (body["priority"], body["priority_label"]) == (2, "SEV2")
    assert body["services"] == ["email", "vpn"]
    assert (body["status"], body["allowed_actions"]) == ("new", ["investigate", "cancel"])
    assert (body["problem_manager"], body["assignment_team"]) == ("pia-problems", "l3")
    assert response["ETag"] == '"PRB-000001-1"'
    assert other.slug == "vpn"
    with rls.tenant_scope(desk.tenant.pk):
        [event] = ProblemEvent.objects.filter(problem__number=1)
    assert (event.kind, event.actor, event.to_status) == ("created", pdesk.manager, "new")


@pytest.mark.parametrize(
    ("who", "status"),
    [("agent", 403), ("requester", 403), ("change_manager", 403), ("admin", 201)],
)
def test_who_records_problems(pdesk, api_client, who, status):
    user = {
        "agent": pdesk.desk.l1_agent,
        "requester": pdesk.desk.requester,
        "change_manager": pdesk.change_manager,
        "admin": pdesk.desk.admin,
    }[who]
    response = api_client(user).post(pdesk.url(), {"title": "Slow"}, format="json")
    assert response.status_code == status, response.content


def test_requesters_see_nothing_of_problems(pdesk, api_client):
    problem = make_problem(pdesk)
    known_error = make_known_error(pdesk)
    client = api_client(pdesk.desk.requester)

    assert client.get(pdesk.url()).status_code == 403
    assert client.get(pdesk.url(f"{problem.reference}/")).status_code == 404
    assert client.get(pdesk.url(f"{problem.reference}/timeline/")).status_code == 404
    assert client.get(pdesk.ke_url()).status_code == 403
    assert client.get(pdesk.ke_url(f"{known_error.reference}/")).status_code == 404


def test_agents_and_change_managers_read_problems(pdesk, api_client):
    problem = make_problem(pdesk)
    for user in (pdesk.desk.l1_agent, pdesk.change_manager):
        client = api_client(user)
        listed = client.get(pdesk.url())
        assert [row["reference"] for row in listed.json()["results"]] == [problem.reference]
        assert client.get(pdesk.url(f"{problem.reference}/")).status_code == 200
        refused = client.post(pdesk.url(f"{problem.reference}/investigate/"), {}, format="json")
        assert refused.status_code == 403


def test_another_tenants_problem_is_absent(pdesk, api_client, admin_b):
    problem = make_problem(pdesk)
    response = api_client(admin_b).get(
        f"/api/v1/t/tenant-b/problems/{problem.reference}/", format="json"
    )
    assert response.status_code == 404


# --- Every state × action ----------------------------------------------------------------------


@pytest.mark.parametrize("state", PROBLEM_STATES)
@pytest.mark.parametrize("action", list(PROBLEM_EXPECTED))
def test_each_state_and_action_through_the_api(pdesk, api_client, state, action):
    problem = make_problem(pdesk, state)
    before = problem_state(pdesk, problem)
    expected = PROBLEM_EXPECTED[action].get(state)

    response = api_client(pdesk.manager).post(
        pdesk.url(f"{problem.reference}/{_url_action(action)}/"),
        ACTION_BODIES[action],
        format="json",
        HTTP_IF_MATCH=problem.etag,
    )

    if expected is None:
        assert response.status_code == 409, response.content
        body = response.json()
        assert body["code"] == "invalid_transition"
        assert body["allowed_actions"] == [
            name for name, table in PROBLEM_EXPECTED.items() if state in table
        ]
        assert problem_state(pdesk, problem) == before
    else:
        assert response.status_code == 200, response.content
        body = response.json()
        assert body["status"] == expected
        assert body["version"] == problem.version + 1
        row, events = problem_state(pdesk, problem)
        assert (row["status"], events) == (expected, before[1] + 1)


def test_a_stale_if_match_is_refused_and_changes_nothing(pdesk, api_client):
    problem = make_problem(pdesk)
    client = api_client(pdesk.manager)
    client.patch(pdesk.url(f"{problem.reference}/"), {"title": "Renamed"}, format="json")
    before = problem_state(pdesk, problem)

    url = pdesk.url(f"{problem.reference}/investigate/")
    response = client.post(url, {}, format="json", HTTP_IF_MATCH=problem.etag)

    assert response.status_code == 412
    assert response.json()["current_version"] == 2
    assert problem_state(pdesk, problem) == before


def test_an_edit_rerates_priority_and_names_the_fields(pdesk, api_client):
    problem = make_problem(pdesk)
    response = api_client(pdesk.manager).patch(
        pdesk.url(f"{problem.reference}/"),
        {"impact": 1, "urgency": 1, "services": ["email"], "workaround": "Use webmail."},
        format="json",
    )
    assert response.status_code == 200, response.content
    assert (response.json()["priority"], response.json()["services"]) == (1, ["email"])
    with rls.tenant_scope(pdesk.tenant.pk):
        event = ProblemEvent.objects.filter(problem=problem).latest("id")
    assert event.data == {"fields": ["impact", "priority", "services", "urgency", "workaround"]}


def test_a_closed_problem_is_not_edited(pdesk, api_client):
    problem = make_problem(pdesk, "closed")
    before = problem_state(pdesk, problem)
    response = api_client(pdesk.manager).patch(
        pdesk.url(f"{problem.reference}/"), {"title": "Renamed"}, format="json"
    )
    assert (response.status_code, response.json()["code"]) == (409, "not_editable")
    assert problem_state(pdesk, problem) == before


# --- Bad input: a 400 naming the field, never a 500 --------------------------------------------


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "title"),
        ({"title": ""}, "title"),
        ({"title": "x" * 201}, "title"),
        ({"title": "Slow", "impact": 7}, "impact"),
        ({"title": "Slow", "services": ["nope"]}, "services"),
        ({"title": "Slow", "services": "email"}, "services"),
        ({"title": "Slow", "category": 12}, "category"),
        ({"title": "Slow", "problem_manager": "rita-requester"}, "problem_manager"),
        ({"title": "Slow", "problem_manager": "nobody"}, "problem_manager"),
        ({"title": "Slow", "review_at": "next week"}, "review_at"),
        ({"title": "Slow", "status": "closed"}, "status"),
        ({"title": "Slow", "priority": 1}, "priority"),
        ({"title": "Slow", "number": 5}, "number"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(pdesk, api_client, body, field):
    response = api_client(pdesk.manager).post(pdesk.url(), body, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()["fields"]
    with rls.tenant_scope(pdesk.tenant.pk):
        assert not Problem.objects.exists()


def test_another_tenants_service_and_team_are_unknown_values(pdesk, api_client):
    other = TenantFactory()
    ServiceFactory(tenant=other, slug="elsewhere")
    TeamFactory(tenant=other, slug="their-team")
    client = api_client(pdesk.manager)
    for body, field in [
        ({"title": "x", "services": ["elsewhere"]}, "services"),
        ({"title": "x", "assignment_team": "their-team"}, "assignment_team"),
    ]:
        response = client.post(pdesk.url(), body, format="json")
        assert response.status_code == 400
        assert field in response.json()["fields"]


@pytest.mark.parametrize("reference", ["PRB-99999999999999999999999", "INC-000001", "PRB-x"])
def test_a_reference_that_names_no_problem_is_a_404(pdesk, api_client, reference):
    make_problem(pdesk)
    response = api_client(pdesk.manager).get(pdesk.url(f"{reference}/"))
    assert response.status_code == 404


def test_lists_filter_by_status_service_team_manager_and_text(pdesk, api_client):
    desk = pdesk.desk
    mail = make_problem(pdesk, "under_investigation", services=[desk.service])
    printers = make_problem(
        pdesk, title="Printers jam", assignment_team=desk.l2, problem_manager=desk.admin
    )
    client = api_client(pdesk.manager)

    def refs(**query):
        response = client.get(pdesk.url(), query)
        assert response.status_code == 200, response.content
        return [row["reference"] for row in response.json()["results"]]

    assert refs(status="under_investigation") == [mail.reference]
    assert refs(service="email") == [mail.reference]
    assert refs(team="l2") == [printers.reference]
    assert refs(manager="ada-admin") == [printers.reference]
    assert refs(search="jam") == [printers.reference]
    assert refs(priority=4) == [printers.reference, mail.reference]
    assert client.get(pdesk.url(), {"service": "nope"}).status_code == 400


def test_the_list_costs_the_same_queries_for_more_problems(
    pdesk, api_client, django_assert_num_queries
):
    client = api_client(pdesk.manager)
    make_problem(pdesk, services=[pdesk.desk.service])
    client.get(pdesk.url())  # the tenant's configuration (priority labels) is cached from here
    # token with the tenant's membership and RLS (one statement), problems, their services...
    with django_assert_num_queries(6) as few:
        assert len(client.get(pdesk.url()).json()["results"]) == 1
    for _ in range(5):
        make_problem(pdesk, services=[pdesk.desk.service], assignment_team=pdesk.desk.l2)
    with django_assert_num_queries(len(few.captured_queries)):
        assert len(client.get(pdesk.url()).json()["results"]) == 6


# --- Known errors ------------------------------------------------------------------------------


def test_a_known_error_needs_a_documented_root_cause_and_workaround(pdesk, api_client):
    problem = make_problem(pdesk, "under_investigation")
    client = api_client(pdesk.manager)
    url = pdesk.url(f"{problem.reference}/create-known-error/")

    refused = client.post(url, {"symptoms": "Mail waits in the outbox."}, format="json")

    assert refused.status_code == 409
    assert refused.json()["code"] == "known_error_not_ready"
    assert refused.json()["missing"] == ["root_cause", "workaround"]
    with rls.tenant_scope(pdesk.tenant.pk):
        assert not KnownError.objects.exists()

    # Once both are documented, the known error is recorded as a draft carrying them
    client.patch(
        pdesk.url(f"{problem.reference}/"),
        {"root_cause": "Pool too small.", "workaround": "Restart the relay."},
        format="json",
    )
    created = client.post(url, {"symptoms": "Mail waits in the outbox."}, format="json")
    assert created.status_code == 201, created.content
    body = created.json()
    assert (body["reference"], body["problem"], body["status"]) == (
        "KE-000001",
        problem.reference,
        "draft",
    )
    assert (body["root_cause"], body["workaround"]) == ("Pool too small.", "Restart the relay.")
    timeline = client.get(pdesk.url(f"{problem.reference}/timeline/")).json()
    assert timeline[-1]["kind"] == "known_error"
    assert timeline[-1]["data"]["known_error"] == "KE-000001"


def test_a_known_error_without_symptoms_is_a_400(pdesk, api_client):
    problem = make_problem(pdesk, "root_cause_known")
    response = api_client(pdesk.manager).post(
        pdesk.url(f"{problem.reference}/create-known-error/"), {}, format="json"
    )
    assert response.status_code == 400
    assert "symptoms" in response.json()["fields"]


@pytest.mark.parametrize("state", ["draft", "published", "retired"])
@pytest.mark.parametrize("action", list(KNOWN_ERROR_EXPECTED))
def test_each_known_error_state_and_action_through_the_api(pdesk, api_client, state, action):
    known_error = make_known_error(pdesk, state)
    expected = KNOWN_ERROR_EXPECTED[action].get(state)

    response = api_client(pdesk.manager).post(
        pdesk.ke_url(f"{known_error.reference}/{action}/"), {}, format="json"
    )

    with rls.tenant_scope(pdesk.tenant.pk):
        known_error_now = KnownError.objects.get(pk=known_error.pk)
    if expected is None:
        assert response.status_code == 409, response.content
        assert action not in response.json()["allowed_actions"]
        assert known_error_now.status == state
    else:
        assert response.status_code == 200, response.content
        assert response.json()["status"] == known_error_now.status == expected


def test_known_errors_are_edited_until_retired(pdesk, api_client):
    client = api_client(pdesk.manager)
    draft = make_known_error(pdesk)
    retired = make_known_error(pdesk, "retired")

    edited = client.patch(
        pdesk.ke_url(f"{draft.reference}/"), {"symptoms": "Bounces."}, format="json"
    )
    refused = client.patch(
        pdesk.ke_url(f"{retired.reference}/"), {"symptoms": "Bounces."}, format="json"
    )
    forbidden = api_client(pdesk.desk.l1_agent).patch(
        pdesk.ke_url(f"{draft.reference}/"), {"symptoms": "x"}, format="json"
    )

    assert (edited.status_code, edited.json()["symptoms"]) == (200, "Bounces.")
    assert refused.status_code == 409
    assert forbidden.status_code == 403


def test_known_errors_list_filters_by_status_and_problem(pdesk, api_client):
    draft = make_known_error(pdesk)
    published = make_known_error(pdesk, "published")
    client = api_client(pdesk.desk.l1_agent)

    def refs(**query):
        return [row["reference"] for row in client.get(pdesk.ke_url(), query).json()["results"]]

    assert refs(status="published") == [published.reference]
    assert refs(problem=draft.problem.reference) == [draft.reference]
    assert refs(problem="PRB-999999999999999999999999") == []


def test_roles_on_problems(pdesk):
    # The role table as documented: managers and admins manage, agents link, staff read.
    from problems.api.views import ProblemViewSet

    roles = ProblemViewSet.action_roles
    managers = {MembershipRole.PROBLEM_MANAGER, MembershipRole.TENANT_ADMIN}
    assert set(roles["resolve"]) == managers
    assert set(roles["link_incidents"]) == managers | {MembershipRole.AGENT}
    assert MembershipRole.REQUESTER not in roles["list"]
