"""The tenancy API: the tenant's teams (with members) and memberships."""

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from itsm.tenancy import rls
from itsm.tenancy.choices import MembershipRole, TeamKind
from itsm.tenancy.models import Membership, Team, TeamMember
from tests.conftest import api_url
from tests.factories import MembershipFactory, ServiceFactory, TeamFactory, TeamMemberFactory
from tests.reading import rows_across_tenants

pytestmark = pytest.mark.django_db

NOT_AUTHENTICATED = {
    "code": "not_authenticated",
    "message": "Authentication credentials were not provided.",
    "fields": {},
}
NO_SUCH_TENANT = {"code": "not_found", "message": "No such tenant.", "fields": {}}
ROLE_REFUSED = {
    "code": "permission_denied",
    "message": "Your role does not allow this action.",
    "fields": {},
}
NOT_FOUND = {"code": "not_found", "message": "Not found.", "fields": {}}

CALLERS = {
    "anonymous": None,
    "member_of_another_tenant": "admin_b",
    "requester": "requester_a",
    "agent": "agent_a",
    "tenant_admin": "admin_a",
}
# Teams and memberships are for staff: requesters (end users) do not see them.
READ_STATUS = {
    "anonymous": (401, NOT_AUTHENTICATED),
    "member_of_another_tenant": (404, NO_SUCH_TENANT),
    "requester": (403, ROLE_REFUSED),
    "agent": (200, None),
    "tenant_admin": (200, None),
}
WRITE_REFUSED = {
    "anonymous": (401, NOT_AUTHENTICATED),
    "member_of_another_tenant": (404, NO_SUCH_TENANT),
    "requester": (403, ROLE_REFUSED),
    "agent": (403, ROLE_REFUSED),
}


def _caller(request: pytest.FixtureRequest, name: str) -> Any:
    fixture = CALLERS[name]
    return None if fixture is None else request.getfixturevalue(fixture)


def _rows(*models: Any) -> list[list[dict[str, Any]]]:
    """Every row of the models in every tenant, to show that a refused call changed nothing."""
    return [rows_across_tenants(model) for model in models]


def _team_members(tenant: Any, slug: str) -> list[str]:
    with rls.tenant_scope(tenant.pk):
        return sorted(Team.objects.get(slug=slug).members.values_list("username", flat=True))


# --- Teams: role matrix ------------------------------------------------------------------------


@pytest.mark.parametrize("caller", list(READ_STATUS))
def test_teams_list_by_role(request, api_client, tenant_a, tenant_b, caller):
    # Given a team in each tenant
    TeamFactory(tenant=tenant_a, slug="ops", name="Ops")
    TeamFactory(tenant=tenant_b, slug="theirs", name="Theirs")
    user = _caller(request, caller)

    # When the caller lists A's teams
    response = api_client(user).get(api_url(tenant_a, "teams/"))

    # Then staff of A see only A's team, everyone else is refused
    status, body = READ_STATUS[caller]
    assert response.status_code == status
    if body is None:
        assert [team["slug"] for team in response.json()["results"]] == ["ops"]
    else:
        assert response.json() == body


@pytest.mark.parametrize("caller", list(READ_STATUS))
def test_team_retrieve_by_role(request, api_client, tenant_a, caller):
    # Given a team of A with an escalation team and a member
    l2 = TeamFactory(tenant=tenant_a, slug="l2", name="L2", kind=TeamKind.L2)
    team = TeamFactory(
        tenant=tenant_a, slug="desk", name="Desk", email="desk@example.com", escalation_team=l2
    )
    TeamMemberFactory(tenant=tenant_a, team=team, user=request.getfixturevalue("agent_a"))
    user = _caller(request, caller)

    # When the caller asks for it by slug
    response = api_client(user).get(api_url(tenant_a, "teams/desk/"))

    # Then staff of A get it, everyone else is refused
    status, body = READ_STATUS[caller]
    assert response.status_code == status
    if body is None:
        data = response.json()
        assert {key: data[key] for key in data if key not in ("created_at", "updated_at")} == {
            "slug": "desk",
            "name": "Desk",
            "kind": "l1",
            "description": "",
            "email": "desk@example.com",
            "escalation_team": "l2",
            "members": ["agent-a"],
        }
    else:
        assert response.json() == body


@pytest.mark.parametrize("caller", list(WRITE_REFUSED))
def test_team_create_is_refused_to_all_but_tenant_admins(request, api_client, tenant_a, caller):
    user = _caller(request, caller)
    before = _rows(Team, TeamMember)

    response = api_client(user).post(
        api_url(tenant_a, "teams/"), {"name": "New", "slug": "new", "kind": "l1"}
    )

    status, body = WRITE_REFUSED[caller]
    assert (response.status_code, response.json()) == (status, body)
    assert _rows(Team, TeamMember) == before


@pytest.mark.parametrize("caller", list(WRITE_REFUSED))
def test_team_update_is_refused_to_all_but_tenant_admins(request, api_client, tenant_a, caller):
    TeamFactory(tenant=tenant_a, slug="ops", name="Ops")
    user = _caller(request, caller)
    before = _rows(Team, TeamMember)

    response = api_client(user).patch(
        api_url(tenant_a, "teams/ops/"), {"name": "Renamed", "members": []}
    )

    status, body = WRITE_REFUSED[caller]
    assert (response.status_code, response.json()) == (status, body)
    assert _rows(Team, TeamMember) == before


@pytest.mark.parametrize("caller", list(WRITE_REFUSED))
def test_team_delete_is_refused_to_all_but_tenant_admins(request, api_client, tenant_a, caller):
    TeamMemberFactory(tenant=tenant_a, team=TeamFactory(tenant=tenant_a, slug="ops"))
    user = _caller(request, caller)
    before = _rows(Team, TeamMember)

    response = api_client(user).delete(api_url(tenant_a, "teams/ops/"))

    status, body = WRITE_REFUSED[caller]
    assert (response.status_code, response.json()) == (status, body)
    assert _rows(Team, TeamMember) == before


def test_another_tenants_team_is_not_found(api_client, tenant_a, tenant_b, admin_a):
    # Given a team that only B has
    TeamFactory(tenant=tenant_b, slug="theirs", name="Theirs")
    before = _rows(Team)
    client = api_client(admin_a)
    url = api_url(tenant_a, "teams/theirs/")

    # When A's administrator reads, changes or deletes it through A's URL
    responses = [client.get(url), client.patch(url, {"name": "Hijacked"}), client.delete(url)]

    # Then each is a 404 and B's team is untouched
    assert [(r.status_code, r.json()) for r in responses] == [(404, NOT_FOUND)] * 3
    assert _rows(Team) == before


# --- Teams: writes -----------------------------------------------------------------------------


def test_admin_creates_a_team_with_members_and_escalation(
    api_client, tenant_a, admin_a, agent_a, make_member
):
    # Given an L2 team and two members of A
    TeamFactory(tenant=tenant_a, slug="l2", name="L2", kind=TeamKind.L2)
    make_member(tenant_a, MembershipRole.AGENT, username="agent-2")

    # When the administrator creates a team naming them
    response = api_client(admin_a).post(
        api_url(tenant_a, "teams/"),
        {
            "name": "Service desk",
            "slug": "desk",
            "kind": "l1",
            "escalation_team": "l2",
            "members": ["agent-a", "agent-2"],
        },
    )

    # Then the team exists with those members and that escalation team
    assert response.status_code == 201
    body = response.json()
    assert (body["slug"], body["name"], body["kind"], body["escalation_team"]) == (
        "desk",
        "Service desk",
        "l1",
        "l2",
    )
    assert sorted(body["members"]) == ["agent-2", "agent-a"]
    assert _team_members(tenant_a, "desk") == ["agent-2", "agent-a"]
    with rls.tenant_scope(tenant_a.pk):
        escalation_team = Team.objects.get(slug="desk").escalation_team
        assert escalation_team is not None
        assert escalation_team.slug == "l2"
        assert TeamMember.objects.filter(team__slug="desk").count() == 2


def test_admin_replaces_a_teams_members(api_client, tenant_a, admin_a, agent_a, make_member):
    # Given a team with agent-a and agent-2
    team = TeamFactory(tenant=tenant_a, slug="desk")
    TeamMemberFactory(tenant=tenant_a, team=team, user=agent_a)
    TeamMemberFactory(tenant=tenant_a, team=team, user=make_member(tenant_a, username="agent-2"))
    make_member(tenant_a, username="agent-3")

    # When the administrator sets the members to agent-2 and agent-3
    response = api_client(admin_a).patch(
        api_url(tenant_a, "teams/desk/"), {"members": ["agent-2", "agent-3"]}
    )

    # Then exactly those are members
    assert (response.status_code, sorted(response.json()["members"])) == (
        200,
        ["agent-2", "agent-3"],
    )
    assert _team_members(tenant_a, "desk") == ["agent-2", "agent-3"]


def test_patch_without_members_keeps_them(api_client, tenant_a, admin_a, agent_a):
    team = TeamFactory(tenant=tenant_a, slug="desk", name="Desk")
    TeamMemberFactory(tenant=tenant_a, team=team, user=agent_a)

    response = api_client(admin_a).patch(api_url(tenant_a, "teams/desk/"), {"name": "Front desk"})

    assert (response.status_code, response.json()["name"], response.json()["members"]) == (
        200,
        "Front desk",
        ["agent-a"],
    )
    assert _team_members(tenant_a, "desk") == ["agent-a"]


@pytest.mark.parametrize(
    ("username", "reason"),
    [
        ("nobody", "no such user"),
        ("admin-b", "a member of another tenant only"),
        ("former", "an inactive member"),
    ],
)
def test_team_members_must_be_active_members_of_the_tenant(
    api_client, tenant_a, admin_a, admin_b, username, reason
):
    # Given a team, and a former (inactive) member of A
    TeamFactory(tenant=tenant_a, slug="desk")
    MembershipFactory(tenant=tenant_a, user__username="former", is_active=False)
    before = _rows(Team, TeamMember)
    client = api_client(admin_a)

    # When the administrator names the user as a member, on create and on update
    created = client.post(
        api_url(tenant_a, "teams/"),
        {"name": "New", "slug": "new", "kind": "l1", "members": ["admin-a", username]},
    )
    updated = client.patch(api_url(tenant_a, "teams/desk/"), {"members": [username]})

    # Then both are refused on the members field, like a user who does not exist
    expected = {
        "code": "invalid",
        "message": "Invalid input.",
        "fields": {"members": [f"Object with username={username} does not exist."]},
    }
    assert (created.status_code, created.json()) == (400, expected), reason
    assert (updated.status_code, updated.json()) == (400, expected), reason
    assert _rows(Team, TeamMember) == before


def test_a_team_cannot_escalate_to_itself(api_client, tenant_a, admin_a):
    # Given a team
    TeamFactory(tenant=tenant_a, slug="desk")
    before = _rows(Team)

    # When the administrator makes it its own escalation team
    response = api_client(admin_a).patch(
        api_url(tenant_a, "teams/desk/"), {"escalation_team": "desk"}
    )

    # Then it is refused on the escalation_team field and nothing changes
    assert response.status_code == 400
    assert response.json() == {
        "code": "invalid",
        "message": "Invalid input.",
        "fields": {"escalation_team": ["A team cannot escalate to itself."]},
    }
    assert _rows(Team) == before


def test_escalation_team_must_exist(api_client, tenant_a, admin_a):
    before = _rows(Team)

    response = api_client(admin_a).post(
        api_url(tenant_a, "teams/"),
        {"name": "Desk", "slug": "desk", "kind": "l1", "escalation_team": "missing"},
    )

    assert response.status_code == 400
    assert response.json()["fields"] == {
        "escalation_team": ["Object with slug=missing does not exist."]
    }
    assert _rows(Team) == before


def test_admin_deletes_a_team_with_its_members_and_escalations(
    api_client, tenant_a, admin_a, agent_a
):
    # Given a team with a member, and a team escalating to it
    team = TeamFactory(tenant=tenant_a, slug="l2", kind=TeamKind.L2)
    TeamMemberFactory(tenant=tenant_a, team=team, user=agent_a)
    TeamFactory(tenant=tenant_a, slug="desk", escalation_team=team)

    # When the administrator deletes it
    response = api_client(admin_a).delete(api_url(tenant_a, "teams/l2/"))

    # Then it and its memberships are gone, the other team escalates to nobody, the user stays
    assert (response.status_code, response.content) == (204, b"")
    with rls.tenant_scope(tenant_a.pk):
        assert list(Team.objects.values_list("slug", "escalation_team")) == [("desk", None)]
        assert TeamMember.objects.count() == 0
        assert Membership.objects.filter(user=agent_a).exists()


def test_deleting_a_team_that_owns_a_service_is_a_conflict(api_client, tenant_a, admin_a):
    # Given a team that owns a service
    team = TeamFactory(tenant=tenant_a, slug="ops", name="Ops")
    ServiceFactory(tenant=tenant_a, owner_team=team)
    before = _rows(Team)

    # When the administrator deletes the team
    response = api_client(admin_a).delete(api_url(tenant_a, "teams/ops/"))

    # Then it is refused as still in use and the team remains
    assert response.status_code == 409
    assert response.json() == {
        "code": "in_use",
        "message": "Ops is still in use; deactivate it instead.",
        "fields": {},
    }
    assert _rows(Team) == before


# --- Teams: filters ----------------------------------------------------------------------------


def test_teams_filter_by_kind_and_member(api_client, tenant_a, agent_a):
    desk = TeamFactory(tenant=tenant_a, slug="desk", name="Desk", kind=TeamKind.L1)
    TeamFactory(tenant=tenant_a, slug="l2", name="L2", kind=TeamKind.L2)
    TeamFactory(tenant=tenant_a, slug="l3", name="L3", kind=TeamKind.L3)
    TeamMemberFactory(tenant=tenant_a, team=desk, user=agent_a)
    client = api_client(agent_a)
    url = api_url(tenant_a, "teams/")

    by_kind = client.get(f"{url}?kind=l2&kind=l3")
    by_member = client.get(url, {"member": "agent-a"})

    assert [team["slug"] for team in by_kind.json()["results"]] == ["l2", "l3"]
    assert [team["slug"] for team in by_member.json()["results"]] == ["desk"]


# --- Memberships -------------------------------------------------------------------------------


@pytest.mark.parametrize("caller", list(READ_STATUS))
def test_memberships_list_by_role(request, api_client, tenant_a, tenant_b, admin_b, caller):
    # Given A's members (requester, agent, admin, created in that order) and B's admin
    requester = request.getfixturevalue("requester_a")
    agent = request.getfixturevalue("agent_a")
    admin = request.getfixturevalue("admin_a")
    user = _caller(request, caller)

    # When the caller lists A's memberships
    response = api_client(user).get(api_url(tenant_a, "memberships/"))

    # Then staff of A see exactly A's memberships, everyone else is refused
    status, body = READ_STATUS[caller]
    assert response.status_code == status
    if body is None:
        assert [(m["username"], m["role"]) for m in response.json()["results"]] == [
            (requester.username, "requester"),
            (agent.username, "agent"),
            (admin.username, "tenant_admin"),
        ]
    else:
        assert response.json() == body


@pytest.mark.parametrize("caller", list(READ_STATUS))
def test_membership_retrieve_by_role(request, api_client, tenant_a, caller):
    agent = request.getfixturevalue("agent_a")
    with rls.tenant_scope(tenant_a.pk):
        membership = Membership.objects.get(user=agent)
    user = _caller(request, caller)

    response = api_client(user).get(api_url(tenant_a, f"memberships/{membership.pk}/"))

    status, body = READ_STATUS[caller]
    assert response.status_code == status
    if body is None:
        assert response.json() == {
            "id": membership.pk,
            "username": "agent-a",
            "email": "agent-a@example.com",
            "full_name": "",
            "role": "agent",
            "is_active": True,
            "created_at": response.json()["created_at"],
        }
    else:
        assert response.json() == body


def test_another_tenants_membership_is_not_found(api_client, tenant_a, admin_a, admin_b, tenant_b):
    with rls.tenant_scope(tenant_b.pk):
        membership = Membership.objects.get(user=admin_b)

    response = api_client(admin_a).get(api_url(tenant_a, f"memberships/{membership.pk}/"))

    assert (response.status_code, response.json()) == (404, NOT_FOUND)


def test_memberships_filter_by_role_and_is_active(api_client, tenant_a, admin_a, make_member):
    # Given two agents, a change manager and an inactive agent
    make_member(tenant_a, MembershipRole.AGENT, username="agent-1")
    make_member(tenant_a, MembershipRole.AGENT, username="agent-2")
    make_member(tenant_a, MembershipRole.CHANGE_MANAGER, username="cab")
    MembershipFactory(tenant=tenant_a, user__username="gone", is_active=False)
    client = api_client(admin_a)
    url = api_url(tenant_a, "memberships/")

    # When filtering by role, by two roles, and by inactive
    agents = client.get(url, {"role": "agent"})
    managers = client.get(f"{url}?role=change_manager&role=tenant_admin")
    inactive = client.get(url, {"is_active": "false"})
    unknown = client.get(url, {"role": "owner"})

    # Then each gives exactly its members; an unknown role is a 400
    assert [m["username"] for m in agents.json()["results"]] == ["agent-1", "agent-2", "gone"]
    assert [m["username"] for m in managers.json()["results"]] == ["admin-a", "cab"]
    assert [m["username"] for m in inactive.json()["results"]] == ["gone"]
    assert unknown.status_code == 400
    assert unknown.json()["fields"] == {
        "role": ["Select a valid choice. owner is not one of the available choices."]
    }


# --- Query counts ------------------------------------------------------------------------------


def _list_queries(client: Any, url: str) -> tuple[int, int]:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return len(response.json()["results"]), len(queries)


def _add_teams(tenant: Any, count: int, escalation_team: Team) -> None:
    for _ in range(count):
        team = TeamFactory(tenant=tenant, escalation_team=escalation_team)
        TeamMemberFactory.create_batch(2, tenant=tenant, team=team)


def test_teams_list_query_count_does_not_grow_with_the_teams(api_client, tenant_a, agent_a):
    # Given 5 teams (plus their escalation team), each with two members
    client = api_client(agent_a)
    url = api_url(tenant_a, "teams/?kind=l1")
    l2 = TeamFactory(tenant=tenant_a, kind=TeamKind.L2)
    _add_teams(tenant_a, 5, l2)
    few = _list_queries(client, url)

    # When there are 50
    _add_teams(tenant_a, 45, l2)
    many = _list_queries(client, url)

    # Then listing them (with members and escalation team) takes the same number of queries
    assert (few[0], many[0]) == (5, 50)
    assert few[1] == many[1]


def test_memberships_list_query_count_does_not_grow_with_the_members(api_client, tenant_a, agent_a):
    client = api_client(agent_a)
    url = api_url(tenant_a, "memberships/?role=requester")
    MembershipFactory.create_batch(5, tenant=tenant_a, role=MembershipRole.REQUESTER)
    few = _list_queries(client, url)

    MembershipFactory.create_batch(45, tenant=tenant_a, role=MembershipRole.REQUESTER)
    many = _list_queries(client, url)

    assert (few[0], many[0]) == (5, 50)
    assert few[1] == many[1]
