"""The knowledge-base pages: the list and search, the article with its actions, the editor with
its preview, and the versions. Every write goes through the same services as the API; what a
member sees is what `selectors.article_list` gives them."""

import re
from html.parser import HTMLParser

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from itsm.tenancy import rls
from itsm.tenancy.choices import MembershipRole
from itsm.web.workspace import cards_for, search
from knowledgebase import services
from knowledgebase.api.views import ArticleViewSet
from knowledgebase.choices import ArticleAudience, ArticleStatus
from knowledgebase.forms.actions import ACTIONS
from knowledgebase.models import Article, ArticleFeedback, ArticleVersion
from tests.factories import ServiceFactory, TeamFactory, TeamMemberFactory
from tests.knowledgebase.conftest import membership_of, reload
from tests.security.sweep import ANONYMOUS, NON_MEMBER
from tests.test_tenant_isolation import _snapshot

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
HOSTILE = (
    "Hello <script>alert(1)</script> "
    '<img src=x onerror="alert(2)"> '
    "[click](javascript:alert(3)) [again](JaVaScRiPt:alert(4)) "
    '<a href="javascript:alert(5)" onclick="alert(6)">raw</a>'
)


def url(tenant, path: str = "") -> str:
    return f"/t/{tenant.slug}/articles/{path}"


def as_user(client, user):
    client.force_login(user)
    return client


def html_of(response) -> str:
    return str(response.content.decode())


def listed(response) -> list[str]:
    assert response.status_code == 200, html_of(response)[:2000]
    return re.findall(r'(?<![-\w])href="/t/[\w-]+/articles/(KB-\d+)/"', html_of(response))


class _Markup(HTMLParser):
    """The elements and attributes a browser would build from the HTML (not escaped text)."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attributes: list[tuple[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attributes += [(name, value or "") for name, value in attrs]


def assert_harmless(html: str) -> None:
    """No script element, no javascript: URL and no event attribute made it into the markup
    (escaped text, which shows the reader what was written, is fine)."""
    markup = _Markup()
    markup.feed(html)
    scripts = html.count("<script")
    # The page's own: htmx and app.js, from files (the CSP test checks their sources).
    assert scripts == markup.tags.count("script") <= 2
    assert "<script>" not in html
    assert not [name for name, _value in markup.attributes if name.startswith("on")]
    urls = [value for name, value in markup.attributes if name in ("href", "src", "action")]
    assert not [value for value in urls if value.strip().lower().startswith("javascript:")]


def version_of(article: Article) -> int:
    return reload(article).version


@pytest.fixture
def editor_a(tenant_a, make_member):
    return make_member(tenant_a, MembershipRole.PROBLEM_MANAGER, username="editor-a")


@pytest.fixture
def restricted(tenant_a, admin_a, make_article):
    """A published article for requesters, restricted to a team with one agent in it."""
    team = TeamFactory(tenant=tenant_a, slug="secops", name="SecOps")
    insider = TeamMemberFactory(tenant=tenant_a, team=team).user
    article = make_article(title="Firewall playbook", audience=ArticleAudience.REQUESTERS)
    with rls.tenant_scope(tenant_a.pk):
        services.article_restrict(
            tenant=tenant_a, article_id=article.pk, actor=admin_a, teams=[team]
        )
    return article, insider


# --- The list and search -----------------------------------------------------------------------


def test_staff_see_the_tabs_and_each_tab_narrows(client, tenant_a, agent_a, make_article):
    # Given a published article, a draft of the agent's, one in review and a retired one
    published = make_article(title="Reset a password")
    draft = make_article(title="VPN drops", status=ArticleStatus.DRAFT)
    review = make_article(title="Printer jams", status=ArticleStatus.IN_REVIEW)
    retired = make_article(title="Old fax", status=ArticleStatus.RETIRED)
    client = as_user(client, agent_a)

    # Then each tab lists its own
    page = client.get(url(tenant_a))
    assert listed(page) == [published.reference]
    html = html_of(page)
    for label in ("Published", "Drafts &amp; in review", "Mine", "Retired", "All"):
        assert f">{label}</a>" in html
    assert set(listed(client.get(url(tenant_a), {"queue": "drafts"}))) == {
        draft.reference,
        review.reference,
    }
    assert listed(client.get(url(tenant_a), {"queue": "retired"})) == [retired.reference]
    assert len(listed(client.get(url(tenant_a), {"queue": "mine"}))) == 4  # all written by her
    assert len(listed(client.get(url(tenant_a), {"queue": "all", "status": "draft"}))) == 1


def test_the_list_searches_words_and_filters_by_service(client, tenant_a, agent_a, make_article):
    mail = ServiceFactory(tenant=tenant_a, slug="mail")
    bounce = make_article(title="Mail bounces", body="The mailbox quota is full.", service=mail)
    make_article(title="Printer jams", body="Open the tray.")
    client = as_user(client, agent_a)

    assert listed(client.get(url(tenant_a), {"q": "quota"})) == [bounce.reference]
    assert listed(client.get(url(tenant_a), {"q": "mailbox full"})) == [bounce.reference]
    assert listed(client.get(url(tenant_a), {"service": "mail"})) == [bounce.reference]
    assert listed(client.get(url(tenant_a), {"q": "nothing-like-this"})) == []


def test_a_bad_filter_is_a_400_page_naming_it(client, tenant_a, agent_a):
    response = as_user(client, agent_a).get(url(tenant_a), {"service": "no-such-service"})
    assert response.status_code == 400
    assert "service: Select a valid choice" in html_of(response)


def test_a_requester_sees_help_articles_only(client, tenant_a, requester_a, make_article):
    # Given articles of every status and audience
    for_them = make_article(title="Connect to Wi-Fi", audience=ArticleAudience.REQUESTERS)
    make_article(title="Agents' runbook", audience=ArticleAudience.AGENTS)
    make_article(
        title="Draft for requesters",
        audience=ArticleAudience.REQUESTERS,
        status=ArticleStatus.DRAFT,
    )
    make_article(
        title="Retired for requesters",
        audience=ArticleAudience.REQUESTERS,
        status=ArticleStatus.RETIRED,
    )
    client = as_user(client, requester_a)

    # When the requester opens the same list, even asking for another tab or status
    page = client.get(url(tenant_a))
    other_tab = client.get(url(tenant_a), {"queue": "drafts", "status": "draft"})

    # Then they see the "Help articles" look with the one published article for requesters
    assert listed(page) == [for_them.reference]
    html = html_of(page)
    assert "<h1>Help articles</h1>" in html
    assert "Drafts &amp; in review" not in html
    assert "Write an article" not in html
    assert listed(other_tab) == []
    assert ">Help articles</a>" in html  # the header link, for requesters


def test_a_restricted_article_is_invisible_to_outsiders(
    client, tenant_a, agent_a, requester_a, editor_a, restricted, make_article
):
    article, _insider = restricted
    open_one = make_article(title="Firewall basics", audience=ArticleAudience.REQUESTERS)
    for user in (agent_a, editor_a, requester_a):
        client = as_user(client, user)
        # Not in the list, nor the list's search, nor the search box, nor by its address
        assert listed(client.get(url(tenant_a), {"queue": "all"})) == [open_one.reference]
        assert listed(client.get(url(tenant_a), {"q": "playbook"})) == []
        found = html_of(client.get(f"/t/{tenant_a.slug}/search/", {"q": "firewall"}))
        assert "Firewall basics" in found
        assert "Firewall playbook" not in found
        jump = client.get(f"/t/{tenant_a.slug}/search/", {"q": article.reference})
        assert jump.status_code == 200  # no jump to it
        assert client.get(url(tenant_a, f"{article.reference}/")).status_code == 404
        assert (
            client.post(
                url(tenant_a, f"{article.reference}/feedback/"), {"is_helpful": "yes"}
            ).status_code
            == 404
        )
    assert reload(article).helpful_count == 0


def test_a_restricted_article_is_visible_to_its_team(client, tenant_a, restricted):
    article, insider = restricted
    client = as_user(client, insider)
    assert article.reference in listed(client.get(url(tenant_a), {"q": "playbook"}))
    jump = client.get(f"/t/{tenant_a.slug}/search/", {"q": article.reference})
    assert jump.status_code == 302
    assert jump["Location"] == url(tenant_a, f"{article.reference}/")
    page = client.get(url(tenant_a, f"{article.reference}/"))
    assert page.status_code == 200
    assert "SecOps" in html_of(page)  # the restriction, for staff


def test_the_search_box_lists_matching_articles_best_first(tenant_a, agent_a, make_article):
    make_article(title="Printer guide", body="Paper sizes. Mentions a toner once.")
    best = make_article(title="Toner replacement", body="Replace the toner cartridge.")
    with rls.tenant_scope(tenant_a.pk):
        result = search(tenant_a, membership_of(tenant_a, agent_a), "toner")
    assert result.jump_to is None
    titles = [hit.title for hit in result.hits if hit.kind == "Article"]
    assert titles[0] == f"{best.reference} Toner replacement"
    assert len(titles) == 2


# --- The article page --------------------------------------------------------------------------


def test_the_article_page_shows_the_sanitised_body_and_the_facts(
    client, tenant_a, agent_a, make_article
):
    service = ServiceFactory(tenant=tenant_a, name="Mail", slug="mail")
    article = make_article(
        title="Mail bounces", summary="When mail comes back.", body=HOSTILE, service=service
    )
    with rls.tenant_scope(tenant_a.pk):
        services.article_update(
            tenant=tenant_a, article_id=article.pk, actor=agent_a, data={"tags": ["mail"]}
        )

    response = as_user(client, agent_a).get(url(tenant_a, f"{article.reference}/"))

    assert response.status_code == 200
    html = html_of(response)
    assert "<h1>Mail bounces</h1>" in html
    assert "When mail comes back." in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html  # shown as text, never run
    assert_harmless(html)
    assert ">mail</a>" in html  # the tag, linking to the list
    assert "<dd>Mail</dd>" in html
    assert "Was this helpful?" in html


def test_staff_get_the_actions_their_role_may_take_now(
    client, tenant_a, agent_a, editor_a, make_article
):
    article = make_article(status=ArticleStatus.IN_REVIEW)
    agent_page = html_of(as_user(client, agent_a).get(url(tenant_a, f"{article.reference}/")))
    editor_page = html_of(as_user(client, editor_a).get(url(tenant_a, f"{article.reference}/")))

    assert "/publish/" not in agent_page  # agents submit; in review there is nothing for them
    assert "/retire/" not in agent_page
    for verb in ("publish", "request-changes", "retire"):
        assert f"/{article.reference}/{verb}/" in editor_page
    assert "/submit/" not in editor_page  # not from "in review"


def test_the_page_actions_have_the_apis_roles():
    for spec in ACTIONS.values():
        assert spec.roles == ArticleViewSet.action_roles[spec.api_action], spec.slug


def test_an_editor_publishes_through_the_page(client, tenant_a, editor_a, make_article):
    article = make_article(status=ArticleStatus.IN_REVIEW)
    response = as_user(client, editor_a).post(
        url(tenant_a, f"{article.reference}/publish/"), {"version": version_of(article)}
    )
    assert response.status_code == 302
    assert response["Location"] == url(tenant_a, f"{article.reference}/")
    published = reload(article)
    assert published.status == ArticleStatus.PUBLISHED
    assert published.published_at is not None


def test_an_htmx_action_answers_with_the_article_in_place(client, tenant_a, agent_a, make_article):
    article = make_article(status=ArticleStatus.DRAFT)
    response = as_user(client, agent_a).post(
        url(tenant_a, f"{article.reference}/submit/"), {"version": version_of(article)}, **HTMX
    )
    assert response.status_code == 200
    html = html_of(response)
    assert html.startswith('\n<div id="record"') or html.lstrip().startswith('<div id="record"')
    assert "Submitted for review." in html
    assert reload(article).status == ArticleStatus.IN_REVIEW


def test_an_agent_may_not_publish(client, tenant_a, agent_a, make_article):
    article = make_article(status=ArticleStatus.IN_REVIEW)
    response = as_user(client, agent_a).post(
        url(tenant_a, f"{article.reference}/publish/"), {"version": version_of(article)}
    )
    assert response.status_code == 403
    assert "Your role may not publish." in html_of(response)
    assert reload(article).status == ArticleStatus.IN_REVIEW


def test_an_action_the_lifecycle_refuses_is_a_409_page(client, tenant_a, editor_a, make_article):
    article = make_article(status=ArticleStatus.DRAFT)
    response = as_user(client, editor_a).post(
        url(tenant_a, f"{article.reference}/publish/"), {"version": version_of(article)}
    )
    assert response.status_code == 409
    assert "Cannot publish: the article is draft." in html_of(response)
    assert reload(article).status == ArticleStatus.DRAFT


def test_an_action_on_a_stale_version_changes_nothing(client, tenant_a, editor_a, make_article):
    article = make_article(status=ArticleStatus.IN_REVIEW)
    stale = version_of(article)
    with rls.tenant_scope(tenant_a.pk):
        services.article_update(
            tenant=tenant_a, article_id=article.pk, actor=editor_a, data={"title": "Renamed"}
        )
    response = as_user(client, editor_a).post(
        url(tenant_a, f"{article.reference}/publish/"), {"version": stale}
    )
    assert response.status_code == 409
    assert "was changed by someone else" in html_of(response)
    assert reload(article).status == ArticleStatus.IN_REVIEW


def test_an_empty_action_form_is_a_400_page(client, tenant_a, editor_a, make_article):
    article = make_article(status=ArticleStatus.IN_REVIEW)
    response = as_user(client, editor_a).post(url(tenant_a, f"{article.reference}/publish/"), {})
    assert response.status_code == 400
    assert "reload the page" in html_of(response)
    assert reload(article).status == ArticleStatus.IN_REVIEW


def test_a_requester_marks_an_article_helpful(client, tenant_a, requester_a, make_article):
    article = make_article(audience=ArticleAudience.REQUESTERS)
    client = as_user(client, requester_a)
    response = client.post(
        url(tenant_a, f"{article.reference}/feedback/"),
        {"is_helpful": "yes", "comment": "Worked for me."},
        follow=True,
    )
    assert response.status_code == 200
    html = html_of(response)
    assert "Thank you for your feedback." in html
    assert "1 found it helpful" in html
    assert reload(article).helpful_count == 1
    with rls.tenant_scope(tenant_a.pk):
        vote = ArticleFeedback.objects.get(article=article, user=requester_a)
    assert vote.is_helpful is True
    assert vote.comment == "Worked for me."


def test_feedback_without_a_vote_is_a_400_page(client, tenant_a, requester_a, make_article):
    article = make_article(audience=ArticleAudience.REQUESTERS)
    response = as_user(client, requester_a).post(
        url(tenant_a, f"{article.reference}/feedback/"), {"comment": "Kept"}
    )
    assert response.status_code == 400
    html = html_of(response)
    assert "This field is required." in html
    assert "Kept</textarea>" in html
    assert reload(article).helpful_count == 0


def test_a_requester_cannot_open_a_draft(client, tenant_a, requester_a, make_article):
    draft = make_article(audience=ArticleAudience.REQUESTERS, status=ArticleStatus.DRAFT)
    client = as_user(client, requester_a)
    assert client.get(url(tenant_a, f"{draft.reference}/")).status_code == 404
    assert client.get(url(tenant_a, f"{draft.reference}/edit/")).status_code == 404


# --- The editor --------------------------------------------------------------------------------


def test_an_agent_writes_an_article_through_the_page(client, tenant_a, agent_a):
    ServiceFactory(tenant=tenant_a, slug="mail")
    response = as_user(client, agent_a).post(
        url(tenant_a, "new/"),
        {
            "title": "Mail bounces",
            "summary": "When mail comes back.",
            "body": "Check the **quota**.  \nThen retry.",
            "audience": "requesters",
            "service": "mail",
            "category": "",
            "tags": "Mail, quota, mail",
            "save": "1",
        },
    )
    assert response.status_code == 302
    with rls.tenant_scope(tenant_a.pk):
        article = Article.objects.get(title="Mail bounces")
        tags = sorted(article.tags.values_list("slug", flat=True))
        versions = ArticleVersion.objects.filter(article=article).count()
    assert response["Location"] == url(tenant_a, f"{article.reference}/")
    assert article.status == ArticleStatus.DRAFT
    assert article.body == "Check the **quota**.  \nThen retry."  # kept as typed
    assert article.audience == ArticleAudience.REQUESTERS
    assert article.author == agent_a
    assert tags == ["mail", "quota"]
    assert versions == 1


def test_bad_input_is_a_400_page_naming_the_field(client, tenant_a, agent_a):
    response = as_user(client, agent_a).post(
        url(tenant_a, "new/"),
        {"title": "", "body": "Kept text", "audience": "everyone", "service": "nope"},
    )
    assert response.status_code == 400
    html = html_of(response)
    assert "Title: This field is required." in html
    assert "Audience: Select a valid choice." in html
    assert "Service: Select a valid choice." in html
    assert "Kept text</textarea>" in html
    with rls.tenant_scope(tenant_a.pk):
        assert not Article.objects.exists()


def test_fields_the_form_does_not_have_are_refused(client, tenant_a, agent_a):
    response = as_user(client, agent_a).post(
        url(tenant_a, "new/"),
        {"title": "T", "body": "B", "audience": "agents", "status": "published", "teams": "x"},
    )
    assert response.status_code == 400
    assert "This form does not take these fields: status, teams." in html_of(response)
    with rls.tenant_scope(tenant_a.pk):
        assert not Article.objects.exists()


def test_an_editor_restricts_a_new_article_to_a_team_they_are_in(client, tenant_a, editor_a):
    team = TeamFactory(tenant=tenant_a, slug="dba", name="DBA")
    TeamMemberFactory(tenant=tenant_a, team=team, user=editor_a)
    response = as_user(client, editor_a).post(
        url(tenant_a, "new/"),
        {"title": "Failover", "body": "Steps.", "audience": "agents", "teams": ["dba"]},
    )
    assert response.status_code == 302
    with rls.tenant_scope(tenant_a.pk):
        article = Article.objects.get(title="Failover")
        assert list(article.restricted_teams.values_list("slug", flat=True)) == ["dba"]
    assert article.is_restricted


def test_a_refused_restriction_saves_nothing(client, tenant_a, editor_a):
    TeamFactory(tenant=tenant_a, slug="dba", name="DBA")  # the editor is not in it
    response = as_user(client, editor_a).post(
        url(tenant_a, "new/"),
        {"title": "Failover", "body": "Steps.", "audience": "agents", "teams": ["dba"]},
    )
    assert response.status_code == 400
    assert "None of these teams has you as a member." in html_of(response)
    with rls.tenant_scope(tenant_a.pk):
        assert not Article.objects.exists()


def test_an_agent_edits_a_published_article_live(client, tenant_a, agent_a, make_article):
    article = make_article(title="Old title", body="Old body")
    client = as_user(client, agent_a)
    form = client.get(url(tenant_a, f"{article.reference}/edit/"))
    assert form.status_code == 200
    assert "Old body</textarea>" in html_of(form)

    response = client.post(
        url(tenant_a, f"{article.reference}/edit/"),
        {
            "title": "New title",
            "body": "New **body**",
            "audience": "agents",
            "tags": "",
            "version": version_of(article),
        },
    )

    assert response.status_code == 302
    edited = reload(article)
    assert edited.title == "New title"
    assert edited.body_html == "<p>New <strong>body</strong></p>\n"
    assert edited.revision == 2
    assert edited.status == ArticleStatus.PUBLISHED


def test_a_stale_edit_keeps_the_users_text_and_shows_the_change(
    client, tenant_a, agent_a, editor_a, make_article
):
    article = make_article(body="Line one\n")
    stale = version_of(article)
    with rls.tenant_scope(tenant_a.pk):
        services.article_update(
            tenant=tenant_a, article_id=article.pk, actor=editor_a, data={"body": "Line two\n"}
        )

    response = as_user(client, agent_a).post(
        url(tenant_a, f"{article.reference}/edit/"),
        {"title": "Mine", "body": "My careful text\n", "audience": "agents", "version": stale},
    )

    assert response.status_code == 409
    html = html_of(response)
    assert "Changed meanwhile" in html
    assert "My careful text\n</textarea>" in html
    assert "-Line two" in html
    assert "+My careful text" in html
    assert f'name="version" value="{version_of(article)}"' in html  # saving again replaces
    assert reload(article).body == "Line two\n"


def test_a_retired_article_cannot_be_saved(client, tenant_a, agent_a, make_article):
    article = make_article(status=ArticleStatus.RETIRED, body="Old")
    client = as_user(client, agent_a)
    assert "cannot be edited" in html_of(client.get(url(tenant_a, f"{article.reference}/edit/")))
    response = client.post(
        url(tenant_a, f"{article.reference}/edit/"),
        {"title": "T", "body": "Kept", "audience": "agents", "version": version_of(article)},
    )
    assert response.status_code == 409
    assert "cannot be edited; revise it first" in html_of(response)
    assert reload(article).body == "Old"


def test_the_preview_renders_through_the_sanitiser(client, tenant_a, agent_a):
    response = as_user(client, agent_a).post(
        url(tenant_a, "preview/"), {"body": f"# Title\n\n{HOSTILE}"}, **HTMX
    )
    assert response.status_code == 200
    html = html_of(response)
    assert "<h1>Title</h1>" in html
    assert "&lt;script&gt;" in html
    assert_harmless(html)


def test_the_preview_button_works_without_javascript(client, tenant_a, agent_a):
    response = as_user(client, agent_a).post(
        url(tenant_a, "new/"),
        {"title": "T", "body": f"**Bold** {HOSTILE}", "audience": "agents", "preview": "1"},
    )
    assert response.status_code == 200
    html = html_of(response)
    assert "<strong>Bold</strong>" in html
    assert_harmless(html.split('id="preview"', 1)[1])
    with rls.tenant_scope(tenant_a.pk):
        assert not Article.objects.exists()  # a preview saves nothing


def test_requesters_get_no_editor_nor_preview(client, tenant_a, requester_a):
    client = as_user(client, requester_a)
    assert client.get(url(tenant_a, "new/")).status_code == 403
    assert client.post(url(tenant_a, "preview/"), {"body": "x"}).status_code == 403


# --- Versions ----------------------------------------------------------------------------------


@pytest.fixture
def three_versions(tenant_a, agent_a, make_article):
    article = make_article(body="first\n")
    with rls.tenant_scope(tenant_a.pk):
        for body in ("second\n", "third\n"):
            services.article_update(
                tenant=tenant_a, article_id=article.pk, actor=agent_a, data={"body": body}
            )
    return reload(article)


def test_the_versions_page_lists_and_compares(client, tenant_a, agent_a, three_versions):
    article = three_versions
    client = as_user(client, agent_a)
    page = client.get(url(tenant_a, f"{article.reference}/versions/"))
    assert page.status_code == 200
    html = html_of(page)
    for number in (1, 2, 3):
        assert f"v{number}" in html
    assert html.count("Restore this version<") == 2  # not the current one

    diff = html_of(client.get(url(tenant_a, f"{article.reference}/versions/"), {"a": 1, "b": 3}))
    assert '<span class="removed">-first</span>' in diff
    assert '<span class="added">+third</span>' in diff


def test_a_bad_or_missing_version_to_compare(client, tenant_a, agent_a, three_versions):
    article = three_versions
    client = as_user(client, agent_a)
    versions = url(tenant_a, f"{article.reference}/versions/")
    bad = client.get(versions, {"a": "x", "b": 3})
    assert bad.status_code == 400
    assert "Choose a version number." in html_of(bad)
    missing = client.get(versions, {"a": 1, "b": 9})
    assert missing.status_code == 404
    assert f"{article.reference} has no version 9." in html_of(missing)


def test_an_old_version_is_restored_through_the_page(client, tenant_a, agent_a, three_versions):
    article = three_versions
    response = as_user(client, agent_a).post(
        url(tenant_a, f"{article.reference}/restore/"),
        {"version": article.version, "number": 1},
    )
    assert response.status_code == 302
    restored = reload(article)
    assert restored.body == "first\n"
    assert restored.revision == 4
    with rls.tenant_scope(tenant_a.pk):
        assert ArticleVersion.objects.get(article=article, number=4).restored_from == 1


def test_requesters_get_no_versions(client, tenant_a, requester_a, make_article):
    article = make_article(audience=ArticleAudience.REQUESTERS)
    response = as_user(client, requester_a).get(url(tenant_a, f"{article.reference}/versions/"))
    assert response.status_code == 403


# --- Roles of the page actions, and what a list page costs -------------------------------------


@pytest.mark.parametrize("action", list(ACTIONS))
def test_each_caller_gets_what_a_page_action_grants(
    client, tenant_a, tenant_b, make_member, make_article, action
):
    # Given an article every member of A may read
    granted = ACTIONS[action].roles
    article = make_article(audience=ArticleAudience.REQUESTERS)
    action_url = url(tenant_a, f"{article.reference}/{action}/")
    callers = [*MembershipRole, ANONYMOUS, NON_MEMBER]
    for caller in callers:
        client.logout()
        if caller == NON_MEMBER:
            client.force_login(make_member(tenant_b, MembershipRole.TENANT_ADMIN))
        elif caller != ANONYMOUS:
            client.force_login(make_member(tenant_a, caller))
        before = _snapshot(tenant_a)

        # When the caller posts the action with an empty form
        status = client.post(action_url, {}).status_code

        # Then refused callers are refused as pages refuse them, and nothing changes
        if caller == ANONYMOUS:
            assert status == 302, caller
        elif caller == NON_MEMBER:
            assert status == 404, caller
        elif caller not in granted:
            assert status == 403, caller
        else:
            assert status == 400, caller  # granted: only the empty form is refused
        assert _snapshot(tenant_a) == before, caller


def test_the_list_costs_the_same_for_more_articles(client, tenant_a, agent_a, make_article):
    client = as_user(client, agent_a)
    service = ServiceFactory(tenant=tenant_a)

    def count_for(articles: int) -> int:
        for n in range(articles):
            make_article(title=f"Article {n}", service=service)
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url(tenant_a), {"queue": "all"}).status_code == 200
        return len(queries)

    assert count_for(2) == count_for(6)


def test_saving_an_untouched_form_changes_nothing(client, tenant_a, agent_a, make_article):
    article = make_article(title="Same", body="Same body")
    with rls.tenant_scope(tenant_a.pk):
        services.article_update(
            tenant=tenant_a, article_id=article.pk, actor=agent_a, data={"tags": ["vpn", "Mail"]}
        )
    before = reload(article)
    response = as_user(client, agent_a).post(
        url(tenant_a, f"{article.reference}/edit/"),
        {
            "title": "Same",
            "body": "Same body",
            "audience": "agents",
            "tags": "Mail, vpn",
            "version": before.version,
        },
    )
    assert response.status_code == 302
    after = reload(article)
    assert (after.version, after.revision) == (before.version, before.revision)


def test_the_article_page_shows_the_cards_other_apps_add(
    client, tenant_a, agent_a, requester_a, make_article
):
    # Cards come from the shell's registry (problems adds "Linked records" for staff)
    article = make_article(audience=ArticleAudience.REQUESTERS)
    for user in (agent_a, requester_a):
        role = membership_of(tenant_a, user).role
        html = html_of(as_user(client, user).get(url(tenant_a, f"{article.reference}/")))
        for card in cards_for("article", tenant_a, role, article.reference):
            assert f'hx-get="{card.url}"' in html
            assert f">{card.title}</h2>" in html
