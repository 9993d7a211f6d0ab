"""Knowledge-base fixtures: a tenant with members of each role, an article-making helper and a
client that speaks for one member."""

from collections.abc import Callable
from typing import Any

import pytest

from itsm.tenancy import rls
from itsm.tenancy.choices import MembershipRole
from itsm.tenancy.models import Membership, Tenant
from knowledgebase.models import Article
from tests.conftest import api_url
from tests.factories import ArticleFactory


@pytest.fixture
def manager_a(tenant_a: Tenant, make_member: Callable[..., Any]) -> Any:
    return make_member(tenant_a, MembershipRole.PROBLEM_MANAGER, username="manager-a")


@pytest.fixture
def make_article(tenant_a: Tenant, agent_a: Any) -> Callable[..., Article]:
    def make(**fields: Any) -> Article:
        if fields.get("author") is None:
            fields.pop("author", None)
            if "tenant" not in fields:
                fields["author"] = agent_a
        return ArticleFactory(tenant=fields.pop("tenant", tenant_a), **fields)

    return make


@pytest.fixture
def kb(api_client: Callable[[Any], Any], tenant_a: Tenant) -> Callable[..., Any]:
    """kb(user) -> an object with get/post/patch on paths under the tenant's articles."""

    class Client:
        def __init__(self, user: Any) -> None:
            self.client = api_client(user)

        def url(self, path: str = "") -> str:
            return api_url(tenant_a, f"articles/{path}")

        def get(self, path: str = "", **params: Any) -> Any:
            return self.client.get(self.url(path), params)

        def post(self, path: str, data: Any = None, **headers: Any) -> Any:
            return self.client.post(self.url(path), data or {}, format="json", headers=headers)

        def patch(self, path: str, data: Any, **headers: Any) -> Any:
            return self.client.patch(self.url(path), data, format="json", headers=headers)

    return Client


def membership_of(tenant: Tenant, user: Any) -> Membership:
    with rls.tenant_scope(tenant.pk):
        return Membership.objects.select_related("user", "tenant").get(tenant=tenant, user=user)


def reload(article: Article) -> Article:
    with rls.tenant_scope(article.tenant_id):
        return Article.objects.get(pk=article.pk)
