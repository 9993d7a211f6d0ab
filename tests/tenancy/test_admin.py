"""The platform admin: sees every tenant, writes through services, refuses cross-tenant links."""

from typing import Any

import pytest
from django.contrib.admin import site
from django.core import mail
from django.test import Client, RequestFactory

from itsm.calendars.models import BusinessCalendar, Holiday, WorkingPeriod
from itsm.catalog.models import Category, Service
from itsm.tenancy import rls
from itsm.tenancy.choices import MembershipRole, TeamKind
from itsm.tenancy.models import Membership, Team, TeamMember, Tenant
from tests.factories import (
    PASSWORD,
    CategoryFactory,
    MembershipFactory,
    ServiceFactory,
    SlaPolicyFactory,
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
    page = response.content.decode()
    assert page.count("Membership with this Tenant and User already exists.") == 1
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

    # The change form offers only A's members: B's user is not a choice at all
    assert response.status_code == 200
    form = response.context["adminform"].form
    assert form.errors == {
        "members": [f"Select a valid choice. {admin_b.pk} is not one of the available choices."]
    }
    with rls.platform_scope():
        assert [user.username for user in form.fields["members"].queryset] == ["agent-a"]
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


@pytest.mark.parametrize("role", [MembershipRole.AGENT, MembershipRole.REQUESTER])
@pytest.mark.parametrize("url", ["/admin/", "/admin/tenancy/tenant/", "/admin/catalog/service/"])
def test_a_member_who_is_no_tenant_admin_is_sent_to_the_admin_login(
    tenant_a, make_member, role, url
):
    # Given an agent or a requester, who is not platform staff
    client = Client()
    client.force_login(make_member(tenant_a, role, username="worker"))

    # When they open the admin
    response = client.get(url)

    # Then they are redirected to the admin login
    assert response.status_code == 302
    assert response["Location"] == f"/admin/login/?next={url}"


@pytest.mark.parametrize("role", [MembershipRole.AGENT, MembershipRole.REQUESTER])
def test_a_member_who_is_no_tenant_admin_cannot_log_in_to_the_admin(tenant_a, make_member, role):
    make_member(tenant_a, role, username="worker")
    client = Client()

    response = client.post(
        "/admin/login/", {"username": "worker", "password": PASSWORD, "next": "/admin/"}
    )

    # The same refusal as a wrong password: the form says nothing about the account
    assert response.status_code == 200
    assert response.context["form"].errors == {
        "__all__": [
            (
                "Please enter the correct username and password of an administrator's account. "
                "Note that both fields may be case-sensitive."
            )
        ]
    }
    assert client.get("/admin/").status_code == 302


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


# --- Tenant administrators: their own tenant, one at a time ------------------------------------

# What a tenant administrator finds on the index, by admin URL name: their tenant's
# configuration to edit, its incidents and audit trail to read, nothing of the platform's.
TENANT_ADMIN_MODELS = {
    "audit_auditevent": "view",
    "calendars_businesscalendar": "edit",
    "catalog_category": "edit",
    "catalog_service": "edit",
    "changes_approvalrule": "edit",
    "changes_blackoutwindow": "edit",
    "changes_cabmember": "edit",
    "changes_change": "view",
    "changes_changetemplate": "edit",
    "incidents_incident": "view",
    "incidents_incidentsettings": "edit",
    "incidents_prioritylabel": "edit",
    "incidents_prioritymatrixcell": "edit",
    "incidents_slapolicy": "edit",
    "knowledgebase_article": "view",
    "knowledgebase_articlefeedback": "view",
    "knowledgebase_tag": "view",
    "notifications_notificationpreference": "edit",
    "problems_knownerror": "view",
    "problems_problem": "view",
    "problems_problemsuggestion": "view",
    "problems_trendrun": "view",
    "problems_trendsettings": "edit",
    "tenancy_membership": "edit",
    "tenancy_team": "edit",
}

HIDDEN_FROM_TENANT_ADMINS = [
    "/admin/tenancy/tenant/",
    "/admin/tenancy/tenantcounter/",
    "/admin/auth/user/",
    "/admin/auth/user/add/",
    "/admin/auth/group/",
    "/admin/axes/accessattempt/",
    "/admin/axes/accesslog/",
    "/admin/knox/authtoken/",
    "/admin/timers/timer/",
    "/admin/timers/timerfiring/",
    "/admin/notifications/notification/",
    "/admin/notifications/delivery/",
    "/admin/django_celery_beat/periodictask/",
]


@pytest.fixture
def boss_client(admin_a: Any) -> Client:
    """The tenant administrator of A (not platform staff) in the admin."""
    client = Client()
    client.force_login(admin_a)
    return client


def _index_models(response: Any) -> dict[str, str]:
    return {
        f"{app['app_label']}_{model['model']._meta.model_name}": (
            "view" if model["view_only"] else "edit"
        )
        for app in response.context["app_list"]
        for model in app["models"]
    }


def test_a_tenant_admin_logs_in_and_sees_their_tenants_configuration(tenant_a, admin_a):
    # Given the tenant administrator of A, who is not platform staff
    assert not admin_a.is_staff
    client = Client()

    # When they log in to the admin with their password
    login = client.post(
        "/admin/login/", {"username": "admin-a", "password": PASSWORD, "next": "/admin/"}
    )
    index = client.get("/admin/")

    # Then they get in, to A's administration: its configuration, and nothing of the platform
    assert (login.status_code, login["Location"]) == (302, "/admin/")
    assert index.status_code == 200
    assert index.context["site_header"] == "Tenant A: administration"
    assert "You are administering <strong>Tenant A</strong>" in index.content.decode()
    assert _index_models(index) == TENANT_ADMIN_MODELS


@pytest.mark.parametrize("url", HIDDEN_FROM_TENANT_ADMINS)
def test_a_tenant_admin_is_refused_the_platforms_models(boss_client, url):
    assert boss_client.get(url).status_code == 403


@pytest.mark.parametrize("app", ["auth", "axes", "timers", "knox", "django_celery_beat"])
def test_a_tenant_admin_finds_no_platform_app(boss_client, app):
    assert boss_client.get(f"/admin/{app}/").status_code == 404


@pytest.mark.parametrize(("url", "kind"), [*CHANGELISTS, ("/admin/incidents/slapolicy/", "policy")])
def test_a_tenant_admins_changelists_show_only_their_tenant(
    boss_client, both_tenants, tenant_a, url, kind
):
    # Given rows of each kind in A and in B
    for tenant in (tenant_a, both_tenants["tenant-b"]["team"].tenant):
        both_tenants[tenant.slug]["policy"] = SlaPolicyFactory(tenant=tenant)

    # When A's administrator opens the changelist
    response = boss_client.get(url)

    # Then exactly A's rows are listed, with no tenant column or filter
    assert response.status_code == 200
    cl = response.context["cl"]
    with rls.tenant_scope(tenant_a.pk):
        expected = set(cl.model.objects.filter(tenant=tenant_a).values_list("pk", flat=True))
    assert both_tenants["tenant-a"][kind].pk in expected
    assert _shown(response) == expected
    assert "tenant" not in cl.list_display
    assert "tenant" not in {spec.field_path for spec in cl.filter_specs if hasattr(spec, "field")}


def test_a_tenant_admins_memberships_are_their_tenants_only(
    boss_client, tenant_a, tenant_b, admin_a
):
    # Given A's administrator is also an agent of B: row-level security shows a user their own
    # memberships in every tenant, so the admin's own filter is what keeps B's out
    b_membership = MembershipFactory(tenant=tenant_b, user=admin_a, role=MembershipRole.AGENT)

    response = boss_client.get("/admin/tenancy/membership/")

    assert response.status_code == 200
    assert b_membership.pk not in _shown(response)
    with rls.tenant_scope(tenant_a.pk):
        assert _shown(response) == set(Membership.objects.values_list("pk", flat=True))


@pytest.mark.parametrize(
    "url",
    [
        "/admin/tenancy/membership/{membership}/change/",
        "/admin/tenancy/team/{team}/change/",
        "/admin/catalog/service/{service}/change/",
        "/admin/catalog/category/{category}/change/",
        "/admin/catalog/service/{service}/delete/",
        "/admin/catalog/service/{service}/history/",
    ],
)
def test_another_tenants_object_is_a_missing_one_to_a_tenant_admin(boss_client, both_tenants, url):
    # Given B's rows, and an id that exists nowhere
    rows = {kind: obj.pk for kind, obj in both_tenants["tenant-b"].items()}
    missing = dict.fromkeys(rows, 999999)
    before = _everything()

    # When A's administrator opens B's object, or posts to it
    theirs = boss_client.get(url.format(**rows))
    nowhere = boss_client.get(url.format(**missing))
    posted = boss_client.post(url.format(**rows), {"name": "Mine now", "post": "yes"})

    # Then it answers as for an object that does not exist, and nothing changes
    assert theirs.status_code == nowhere.status_code == posted.status_code == 302
    assert theirs["Location"] == nowhere["Location"] == posted["Location"] == "/admin/"
    messages = [str(message) for message in theirs.wsgi_request._messages]
    assert len(messages) == 1
    assert "doesn\N{RIGHT SINGLE QUOTATION MARK}t exist. Perhaps it was deleted?" in messages[0]
    assert str(rows[url.split("/")[3]]) in messages[0]
    assert _everything() == before


def test_a_tenant_admin_adds_a_service_without_choosing_a_tenant(
    boss_client, both_tenants, tenant_a, tenant_b
):
    team_a = both_tenants["tenant-a"]["team"]
    form = {
        "name": "E-mail",
        "slug": "email",
        "description": "",
        "owner_team": team_a.pk,
        "criticality": "medium",
        "is_active": "on",
        "tenant": tenant_b.pk,  # not a field for them: ignored
    }

    # The add form has no tenant field and offers A's teams only
    page = boss_client.get("/admin/catalog/service/add/")
    assert page.status_code == 200
    fields = page.context["adminform"].form.fields
    assert "tenant" not in fields
    with rls.tenant_scope(tenant_a.pk):
        assert list(fields["owner_team"].queryset) == [team_a]

    response = boss_client.post("/admin/catalog/service/add/", form)

    assert response.status_code == 302, response.context and response.context["errors"]
    with rls.platform_scope():
        created = Service.objects.get(slug="email")
    assert (created.tenant_id, created.owner_team_id) == (tenant_a.pk, team_a.pk)


def test_a_tenant_admin_cannot_link_another_tenants_team(boss_client, both_tenants):
    team_b = both_tenants["tenant-b"]["team"]
    before = _everything()

    response = boss_client.post(
        "/admin/catalog/service/add/",
        {"name": "E-mail", "slug": "email", "owner_team": team_b.pk, "criticality": "medium"},
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {
        "owner_team": ["Select a valid choice. That choice is not one of the available choices."]
    }
    assert _everything() == before


def test_a_tenant_admins_duplicate_slug_is_a_form_error(boss_client, both_tenants):
    taken = both_tenants["tenant-a"]["service"].slug
    before = _everything()

    response = boss_client.post(
        "/admin/catalog/service/add/", {"name": "Again", "slug": taken, "criticality": "medium"}
    )

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert list(errors) == ["slug"]
    assert response.content.decode().count(errors["slug"][0]) == 1  # shown once
    assert _everything() == before


def test_a_tenant_admin_adds_a_team_from_their_members(
    boss_client, tenant_a, agent_a, requester_a, admin_b
):
    page = boss_client.get("/admin/tenancy/team/add/")
    with rls.tenant_scope(tenant_a.pk):
        offered = [
            user.username for user in page.context["adminform"].form.fields["members"].queryset
        ]
    assert offered == ["admin-a", "agent-a", "requester-a"]

    response = boss_client.post(
        "/admin/tenancy/team/add/",
        {"name": "Desk", "slug": "desk", "kind": TeamKind.L1, "members": [agent_a.pk]},
    )

    assert response.status_code == 302
    with rls.tenant_scope(tenant_a.pk):
        team = Team.objects.get(slug="desk")
        assert (team.tenant_id, list(team.members.values_list("username", flat=True))) == (
            tenant_a.pk,
            ["agent-a"],
        )


def test_a_tenant_admin_adds_a_member_by_username_or_email(boss_client, tenant_a, tenant_b):
    # Given two accounts that are in no tenant of A's
    UserFactory(username="newbie", email="Newbie@Example.com")
    outsider = UserFactory(username="other")
    MembershipFactory(tenant=tenant_b, user=outsider)

    # When A's administrator adds them, one by e-mail, one by username
    by_email = boss_client.post(
        "/admin/tenancy/membership/add/",
        {"user": "newbie@example.com", "role": "agent", "is_active": "on"},
    )
    by_name = boss_client.post(
        "/admin/tenancy/membership/add/", {"user": "other", "role": "requester"}
    )
    unknown = boss_client.post(
        "/admin/tenancy/membership/add/", {"user": "nobody", "role": "agent"}
    )
    again = boss_client.post("/admin/tenancy/membership/add/", {"user": "other", "role": "agent"})

    # Then both are members of A; an unknown account and a second membership are form errors
    assert (by_email.status_code, by_name.status_code) == (302, 302)
    with rls.tenant_scope(tenant_a.pk):
        assert sorted(
            Membership.objects.filter(user__username__in=["newbie", "other"]).values_list(
                "user__username", "tenant_id", "role", "is_active"
            )
        ) == [("newbie", tenant_a.pk, "agent", True), ("other", tenant_a.pk, "requester", False)]
    assert unknown.context["adminform"].form.errors == {
        "user": ["No account has this username or e-mail address."]
    }
    assert again.context["adminform"].form.errors == {
        "user": ["Membership with this Tenant and User already exists."]
    }


def test_a_tenant_admin_cannot_change_or_remove_their_own_membership(
    boss_client, admin_a, tenant_a
):
    with rls.tenant_scope(tenant_a.pk):
        own = Membership.objects.get(user=admin_a)
    before = _everything()

    page = boss_client.get(f"/admin/tenancy/membership/{own.pk}/change/")
    changed = boss_client.post(
        f"/admin/tenancy/membership/{own.pk}/change/", {"role": "requester", "is_active": "on"}
    )
    deleted = boss_client.post(f"/admin/tenancy/membership/{own.pk}/delete/", {"post": "yes"})

    assert (page.status_code, page.context["has_change_permission"]) == (200, False)
    assert (changed.status_code, deleted.status_code) == (403, 403)
    assert _everything() == before


def test_a_tenant_admin_of_two_tenants_switches_between_them(
    tenant_a, tenant_b, admin_a, both_tenants
):
    # Given A's administrator also administers B, and is an agent of C
    MembershipFactory(tenant=tenant_b, user=admin_a, role=MembershipRole.TENANT_ADMIN)
    tenant_c = Tenant.objects.create(name="Tenant C", slug="tenant-c")
    MembershipFactory(tenant=tenant_c, user=admin_a, role=MembershipRole.AGENT)
    client = Client()
    client.force_login(admin_a)

    # When they log in, they work in the first of their tenants, and may switch to the other
    first = client.get("/admin/catalog/service/")
    index = client.get("/admin/")
    switched = client.post("/admin/tenant/", {"tenant": tenant_b.pk})
    second = client.get("/admin/catalog/service/")
    to_c = client.post("/admin/tenant/", {"tenant": tenant_c.pk})
    still = client.get("/admin/catalog/service/")

    assert _shown(first) == {both_tenants["tenant-a"]["service"].pk}
    choices = index.context["admin_tenant_form"].fields["tenant"].queryset
    assert [tenant.slug for tenant in choices] == ["tenant-a", "tenant-b"]
    assert (switched.status_code, switched["Location"]) == (302, "/admin/")
    assert _shown(second) == {both_tenants["tenant-b"]["service"].pk}
    assert second.context["site_header"] == "Tenant B: administration"
    # Not an administrator of C: refused, and they stay in B
    assert to_c.status_code == 400
    assert to_c.context["admin_tenant_form"].errors == {
        "tenant": ["Select a valid choice. That choice is not one of the available choices."]
    }
    assert _shown(still) == {both_tenants["tenant-b"]["service"].pk}


def test_losing_the_tenant_admin_role_ends_admin_access(boss_client, tenant_a, admin_a):
    assert boss_client.get("/admin/").status_code == 200
    with rls.tenant_scope(tenant_a.pk):
        Membership.objects.filter(user=admin_a).update(role=MembershipRole.AGENT)

    response = boss_client.get("/admin/catalog/service/")

    assert (response.status_code, response["Location"]) == (
        302,
        "/admin/login/?next=/admin/catalog/service/",
    )


def test_the_platform_admin_has_no_tenant_to_switch(admin_client, tenant_a):
    index = admin_client.get("/admin/")

    assert index.context["site_header"] == "ITSM platform administration"
    assert "admin_tenant_form" not in index.context
    assert admin_client.post("/admin/tenant/", {"tenant": tenant_a.pk}).status_code == 404


@pytest.mark.parametrize(("name", "access"), sorted(TENANT_ADMIN_MODELS.items()))
def test_a_tenant_admin_opens_every_page_they_are_offered(boss_client, both_tenants, name, access):
    # Every changelist renders; add pages render for what they edit and are refused otherwise
    app, model = name.split("_", 1)

    listed = boss_client.get(f"/admin/{app}/{model}/")
    add = boss_client.get(f"/admin/{app}/{model}/add/")

    assert listed.status_code == 200
    assert add.status_code == (200 if access == "edit" else 403)
    if access == "edit":
        assert "tenant" not in add.context["adminform"].form.fields


def test_a_tenant_admin_adds_a_calendar_with_its_hours_and_holidays(boss_client, tenant_a):
    response = boss_client.post(
        "/admin/calendars/businesscalendar/add/",
        {
            "name": "Office",
            "slug": "office",
            "time_zone": "Europe/Berlin",
            "periods-TOTAL_FORMS": 1,
            "periods-INITIAL_FORMS": 0,
            "periods-0-weekday": 0,
            "periods-0-starts_at": "09:00",
            "periods-0-ends_at": "17:00",
            "holidays-TOTAL_FORMS": 1,
            "holidays-INITIAL_FORMS": 0,
            "holidays-0-date": "2026-12-25",
            "holidays-0-name": "Christmas",
        },
    )

    assert response.status_code == 302, response.context and response.context["errors"]
    with rls.platform_scope():
        calendar = BusinessCalendar.objects.get(slug="office")
        assert calendar.tenant_id == tenant_a.pk
        assert list(WorkingPeriod.objects.values_list("tenant_id", "weekday")) == [(tenant_a.pk, 0)]
        assert list(Holiday.objects.values_list("tenant_id", "name")) == [
            (tenant_a.pk, "Christmas")
        ]


def test_the_first_wall_alone_keeps_a_tenant_admin_to_their_tenant(both_tenants, tenant_a, admin_a):
    # Given a tenant admin's request seen with the second wall open (the platform scope), so
    # only the model admins' own filtering stands between them and B
    request: Any = RequestFactory().get("/admin/catalog/service/add/")
    request.user = admin_a
    request.admin_tenant = tenant_a
    service_admin = site._registry[Service]
    team_admin = site._registry[Team]

    with rls.platform_scope():
        services = set(service_admin.get_queryset(request).values_list("tenant__slug", flat=True))
        form: Any = service_admin.get_form(request)()
        teams = {team.tenant.slug for team in form.fields["owner_team"].queryset}
        team_form: Any = team_admin.get_form(request)()
        members = {user.username for user in team_form.fields["members"].queryset}
        member_ids = set(
            Membership.objects.filter(tenant=tenant_a).values_list("user__username", flat=True)
        )

    # Then they list A's rows, and are offered A's teams and A's members only
    assert services == teams == {"tenant-a"}
    assert members == member_ids
    assert "tenant" not in form.fields


def test_a_tenant_admin_deletes_through_the_service(boss_client, both_tenants, tenant_a, admin_a):
    category = both_tenants["tenant-a"]["category"]
    with rls.tenant_scope(tenant_a.pk):
        own = Membership.objects.get(user=admin_a)
    member = both_tenants["tenant-a"]["membership"]

    deleted = boss_client.post(f"/admin/catalog/category/{category.pk}/delete/", {"post": "yes"})
    # Bulk removal that includes their own membership is refused as a whole
    bulk = boss_client.post(
        "/admin/tenancy/membership/",
        {"action": "delete_selected", "_selected_action": [own.pk, member.pk], "post": "yes"},
    )

    assert (deleted.status_code, deleted["Location"]) == (302, "/admin/catalog/category/")
    assert bulk.status_code == 403
    with rls.platform_scope():
        assert not Category.objects.filter(pk=category.pk).exists()
        assert Membership.objects.filter(pk__in=[own.pk, member.pk]).count() == 2
