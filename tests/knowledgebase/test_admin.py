"""The knowledge base in Django admin: read-only, each tenant administrator sees their tenant's."""

from typing import Any

from django.test import Client

from tests.factories import ArticleFeedbackFactory, UserFactory
from tests.markers import platform_db

pytestmark = platform_db


def _client(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_platform_admins_see_every_tenants_articles_read_only(make_article, tenant_b):
    # Given an article in each of two tenants
    mine, theirs = make_article(), make_article(tenant=tenant_b, author=None)
    client = _client(UserFactory(is_staff=True, is_superuser=True))
    # When a platform administrator opens the changelist and an article
    listing = client.get("/admin/knowledgebase/article/")
    page = client.get(f"/admin/knowledgebase/article/{mine.pk}/change/")
    # Then both are listed, and the page has no save button: writes go through the services
    assert listing.status_code == 200
    assert {row.pk for row in listing.context["cl"].result_list} == {mine.pk, theirs.pk}
    assert page.status_code == 200
    assert 'name="_save"' not in page.content.decode()
    assert client.get("/admin/knowledgebase/article/add/").status_code == 403


def test_a_tenant_admin_sees_only_their_tenants_articles(make_article, tenant_b, admin_a):
    mine, theirs = make_article(), make_article(tenant=tenant_b, author=None)
    ArticleFeedbackFactory(tenant=tenant_b, article=theirs)
    client = _client(admin_a)
    listing = client.get("/admin/knowledgebase/article/")
    assert listing.status_code == 200
    assert [row.pk for row in listing.context["cl"].result_list] == [mine.pk]
    assert client.get(f"/admin/knowledgebase/article/{theirs.pk}/change/").status_code in (302, 404)
    feedback = client.get("/admin/knowledgebase/articlefeedback/")
    assert list(feedback.context["cl"].result_list) == []
