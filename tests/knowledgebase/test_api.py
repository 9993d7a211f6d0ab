"""The articles API: lifecycle per verb, versions, feedback, restrictions, roles, bad input."""

import pytest
from guardian.models import UserObjectPermission

from itsm.tenancy import rls
from itsm.tenancy.choices import MembershipRole
from knowledgebase import services
from knowledgebase.choices import ArticleAudience, ArticleStatus
from tests.conftest import api_url
from tests.factories import ServiceFactory, TagFactory, TeamFactory, TeamMemberFactory
from tests.knowledgebase.conftest import reload
from tests.knowledgebase.test_lifecycle import EXPECTED

pytestmark = pytest.mark.django_db

VERB_PATH = {
    "submit": "submit",
    "request_changes": "request-changes",
    "publish": "publish",
    "unpublish": "unpublish",
    "retire": "retire",
    "revise": "revise",
}


def _refs(response):
    assert response.status_code == 200, response.content
    return [row["reference"] for row in response.json()["results"]]


# --- Create and read ---------------------------------------------------------------------------


def test_an_agent_creates_a_draft_with_rendered_html(kb, agent_a, tenant_a):
    service = ServiceFactory(tenant=tenant_a, slug="mail")
    response = kb(agent_a).post(
        "",
        {
            "title": "Mail bounces",
            "body": "Check the **quota**. <script>alert(1)</script>",
            "service": "mail",
            "tags": ["Mail", "quota"],
        },
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["reference"] == "KB-000001"
    assert body["status"] == "draft"
    assert body["allowed_actions"] == ["submit", "retire"]
    assert body["service"] == service.slug
    assert body["tags"] == ["mail", "quota"]
    assert body["author"] == body["owner"] == "agent-a"
    assert body["body_html"] == (
        "<p>Check the <strong>quota</strong>. &lt;script&gt;alert(1)&lt;/script&gt;</p>\n"
    )
    assert response["ETag"] == '"KB-000001-1"'


@pytest.mark.parametrize(("status", "verb"), [(s, a) for s in ArticleStatus for a in VERB_PATH])
def test_every_state_and_verb_through_the_api(kb, make_article, admin_a, status, verb):
    # Given an article in `status`
    article = make_article(status=status)
    # When a tenant administrator posts the verb
    response = kb(admin_a).post(f"{article.reference}/{VERB_PATH[verb]}/")
    # Then it moves as the table says, or is a 409 that changes nothing
    expected = EXPECTED.get((status, verb))
    if expected is None:
        assert response.status_code == 409, response.content
        assert response.json()["code"] == "invalid_transition"
        assert reload(article).status == status
        assert reload(article).version == article.version
    else:
        assert response.status_code == 200, response.content
        assert response.json()["status"] == expected
        assert reload(article).status == expected


@pytest.mark.parametrize(
    ("role", "verb", "allowed"),
    [
        (MembershipRole.AGENT, "submit", True),
        (MembershipRole.AGENT, "publish", False),
        (MembershipRole.AGENT, "retire", False),
        (MembershipRole.PROBLEM_MANAGER, "publish", True),
        (MembershipRole.CHANGE_MANAGER, "publish", True),
        (MembershipRole.REQUESTER, "submit", False),
    ],
)
def test_roles_per_verb(kb, make_article, make_member, tenant_a, role, verb, allowed):
    article = make_article(status=ArticleStatus.IN_REVIEW if verb == "publish" else "draft")
    if role == MembershipRole.REQUESTER:  # a requester sees only published articles
        article = make_article(status="published", audience=ArticleAudience.REQUESTERS)
    user = make_member(tenant_a, role)
    response = kb(user).post(f"{article.reference}/{VERB_PATH[verb]}/")
    if allowed:
        assert response.status_code == 200, response.content
    else:
        assert response.status_code == 403, response.content
        assert reload(article).version == article.version


def test_a_requester_cannot_create_or_edit(kb, requester_a, make_article):
    article = make_article(audience=ArticleAudience.REQUESTERS)
    assert kb(requester_a).post("", {"title": "x", "body": "y"}).status_code == 403
    assert kb(requester_a).patch(f"{article.reference}/", {"body": "z"}).status_code == 403
    assert reload(article).body != "z"


def test_anonymous_and_other_tenants_are_refused(kb, make_article, admin_b):
    article = make_article()
    assert kb(None).get("").status_code in (401, 403)
    assert kb(admin_b).get(f"{article.reference}/").status_code == 404


# --- Editing, versions, compare, restore -------------------------------------------------------


def test_edit_publish_restore_compare_through_the_api(kb, agent_a, manager_a, make_article):
    # Given a published article
    article = make_article(title="VPN", body="old\n")
    ref = article.reference
    agent = kb(agent_a)
    # When an agent edits it with the current ETag
    etag = agent.get(f"{ref}/")["ETag"]
    edited = agent.patch(f"{ref}/", {"body": "new\n"}, If_Match=etag)
    assert edited.status_code == 200, edited.content
    assert edited.json()["revision"] == 2
    assert edited.json()["status"] == "published"
    # And an edit with the old ETag is refused
    stale = agent.patch(f"{ref}/", {"body": "lost\n"}, If_Match=etag)
    assert stale.status_code == 412
    # Then the versions list shows both texts, newest first
    versions = agent.get(f"{ref}/versions/").json()
    assert [(v["number"], v["body"]) for v in versions] == [(2, "new\n"), (1, "old\n")]
    # And compare gives the diff
    diff = agent.get(f"{ref}/compare/", from_version=1, to_version=2).json()["diff"]
    assert "-old\n+new\n" in diff
    # And restoring version 1 adds version 3 with the old text
    restored = agent.post(f"{ref}/restore/", {"version": 1})
    assert restored.status_code == 200, restored.content
    assert (restored.json()["revision"], restored.json()["body"]) == (3, "old\n")
    assert len(agent.get(f"{ref}/versions/").json()) == 3


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("compare/", {}),
        ("compare/", {"from_version": "x", "to_version": 1}),
        ("compare/", {"from_version": 0, "to_version": 1}),
        ("compare/", {"from_version": 1, "to_version": 10**30}),
    ],
)
def test_bad_compare_queries_are_400(kb, agent_a, make_article, path, params):
    article = make_article()
    assert kb(agent_a).get(f"{article.reference}/{path}", **params).status_code == 400


def test_compare_with_a_missing_version_is_404(kb, agent_a, make_article):
    article = make_article()
    response = kb(agent_a).get(f"{article.reference}/compare/", from_version=1, to_version=5)
    assert response.status_code == 404


@pytest.mark.parametrize(
    ("path", "data"),
    [
        ("", {}),
        ("", {"title": "", "body": "x"}),
        ("", {"title": "x" * 201, "body": "x"}),
        ("", {"title": "x", "body": "x", "status": "published"}),
        ("", {"title": "x", "body": "x", "audience": "everyone"}),
        ("", {"title": "x", "body": "x", "tags": "not-a-list"}),
        ("", {"title": "x", "body": "x", "tags": ["!!!"]}),
        ("", {"title": "x", "body": "x", "tags": ["a"] * 21}),
        ("", {"title": "x", "body": "x", "service": "no-such-service"}),
        ("", {"title": "x", "body": "x", "owner": "nobody"}),
        ("", {"title": "x", "body": "x", "helped_count": 9}),
        ("", ["a", "list"]),
        ("{ref}/restore/", {}),
        ("{ref}/restore/", {"version": "one"}),
        ("{ref}/restore/", {"version": -1}),
        ("{ref}/restore/", {"version": 10**30}),
        ("{ref}/restrict/", {}),
        ("{ref}/restrict/", {"teams": ["no-such-team"]}),
        ("{ref}/restrict/", {"teams": "x"}),
        ("{ref}/feedback/", {}),
        ("{ref}/feedback/", {"is_helpful": "maybe"}),
        ("{ref}/feedback/", {"is_helpful": True, "comment": "x" * 2001}),
    ],
)
def test_bad_input_is_400_never_500(kb, admin_a, make_article, path, data):
    article = make_article()
    response = kb(admin_a).post(path.format(ref=article.reference), data)
    assert response.status_code == 400, response.content
    assert reload(article).version == article.version


def test_bad_patch_and_filters_are_400(kb, admin_a, make_article, tenant_b):
    article = make_article()
    client = kb(admin_a)
    assert client.patch(f"{article.reference}/", {"revision": 7}).status_code == 400
    assert client.patch(f"{article.reference}/", {"body": None}).status_code == 400
    other_service = ServiceFactory(tenant=tenant_b, slug="other")
    assert client.get("", service=other_service.slug).status_code == 400
    assert client.get("", status="gone").status_code == 400
    assert client.get("", ordering="body").status_code == 400
    assert client.get("nonsense/").status_code == 404
    assert client.get("KB-99999999999999999999999/").status_code == 404


def test_a_retired_article_cannot_be_edited(kb, agent_a, make_article):
    article = make_article(status=ArticleStatus.RETIRED)
    response = kb(agent_a).patch(f"{article.reference}/", {"body": "x"})
    assert response.status_code == 409
    assert response.json()["code"] == "not_editable"


# --- Filters -----------------------------------------------------------------------------------


def test_filters(kb, agent_a, make_article, tenant_a):
    tag = TagFactory(tenant=tenant_a, slug="vpn")
    service = ServiceFactory(tenant=tenant_a, slug="net")
    vpn = make_article(title="VPN drops", tags=["vpn"], service=service)
    draft = make_article(title="Printer jam", status="draft", body="Open tray **B**")
    public = make_article(title="Reset password", audience=ArticleAudience.REQUESTERS)
    client = kb(agent_a)
    assert _refs(client.get("", tag=tag.slug)) == [vpn.reference]
    assert _refs(client.get("", service="net")) == [vpn.reference]
    assert _refs(client.get("", status="draft")) == [draft.reference]
    assert _refs(client.get("", audience="requesters")) == [public.reference]
    assert _refs(client.get("", text="tray b")) == [draft.reference]
    assert _refs(client.get("", text="password reset")) == [public.reference]
    assert _refs(client.get("", ordering="title")) == [
        draft.reference,
        public.reference,
        vpn.reference,
    ]


def test_list_queries_do_not_grow_with_the_page(
    kb, agent_a, make_article, tenant_a, django_assert_num_queries
):
    team = TeamFactory(tenant=tenant_a)
    TeamMemberFactory(tenant=tenant_a, team=team, user=agent_a)
    for _ in range(3):
        make_article(tags=["one", "two"])
    client = kb(agent_a)
    client.get("")  # warms the content-type cache guardian reads once per process
    # Token with membership (one statement), scope and audit context, the page, its tags and
    # its teams.
    with django_assert_num_queries(8):
        assert len(_refs(client.get(""))) == 3
    for _ in range(6):
        make_article(tags=["three"])
    with django_assert_num_queries(8):
        assert len(_refs(client.get(""))) == 9


# --- Feedback ----------------------------------------------------------------------------------


def test_feedback_through_the_api(kb, agent_a, requester_a, make_article):
    article = make_article(audience=ArticleAudience.REQUESTERS)
    first = kb(requester_a).post(f"{article.reference}/feedback/", {"is_helpful": True})
    assert first.status_code == 200, first.content
    assert first.json()["helpful_count"] == 1
    changed = kb(requester_a).post(
        f"{article.reference}/feedback/", {"is_helpful": False, "comment": "Did not work."}
    )
    assert changed.json()["helpful_count"] == 0
    assert changed.json()["not_helpful_count"] == 1
    assert changed.json()["comment"] == "Did not work."
    draft = make_article(status="draft")
    refused = kb(agent_a).post(f"{draft.reference}/feedback/", {"is_helpful": True})
    assert refused.status_code == 409
    assert refused.json()["code"] == "not_published"


# --- Requesters --------------------------------------------------------------------------------


def test_requesters_see_only_published_articles_for_requesters(kb, requester_a, make_article):
    public = make_article(audience=ArticleAudience.REQUESTERS)
    agents_only = make_article(audience=ArticleAudience.AGENTS)
    draft = make_article(audience=ArticleAudience.REQUESTERS, status="draft")
    retired = make_article(audience=ArticleAudience.REQUESTERS, status="retired")
    client = kb(requester_a)
    assert _refs(client.get("")) == [public.reference]
    for hidden in (agents_only, draft, retired):
        assert client.get(f"{hidden.reference}/").status_code == 404
        assert client.post(f"{hidden.reference}/feedback/", {"is_helpful": True}).status_code == 404
    assert client.get(f"{public.reference}/versions/").status_code == 403


# --- Restricted articles -----------------------------------------------------------------------


@pytest.fixture
def restricted(kb, admin_a, make_article, tenant_a):
    """A published article for requesters, restricted to a team with one agent in it."""
    team = TeamFactory(tenant=tenant_a, slug="secops")
    insider = TeamMemberFactory(tenant=tenant_a, team=team).user
    article = make_article(title="Incident playbook", audience=ArticleAudience.REQUESTERS)
    response = kb(admin_a).post(f"{article.reference}/restrict/", {"teams": ["secops"]})
    assert response.status_code == 200, response.content
    assert response.json()["restricted_teams"] == ["secops"]
    return article, insider


def test_a_restricted_article_is_invisible_to_outsiders_everywhere(
    kb, restricted, agent_a, manager_a, requester_a, make_article
):
    article, _insider = restricted
    visible = make_article(title="Incident basics", audience=ArticleAudience.REQUESTERS)
    ref = article.reference
    for user in (agent_a, manager_a, requester_a):
        client = kb(user)
        assert _refs(client.get("")) == [visible.reference]
        assert _refs(client.get("", text="playbook")) == []
        assert _refs(client.get("", restricted="true")) == []
        assert client.get(f"{ref}/").status_code == 404
        assert client.post(f"{ref}/feedback/", {"is_helpful": True}).status_code == 404
        assert client.get(f"{ref}/versions/").status_code == 404
        assert client.get(f"{ref}/compare/", from_version=1, to_version=1).status_code == 404
        assert client.post(f"{ref}/restore/", {"version": 1}).status_code == 404
        assert client.patch(f"{ref}/", {"body": "x"}).status_code == 404
        assert client.post(f"{ref}/retire/").status_code == 404
    assert reload(article).helpful_count == 0
    assert reload(article).status == "published"


def test_team_members_and_tenant_admins_see_a_restricted_article(kb, restricted, admin_a):
    article, insider = restricted
    for user in (insider, admin_a):
        client = kb(user)
        assert _refs(client.get("", restricted="true")) == [article.reference]
        assert client.get(f"{article.reference}/").status_code == 200
    feedback = kb(insider).post(f"{article.reference}/feedback/", {"is_helpful": True})
    assert feedback.status_code == 200


def test_an_agent_cannot_restrict(kb, agent_a, make_article, tenant_a):
    TeamFactory(tenant=tenant_a, slug="secops")
    article = make_article()
    assert (
        kb(agent_a).post(f"{article.reference}/restrict/", {"teams": ["secops"]}).status_code == 403
    )
    assert reload(article).is_restricted is False


def test_restricting_to_another_tenants_team_is_400(kb, admin_a, make_article, tenant_b):
    TeamFactory(tenant=tenant_b, slug="theirs")
    article = make_article()
    response = kb(admin_a).post(f"{article.reference}/restrict/", {"teams": ["theirs"]})
    assert response.status_code == 400
    assert reload(article).is_restricted is False


def test_guardian_generic_table_is_never_written(restricted):
    # It has no tenant column and no row-level security: nothing of ours may land there.
    assert not UserObjectPermission.objects.exists()


def test_helped_count_is_shown(kb, agent_a, make_article, tenant_a):
    article = make_article()
    with rls.tenant_scope(tenant_a.pk):
        services.article_record_helped(tenant=tenant_a, article_id=article.pk)
    assert kb(agent_a).get(f"{article.reference}/").json()["helped_count"] == 1


def test_the_audit_history_of_an_article_is_for_tenant_admins(kb, admin_a, agent_a, make_article):
    article = make_article(body="one")
    kb(agent_a).patch(f"{article.reference}/", {"body": "two"})
    assert kb(agent_a).get(f"{article.reference}/history/").status_code == 403
    response = kb(admin_a).get(f"{article.reference}/history/")
    assert response.status_code == 200
    changes = [
        change
        for event in response.json()["results"]
        for change in event["changes"]
        if change["field"] == "body"
    ]
    assert changes[0] == {"field": "body", "old": "one", "new": "two"}


def test_team_changes_through_the_tenancy_api_grant_and_revoke(
    kb, api_client, restricted, admin_a, agent_a, tenant_a
):
    # Given a restricted article, and an agent outside its team
    article, insider = restricted
    teams = api_client(admin_a)
    team_url = api_url(tenant_a, "teams/secops/")
    assert kb(agent_a).get(f"{article.reference}/").status_code == 404
    # When the tenant administrator adds the agent to the team
    added = teams.patch(team_url, {"members": [insider.username, "agent-a"]}, format="json")
    assert added.status_code == 200, added.content
    # Then the agent sees the article, until removed from the team again
    assert kb(agent_a).get(f"{article.reference}/").status_code == 200
    removed = teams.patch(team_url, {"members": [insider.username]}, format="json")
    assert removed.status_code == 200, removed.content
    assert kb(agent_a).get(f"{article.reference}/").status_code == 404
    assert kb(insider).get(f"{article.reference}/").status_code == 200
    # And the team cannot be deleted while it restricts the article
    assert teams.delete(team_url).status_code == 409
