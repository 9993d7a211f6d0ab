"""The platform admin: sees every tenant, writes through services, refuses cross-tenant links."""

from typing import Any

import pytest
from django.core import mail
from django.test import Client

from itsm.catalog.models import Category, Service
from itsm.tenancy import rls
from itsm.tenancy.choices import MembershipRole, TeamKind
from itsm.tenancy.models import Membership, Team, TeamMember, Tenant
from tests.factories import (
    CategoryFactory,
    MembershipFactory,
    ServiceFactory,
    TeamFactory,
    UserFactory,
)
from tests.markers import platform_db

pytestmark = platform_db


@pytest.fixture
def platform_admin() -> Any:
    return UserFactory(username="root", is_staff=True, is_superuser=True)


@pytest.fixture
def admin_client(platform_admin: Any) -> Client:
    client = Client()
    client.force_login(platform_admin)
    return client


@pytest.fixture
def both_tenants(tenant_a, tenant_b) -> dict[str, dict[str, Any]]:
    """A membership, a team, a service and a category in each tenant."""
    rows: dict[str, dict[str, Any]] = {}
    for tenant in (tenant_a, tenant_b):
        team = TeamFactory(tenant=tenant, name=f"Ops of {tenant.slug}")
        rows[tenant.slug] = {
            "membership": MembershipFactory(tenant=tenant),
            "team": team,
            "service": ServiceFactory(tenant=tenant, owner_team=team),
            "category": CategoryFactory(tenant=tenant),
        }
    return rows


def _everything() -> dict[str, list[dict[str, Any]]]:
    with rls.platform_scope():
        return {
            model.__name__: [dict(row) for row in model.objects.order_by("pk").values()]
            for model in (Membership, Team, TeamMember, Service, Category)
        }


def _shown(response: Any) -> set[int]:
    return {obj.pk for obj in response.context["cl"].result_list}


CHANGELISTS = [
    ("/admin/tenancy/membership/", "membership"),
    ("/admin/tenancy/team/", "team"),
    ("/admin/catalog/service/", "service"),
    ("/admin/catalog/category/", "category"),
]


# --- Changelists -------------------------------------------------------------------------------


def test_tenant_changelist_shows_every_tenant(admin_client, tenant_a, tenant_b):
    response = admin_client.get("/admin/tenancy/tenant/")

    assert response.status_code == 200
    assert _shown(response) == {tenant_a.pk, tenant_b.pk}


@pytest.mark.parametrize(("url", "kind"), CHANGELISTS)
def test_changelists_show_rows_of_every_tenant(admin_client, both_tenants, url, kind):
    # Given one row of the kind in each tenant (plus the rows the others bring along)
    # When the platform admin opens the changelist
    response = admin_client.get(url)

    # Then it renders with the rows of both tenants: the platform scope sees every tenant
    assert response.status_code == 200
    expected = {both_tenants[slug][kind].pk for slug in ("tenant-a", "tenant-b")}
    assert expected <= _shown(response)
    model = response.context["cl"].model
    with rls.platform_scope():
        assert _shown(response) == set(model.objects.values_list("pk", flat=True))
        assert set(model.objects.values_list("tenant__slug", flat=True)) == {
            "tenant-a",
            "tenant-b",
        }


@pytest.mark.parametrize(("url", "kind"), CHANGELISTS)
def test_changelists_filter_by_tenant(admin_client, both_tenants, tenant_a, url, kind):
    # When the platform admin filters the changelist by tenant A
    response = admin_client.get(url, {"tenant__id__exact": tenant_a.pk})

    # Then exactly A's rows are shown
    assert response.status_code == 200
    model = response.context["cl"].model
    with rls.platform_scope():
        expected = set(model.objects.filter(tenant=tenant_a).values_list("pk", flat=True))
    assert both_tenants["tenant-a"][kind].pk in expected
    assert _shown(response) == expected


@pytest.mark.parametrize(
    "url",
    [
        "/admin/tenancy/membership/{membership}/change/",
        "/admin/tenancy/team/{team}/change/",
        "/admin/catalog/service/{service}/change/",
        "/admin/catalog/category/{category}/change/",
    ],
)
def test_change_forms_of_another_tenant_render(admin_client, both_tenants, url):
    rows = both_tenants["tenant-b"]
    response = admin_client.get(url.format(**{kind: obj.pk for kind, obj in rows.items()}))

    assert response.status_code == 200


# --- Writes go through the services ------------------------------------------------------------


def test_adding_a_membership_goes_through_the_service_and_welcomes_the_user(
    admin_client, tenant_a, settings, django_capture_on_commit_callbacks
):
    # Given a user who is in no tenant, and tasks that run at once
    settings.CELERY_TASK_ALWAYS_EAGER = True
    user = UserFactory(username="newbie", email="newbie@example.com")

    # When the platform admin adds them to A as an agent
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = admin_client.post(
            "/admin/tenancy/membership/add/",
            {"tenant": tenant_a.pk, "user": user.pk, "role": "agent", "is_active": "on"},
        )

    # Then the membership exists and the welcome task ran after commit, sending one e-mail
    assert response.status_code == 302
    assert response["Location"] == "/admin/tenancy/membership/"
    with rls.platform_scope():
        assert list(Membership.objects.filter(user=user).values_list("tenant_id", "role")) == [
            (tenant_a.pk, "agent")
        ]
    assert len(callbacks) == 1
    assert [(m.to, m.subject) for m in mail.outbox] == [
        (["newbie@example.com"], "You have been added to Tenant A")
    ]
    assert "you now have the role Agent in Tenant A" in mail.outbox[0].body


def test_adding_an_inactive_membership_sends_no_welcome(
    admin_client, tenant_a, settings, django_capture_on_commit_callbacks
):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    user = UserFactory(username="dormant")

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            "/admin/tenancy/membership/add/",
            {"tenant": tenant_a.pk, "user": user.pk, "role": "requester"},
        )

    assert response.status_code == 302
    with rls.platform_scope():
        assert list(Membership.objects.filter(user=user).values_list("is_active", flat=True)) == [
            False
        ]
    assert mail.outbox == []


def test_adding_a_duplicate_membership_is_refused(admin_client, tenant_a, agent_a):
    before = _everything()

    response = admin_client.post(
        "/admin/tenancy/membership/add/",
        {"tenant": tenant_a.pk, "user": agent_a.pk, "role": "tenant_admin", "is_active": "on"},
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.non_field_errors() == [
        "Membership with this Tenant and User already exists."
    ]
    assert _everything() == before


def test_adding_a_team_with_members_goes_through_the_service(
    admin_client, tenant_a, agent_a, requester_a
):
    # When the platform admin adds a team of A with two of A's members
    response = admin_client.post(
        "/admin/tenancy/team/add/",
        {
            "tenant": tenant_a.pk,
            "name": "Desk",
            "slug": "desk",
            "kind": TeamKind.L1,
            "members": [agent_a.pk, requester_a.pk],
        },
    )

    # Then the team exists in A with exactly those members
    assert response.status_code == 302
    with rls.tenant_scope(tenant_a.pk):
        team = Team.objects.get(slug="desk")
        assert sorted(team.members.values_list("username", flat=True)) == [
            "agent-a",
            "requester-a",
        ]


def test_a_service_owned_by_another_tenants_team_is_refused(admin_client, tenant_a, tenant_b):
    # Given a team of B
    team_b = TeamFactory(tenant=tenant_b, slug="b-ops")
    before = _everything()

    # When the platform admin adds a service of A owned by it
    response = admin_client.post(
        "/admin/catalog/service/add/",
        {
            "tenant": tenant_a.pk,
            "name": "E-mail",
            "slug": "email",
            "description": "",
            "owner_team": team_b.pk,
            "criticality": "medium",
            "is_active": "on",
        },
    )

    # Then the form is shown again with the error on owner_team and nothing is written
    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {
        "owner_team": ["Must belong to the same tenant."]
    }
    assert _everything() == before


def test_changing_a_services_owner_to_another_tenants_team_is_refused(
    admin_client, tenant_a, tenant_b
):
    service = ServiceFactory(tenant=tenant_a, slug="email", name="E-mail")
    team_b = TeamFactory(tenant=tenant_b, slug="b-ops")
    before = _everything()

    response = admin_client.post(
        f"/admin/catalog/service/{service.pk}/change/",
        {
            "tenant": tenant_a.pk,
            "name": "E-mail",
            "slug": "email",
            "description": "",
            "owner_team": team_b.pk,
            "criticality": "medium",
            "is_active": "on",
        },
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {
        "owner_team": ["Must belong to the same tenant."]
    }
    assert _everything() == before


def test_a_category_under_another_tenants_category_is_refused(admin_client, tenant_a, tenant_b):
    parent_b = CategoryFactory(tenant=tenant_b)
    before = _everything()

    response = admin_client.post(
        "/admin/catalog/category/add/",
        {"tenant": tenant_a.pk, "name": "Laptops", "slug": "laptops", "parent": parent_b.pk},
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {
        "parent": ["Must belong to the same tenant."]
    }
    assert _everything() == before


def test_a_team_with_a_member_of_another_tenant_is_refused(
    admin_client, tenant_a, agent_a, admin_b
):
    # Given a user who is only a member of B
    before = _everything()

    # When the platform admin adds a team of A with them (and one of A's members)
    response = admin_client.post(
        "/admin/tenancy/team/add/",
        {
            "tenant": tenant_a.pk,
            "name": "Desk",
            "slug": "desk",
            "kind": TeamKind.L1,
            "members": [agent_a.pk, admin_b.pk],
        },
    )

    # Then the form names the outsider on the members field and nothing is written
    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {
        "members": ["Not members of Tenant A: admin-b."]
    }
    assert _everything() == before


def test_changing_a_teams_members_to_another_tenants_user_is_refused(
    admin_client, tenant_a, agent_a, admin_b
):
    team = TeamFactory(tenant=tenant_a, slug="desk", name="Desk", kind=TeamKind.L1)
    before = _everything()

    response = admin_client.post(
        f"/admin/tenancy/team/{team.pk}/change/",
        {"name": "Desk", "slug": "desk", "kind": TeamKind.L1, "members": [admin_b.pk]},
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {
        "members": ["Not members of Tenant A: admin-b."]
    }
    assert _everything() == before


def test_a_team_without_a_tenant_is_a_form_error_not_a_crash(admin_client, agent_a):
    before = _everything()

    response = admin_client.post(
        "/admin/tenancy/team/add/",
        {"name": "Desk", "slug": "desk", "kind": TeamKind.L1, "members": [agent_a.pk]},
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {"tenant": ["This field is required."]}
    assert _everything() == before


# Rules on the tenant's constraints and the model's clean() are form errors, not 500s, even
# though the tenant is read-only on the change page.


def test_changing_a_teams_slug_to_a_taken_one_is_a_form_error(admin_client, tenant_a):
    team = TeamFactory(tenant=tenant_a, slug="one", name="One", kind=TeamKind.L1)
    TeamFactory(tenant=tenant_a, slug="two", name="Two")

    response = admin_client.post(
        f"/admin/tenancy/team/{team.pk}/change/", {"name": "One", "slug": "two", "kind": "l1"}
    )

    assert response.status_code == 200
    assert list(response.context["adminform"].form.errors) == ["slug"]


def test_a_team_escalating_to_itself_is_a_form_error(admin_client, tenant_a):
    team = TeamFactory(tenant=tenant_a, slug="one", name="One", kind=TeamKind.L1)

    response = admin_client.post(
        f"/admin/tenancy/team/{team.pk}/change/",
        {"name": "One", "slug": "one", "kind": "l1", "escalation_team": team.pk},
    )

    assert response.status_code == 200
    assert list(response.context["adminform"].form.errors) == ["escalation_team"]


# --- Who gets in -------------------------------------------------------------------------------


@pytest.mark.parametrize("url", ["/admin/", "/admin/tenancy/tenant/", "/admin/catalog/service/"])
def test_a_non_staff_user_is_sent_to_the_admin_login(tenant_a, make_member, url):
    # Given a tenant administrator, who is not platform staff
    client = Client()
    client.force_login(make_member(tenant_a, MembershipRole.TENANT_ADMIN, username="boss"))

    # When they open the admin
    response = client.get(url)

    # Then they are redirected to the admin login
    assert response.status_code == 302
    assert response["Location"] == f"/admin/login/?next={url}"


def test_an_anonymous_user_is_sent_to_the_admin_login():
    response = Client().get("/admin/tenancy/membership/")

    assert (response.status_code, response["Location"]) == (
        302,
        "/admin/login/?next=/admin/tenancy/membership/",
    )


def test_a_non_staff_user_cannot_post_to_the_admin(tenant_a, agent_a):
    client = Client()
    client.force_login(agent_a)
    before = _everything()

    response = client.post(
        "/admin/tenancy/membership/add/",
        {"tenant": tenant_a.pk, "user": agent_a.pk, "role": "tenant_admin", "is_active": "on"},
    )

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")
    assert _everything() == before
    with rls.platform_scope():
        assert Tenant.objects.count() == 1
