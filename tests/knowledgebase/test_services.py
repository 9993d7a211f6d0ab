"""Services: versions (edit, publish, restore, compare), feedback, helped count, guardian grants."""

import pytest
from django.db import DatabaseError, transaction

from itsm.errors import NotFoundError
from itsm.tenancy import rls
from knowledgebase import selectors, services
from knowledgebase.choices import ArticleAction, ArticleStatus
from knowledgebase.errors import (
    ArticleInputError,
    ArticleNotEditableError,
    ArticleNotPublishedError,
    StaleArticleError,
)
from knowledgebase.models import Article, ArticleUserObjectPermission, ArticleVersion
from tests.factories import TeamFactory, TeamMemberFactory
from tests.knowledgebase.conftest import membership_of, reload

pytestmark = pytest.mark.django_db


def _versions(article):
    with rls.tenant_scope(article.tenant_id):
        return list(
            ArticleVersion.objects.filter(article_id=article.pk)
            .order_by("number")
            .values_list("number", "title", "body", "status", "restored_from")
        )


def test_create_numbers_renders_and_records_the_first_version(tenant_a, agent_a):
    with rls.tenant_scope(tenant_a.pk):
        article = services.article_create(
            tenant=tenant_a,
            actor=agent_a,
            data={"title": "VPN drops", "body": "Use **TCP**.", "tags": ["VPN", "vpn ", "Net"]},
        )
        tags = sorted(article.tags.values_list("slug", flat=True))
    assert article.reference == "KB-000001"
    assert article.status == ArticleStatus.DRAFT
    assert article.body_html == "<p>Use <strong>TCP</strong>.</p>\n"
    assert article.owner == agent_a
    assert article.revision == 1
    assert tags == ["net", "vpn"]
    assert _versions(article) == [(1, "VPN drops", "Use **TCP**.", "draft", None)]


def test_every_text_edit_is_a_version_and_nothing_is_lost(make_article, tenant_a, agent_a):
    # Given a published article (version 1)
    article = make_article(title="Mail", body="one")
    # When its text is edited twice and its audience once
    with rls.tenant_scope(tenant_a.pk):
        services.article_update(
            tenant=tenant_a, article_id=article.pk, actor=agent_a, data={"body": "two"}
        )
        services.article_update(
            tenant=tenant_a, article_id=article.pk, actor=agent_a, data={"title": "Mail 2"}
        )
        services.article_update(
            tenant=tenant_a, article_id=article.pk, actor=agent_a, data={"audience": "requesters"}
        )
    # Then each text edit is a version, live at once (publish-on-save), the audience is none
    article = reload(article)
    assert article.status == ArticleStatus.PUBLISHED
    assert (article.title, article.body, article.revision) == ("Mail 2", "two", 3)
    assert article.body_html == "<p>two</p>\n"
    assert _versions(article) == [
        (1, "Mail", "one", "draft", None),
        (2, "Mail", "two", "published", None),
        (3, "Mail 2", "two", "published", None),
    ]


def test_restore_brings_back_old_text_as_a_new_version(make_article, tenant_a, agent_a):
    article = make_article(title="Printer", body="old way")
    with rls.tenant_scope(tenant_a.pk):
        services.article_update(
            tenant=tenant_a, article_id=article.pk, actor=agent_a, data={"body": "new way"}
        )
        services.article_restore(tenant=tenant_a, article_id=article.pk, actor=agent_a, number=1)
    article = reload(article)
    assert (article.body, article.body_html, article.revision) == ("old way", "<p>old way</p>\n", 3)
    assert [row[2] for row in _versions(article)] == ["old way", "new way", "old way"]
    assert _versions(article)[2][4] == 1


def test_restore_of_a_missing_version_is_not_found(make_article, tenant_a, agent_a):
    article = make_article()
    with rls.tenant_scope(tenant_a.pk), pytest.raises(NotFoundError):
        services.article_restore(tenant=tenant_a, article_id=article.pk, actor=agent_a, number=9)
    assert reload(article).revision == 1


def test_a_retired_article_is_neither_edited_nor_restored(make_article, tenant_a, agent_a):
    article = make_article(status=ArticleStatus.RETIRED, body="gone")
    with rls.tenant_scope(tenant_a.pk):
        with pytest.raises(ArticleNotEditableError):
            services.article_update(
                tenant=tenant_a, article_id=article.pk, actor=agent_a, data={"body": "x"}
            )
        with pytest.raises(ArticleNotEditableError):
            services.article_restore(
                tenant=tenant_a, article_id=article.pk, actor=agent_a, number=1
            )
    assert reload(article).body == "gone"


def test_compare_gives_a_unified_diff(make_article, tenant_a, agent_a):
    article = make_article(title="Wifi", body="line one\nline two\n")
    with rls.tenant_scope(tenant_a.pk):
        services.article_update(
            tenant=tenant_a,
            article_id=article.pk,
            actor=agent_a,
            data={"body": "line one\nline 2\n"},
        )
        comparison = selectors.article_versions_compare(
            article=reload(article), from_number=1, to_number=2
        )
        missing = selectors.article_versions_compare(article=article, from_number=1, to_number=7)
    assert comparison is not None
    assert comparison.diff == (
        "--- KB-000001 v1\n+++ KB-000001 v2\n@@ -1,4 +1,4 @@\n # Wifi\n \n line one\n"
        "-line two\n+line 2\n"
    )
    assert missing is None


def test_a_stale_version_is_refused_and_changes_nothing(make_article, tenant_a, agent_a):
    article = make_article(body="keep")
    with rls.tenant_scope(tenant_a.pk), pytest.raises(StaleArticleError):
        services.article_update(
            tenant=tenant_a,
            article_id=article.pk,
            actor=agent_a,
            data={"body": "lost?"},
            expected_version=article.version + 5,
        )
    assert reload(article).body == "keep"


def test_unknown_fields_are_refused(make_article, tenant_a, agent_a):
    article = make_article()
    with rls.tenant_scope(tenant_a.pk), pytest.raises(ArticleInputError):
        services.article_update(
            tenant=tenant_a, article_id=article.pk, actor=agent_a, data={"status": "published"}
        )


def test_transitions_set_their_times(make_article, tenant_a, manager_a):
    article = make_article(status=ArticleStatus.IN_REVIEW)
    with rls.tenant_scope(tenant_a.pk):
        services.article_transition(
            tenant=tenant_a, article_id=article.pk, actor=manager_a, action=ArticleAction.PUBLISH
        )
        published = reload(article)
        services.article_transition(
            tenant=tenant_a, article_id=article.pk, actor=manager_a, action=ArticleAction.RETIRE
        )
        retired = reload(article)
        services.article_transition(
            tenant=tenant_a, article_id=article.pk, actor=manager_a, action=ArticleAction.REVISE
        )
    revised = reload(article)
    assert published.status == "published"
    assert published.published_at is not None
    assert retired.status == "retired"
    assert retired.retired_at is not None
    assert revised.status == "draft"
    assert revised.retired_at is None
    assert revised.version == article.version + 3


# --- Feedback and use --------------------------------------------------------------------------


def test_feedback_is_one_per_reader_and_changeable(make_article, tenant_a, agent_a, manager_a):
    article = make_article()
    with rls.tenant_scope(tenant_a.pk):
        services.article_feedback_give(
            tenant=tenant_a, article_id=article.pk, user=agent_a, is_helpful=True
        )
        services.article_feedback_give(
            tenant=tenant_a, article_id=article.pk, user=manager_a, is_helpful=True
        )
        after_two = reload(article)
        feedback = services.article_feedback_give(
            tenant=tenant_a,
            article_id=article.pk,
            user=agent_a,
            is_helpful=False,
            comment="Step 3 is wrong.",
        )
        same_again = services.article_feedback_give(
            tenant=tenant_a, article_id=article.pk, user=agent_a, is_helpful=False, comment="x"
        )
        count = article.feedback.count()
    final = reload(article)
    assert (after_two.helpful_count, after_two.not_helpful_count) == (2, 0)
    assert (final.helpful_count, final.not_helpful_count) == (1, 1)
    assert feedback.pk == same_again.pk
    assert same_again.comment == "x"
    assert count == 2


@pytest.mark.parametrize("status", [ArticleStatus.DRAFT, ArticleStatus.IN_REVIEW, "retired"])
def test_feedback_needs_a_published_article(make_article, tenant_a, agent_a, status):
    article = make_article(status=status)
    with rls.tenant_scope(tenant_a.pk), pytest.raises(ArticleNotPublishedError):
        services.article_feedback_give(
            tenant=tenant_a, article_id=article.pk, user=agent_a, is_helpful=True
        )
    assert reload(article).helpful_count == 0


def test_other_apps_count_incidents_helped(make_article, tenant_a, tenant_b):
    article = make_article()
    with rls.tenant_scope(tenant_a.pk):
        services.article_record_helped(tenant=tenant_a, article_id=article.pk)
        services.article_record_helped(tenant=tenant_a, article_id=article.pk)
    with rls.tenant_scope(tenant_b.pk), pytest.raises(NotFoundError):
        services.article_record_helped(tenant=tenant_b, article_id=article.pk)
    assert reload(article).helped_count == 2


# --- Restrictions through django-guardian ------------------------------------------------------


def _visible_to(tenant, user, article):
    membership = membership_of(tenant, user)
    with rls.tenant_scope(tenant.pk):
        return (
            selectors.article_list(tenant=tenant, membership=membership)
            .filter(pk=article.pk)
            .exists()
        )


def _grants(article):
    with rls.tenant_scope(article.tenant_id):
        return sorted(
            ArticleUserObjectPermission.objects.filter(content_object_id=article.pk).values_list(
                "user__username", flat=True
            )
        )


def test_restricting_grants_team_members_and_hides_from_the_rest(
    make_article, tenant_a, admin_a, agent_a, manager_a, make_member
):
    # Given a team with one agent in it, and an article everyone sees
    team = TeamFactory(tenant=tenant_a)
    insider = TeamMemberFactory(tenant=tenant_a, team=team).user
    article = make_article()
    assert _visible_to(tenant_a, agent_a, article)
    # When a tenant administrator restricts it to the team
    with rls.tenant_scope(tenant_a.pk):
        services.article_restrict(
            tenant=tenant_a, article_id=article.pk, actor=admin_a, teams=[team]
        )
    # Then only the team member holds guardian's grant; outsiders no longer see it
    assert _grants(article) == [insider.username]
    assert reload(article).is_restricted is True
    assert _visible_to(tenant_a, insider, article)
    assert _visible_to(tenant_a, admin_a, article)
    assert not _visible_to(tenant_a, agent_a, article)
    assert not _visible_to(tenant_a, manager_a, article)


def test_joining_the_team_grants_and_leaving_revokes(make_article, tenant_a, admin_a, agent_a):
    team = TeamFactory(tenant=tenant_a)
    article = make_article()
    with rls.tenant_scope(tenant_a.pk):
        services.article_restrict(
            tenant=tenant_a, article_id=article.pk, actor=admin_a, teams=[team]
        )
    assert not _visible_to(tenant_a, agent_a, article)
    # When the agent joins the team
    member = TeamMemberFactory(tenant=tenant_a, team=team, user=agent_a)
    assert _visible_to(tenant_a, agent_a, article)
    # And leaves it again
    with rls.tenant_scope(tenant_a.pk):
        member.delete()
    assert not _visible_to(tenant_a, agent_a, article)
    assert _grants(article) == []


def test_lifting_the_restriction_removes_every_grant(make_article, tenant_a, admin_a, agent_a):
    team = TeamFactory(tenant=tenant_a)
    TeamMemberFactory(tenant=tenant_a, team=team)
    article = make_article()
    with rls.tenant_scope(tenant_a.pk):
        services.article_restrict(
            tenant=tenant_a, article_id=article.pk, actor=admin_a, teams=[team]
        )
        services.article_restrict(tenant=tenant_a, article_id=article.pk, actor=admin_a, teams=[])
    assert _grants(article) == []
    assert reload(article).is_restricted is False
    assert _visible_to(tenant_a, agent_a, article)


def test_a_restriction_naming_another_tenants_team_is_refused(
    make_article, tenant_a, tenant_b, admin_a
):
    article = make_article()
    other = TeamFactory(tenant=tenant_b)
    with rls.tenant_scope(tenant_a.pk), pytest.raises(ArticleInputError):
        services.article_restrict(
            tenant=tenant_a, article_id=article.pk, actor=admin_a, teams=[other]
        )
    assert reload(article).is_restricted is False


def test_a_manager_cannot_lock_themselves_out(make_article, tenant_a, manager_a):
    team = TeamFactory(tenant=tenant_a)
    article = make_article()
    with rls.tenant_scope(tenant_a.pk), pytest.raises(ArticleInputError):
        services.article_restrict(
            tenant=tenant_a, article_id=article.pk, actor=manager_a, teams=[team]
        )
    assert reload(article).is_restricted is False


def test_the_database_refuses_a_grant_on_another_tenants_article(
    make_article, tenant_a, tenant_b, admin_a
):
    # Given a grant in tenant A
    team = TeamFactory(tenant=tenant_a)
    TeamMemberFactory(tenant=tenant_a, team=team)
    article = make_article()
    with rls.tenant_scope(tenant_a.pk):
        services.article_restrict(
            tenant=tenant_a, article_id=article.pk, actor=admin_a, teams=[team]
        )
        grant = ArticleUserObjectPermission.objects.get(content_object_id=article.pk)
    # When raw SQL tries to move it into tenant B, it is refused (row-level security)
    with rls.tenant_scope(tenant_a.pk), pytest.raises(DatabaseError), transaction.atomic():
        ArticleUserObjectPermission.objects.filter(pk=grant.pk).update(tenant_id=tenant_b.pk)
    assert _grants(article) == [grant.user.username]


def test_create_refuses_fields_only_the_lifecycle_writes(tenant_a, agent_a):
    with rls.tenant_scope(tenant_a.pk):
        with pytest.raises(ArticleInputError) as refused:
            services.article_create(
                tenant=tenant_a,
                actor=agent_a,
                data={"title": "x", "body": "y", "status": "published", "helped_count": 5},
            )
        assert not Article.objects.exists()
    assert refused.value.fields == {"helped_count": ["Not editable."], "status": ["Not editable."]}
