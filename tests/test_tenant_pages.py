"""Every web page under /t/<tenant>/ keeps to its tenant: another tenant's page (or another
tenant's object under one's own tenant) is a 404, and a tenant's page shows nothing of another's.
Pages added later are swept without editing this, except to say how to build the object a page
names in its URL (PAGE_OBJECTS)."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from itsm.api.views import TENANT_URL_KWARG
from itsm.tenancy.choices import MembershipRole
from itsm.tenancy.models import Tenant
from knowledgebase.choices import ArticleAudience
from tests.factories import (
    ArticleFactory,
    ChangeFactory,
    ChangeTemplateFactory,
    IncidentFactory,
    KnownErrorFactory,
    ProblemFactory,
    ProblemSuggestionFactory,
    SavedViewFactory,
    ServiceFactory,
    TeamFactory,
)


@dataclass(frozen=True)
class Page:
    name: str
    view_class: Any
    object_kwargs: frozenset[str]

    @property
    def method(self) -> str:
        """GET for pages that show something; POST for pages that only act."""
        return "get" if hasattr(self.view_class, "get") else "post"

    @property
    def serves_file(self) -> bool:
        """A download (a CSV export, say), not a page: swept apart (no browser sweep)."""
        return bool(getattr(self.view_class, "serves_file", False))

    @property
    def roles(self) -> frozenset[str]:
        return frozenset(self.view_class.page_roles)

    def __str__(self) -> str:
        return self.name


def _help_article(tenant: Tenant) -> str:
    return str(ArticleFactory(tenant=tenant, audience=ArticleAudience.REQUESTERS).reference)


# How to build, in a tenant and for a user, the objects a page's URL names.
PAGE_OBJECTS: dict[str, Callable[[Tenant, Any], dict[str, Any]]] = {
    "incidents:detail": lambda tenant, user: {
        "reference": IncidentFactory(tenant=tenant, reported_by=user).reference
    },
    "incidents:action": lambda tenant, user: {
        "reference": IncidentFactory(tenant=tenant, reported_by=user).reference,
        "action": "comment",
    },
    "problems:detail": lambda tenant, user: {"reference": ProblemFactory(tenant=tenant).reference},
    "problems:link": lambda tenant, user: {"reference": ProblemFactory(tenant=tenant).reference},
    "problems:action": lambda tenant, user: {
        "reference": ProblemFactory(tenant=tenant).reference,
        "action": "investigate",
    },
    "problems:known-error": lambda tenant, user: {
        "reference": KnownErrorFactory(tenant=tenant).reference
    },
    "problems:known-error-action": lambda tenant, user: {
        "reference": KnownErrorFactory(tenant=tenant).reference,
        "action": "publish",
    },
    "problems:incident-knowledge": lambda tenant, user: {
        "reference": IncidentFactory(tenant=tenant, reported_by=user).reference
    },
    "problems:incident-knowledge-apply": lambda tenant, user: {
        "reference": IncidentFactory(tenant=tenant, reported_by=user).reference
    },
    "problems:articles": lambda tenant, user: {
        "reference": ProblemFactory(tenant=tenant).reference
    },
    "problems:known-error-articles": lambda tenant, user: {
        "reference": KnownErrorFactory(tenant=tenant).reference
    },
    "problems:article-records": lambda tenant, user: {"reference": _help_article(tenant)},
    "problems:incident-similar": lambda tenant, user: {
        "reference": IncidentFactory(tenant=tenant, reported_by=user).reference
    },
    "problems:suggestion": lambda tenant, user: {
        "reference": ProblemSuggestionFactory(tenant=tenant).reference
    },
    "problems:suggestion-action": lambda tenant, user: {
        "reference": ProblemSuggestionFactory(tenant=tenant).reference,
        "action": "dismiss",
    },
    "changes:detail": lambda tenant, user: {"reference": ChangeFactory(tenant=tenant).reference},
    "changes:action": lambda tenant, user: {
        "reference": ChangeFactory(tenant=tenant).reference,
        "action": "submit",
    },
    "changes:catalogue-template": lambda tenant, user: {
        "pk": ChangeTemplateFactory(tenant=tenant).pk
    },
    "changes:problem-changes": lambda tenant, user: {
        "reference": ProblemFactory(tenant=tenant).reference
    },
    "changes:known-error-changes": lambda tenant, user: {
        "reference": KnownErrorFactory(tenant=tenant).reference
    },
    "changes:incident-changes": lambda tenant, user: {
        "reference": IncidentFactory(tenant=tenant, reported_by=user).reference
    },
    "web:saved-view-delete": lambda tenant, user: {
        "pk": SavedViewFactory(tenant=tenant, user=user).pk
    },
    # A published article for requesters: every member of the tenant may read it.
    "knowledgebase:detail": lambda tenant, user: {"reference": _help_article(tenant)},
    "knowledgebase:edit": lambda tenant, user: {"reference": _help_article(tenant)},
    "knowledgebase:versions": lambda tenant, user: {"reference": _help_article(tenant)},
    "knowledgebase:action": lambda tenant, user: {
        "reference": _help_article(tenant),
        "action": "feedback",
    },
    "metrics:export": lambda tenant, user: {"key": "volume"},
}


def tenant_pages() -> list[Page]:
    pages: list[Page] = []

    def walk(patterns, namespace: str) -> None:
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                if str(pattern.pattern).startswith("api/"):
                    continue  # the API has its own sweep
                child = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
                walk(pattern.url_patterns, child)
            elif isinstance(pattern, URLPattern) and pattern.name:
                kwargs = set(pattern.pattern.regex.groupindex)
                if TENANT_URL_KWARG not in kwargs:
                    continue
                name = f"{namespace}{pattern.name}"
                others = frozenset(kwargs - {TENANT_URL_KWARG})
                assert not others or name in PAGE_OBJECTS, (
                    f"{name} takes {sorted(others)}: say in PAGE_OBJECTS how to build them"
                )
                view_class = pattern.callback.view_class  # type: ignore[attr-defined]
                if getattr(view_class, "authenticates_by_token", False):
                    continue  # no log-in: a token in the URL is the credential (own tests)
                pages.append(Page(name, view_class, others))

    walk(get_resolver().url_patterns, "")
    return pages


# Pages are shown in a browser by the e2e sweeps; files are downloaded, and swept here only.
PAGES = [page for page in tenant_pages() if not page.serves_file]
FILES = [page for page in tenant_pages() if page.serves_file]


def page_url(page: Page, tenant: Tenant, user: Any, objects_of: Tenant | None = None) -> str:
    """The page's URL in `tenant`, naming objects built in `objects_of` (default: the same)."""
    build = PAGE_OBJECTS.get(page.name)
    objects = build(objects_of or tenant, user) if build else {}
    return reverse(page.name, kwargs={TENANT_URL_KWARG: tenant.slug, **objects})


def request(client: Any, page: Page, url: str) -> Any:
    return getattr(client, page.method)(url)


def test_the_sweep_finds_the_pages():
    names = {page.name for page in PAGES}
    assert {"web:tenant-home", "incidents:list", "incidents:detail"} <= names
    assert {"incidents:bulk-assign", "web:saved-view-save"} <= names
    assert "metrics:export" in {page.name for page in FILES}


@pytest.mark.django_db
@pytest.mark.parametrize("page", PAGES, ids=str)
@pytest.mark.parametrize("role", [MembershipRole.TENANT_ADMIN, MembershipRole.REQUESTER])
def test_a_page_shows_one_tenant_only(client, tenant_a, tenant_b, make_member, page, role):
    # Given a member of A, and B's team, service and incident with recognisable names
    user = make_member(tenant_a, role)
    client.force_login(user)
    secrets = [
        TeamFactory(tenant=tenant_b, name="Secret team of B").name,
        ServiceFactory(tenant=tenant_b, name="Secret service of B").name,
        IncidentFactory(tenant=tenant_b, title="Secret incident of B").title,
    ]

    # When they open B's page, B's object under their own tenant, and their own page
    other = request(client, page, page_url(page, tenant_b, user))
    smuggled = page.object_kwargs and request(
        client, page, page_url(page, tenant_a, user, objects_of=tenant_b)
    )
    own = request(client, page, page_url(page, tenant_a, user))

    # Then B's page and B's object do not exist for them, and their own shows nothing of B
    assert other.status_code == 404
    if page.object_kwargs:
        # A role the page refuses may be refused before the object is looked up: a 403 then
        # tells nothing of the object.
        assert smuggled.status_code in ((404,) if role in page.roles else (403, 404))
    if role not in page.roles:
        assert own.status_code == 403
        return
    assert own.status_code == 200 if page.method == "get" else own.status_code < 500
    html = own.content.decode()
    assert not [secret for secret in secrets if secret in html]


@pytest.mark.django_db
@pytest.mark.parametrize("page", PAGES, ids=str)
def test_an_anonymous_visitor_is_sent_to_log_in(client, tenant_a, make_member, page):
    url = page_url(page, tenant_a, make_member(tenant_a, MembershipRole.AGENT))
    response = request(client, page, url)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


@pytest.mark.django_db
@pytest.mark.parametrize("page", FILES, ids=str)
@pytest.mark.parametrize("role", [MembershipRole.TENANT_ADMIN, MembershipRole.REQUESTER])
def test_a_file_holds_one_tenant_only(client, tenant_a, tenant_b, make_member, page, role):
    # Given a member of A, and B's incident with a recognisable title
    user = make_member(tenant_a, role)
    client.force_login(user)
    secret = IncidentFactory(tenant=tenant_b, title="Secret incident of B").title

    # When they download B's file, then their own
    other = client.get(page_url(page, tenant_b, user))
    own = client.get(page_url(page, tenant_a, user))

    # Then B's does not exist for them, and their own holds nothing of B
    assert other.status_code == 404
    if role not in page.roles:
        assert own.status_code == 403
        return
    assert own.status_code == 200
    content = b"".join(own.streaming_content) if own.streaming else own.content
    assert secret not in content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize("page", FILES, ids=str)
def test_an_anonymous_visitor_is_sent_to_log_in_for_a_file(client, tenant_a, make_member, page):
    response = client.get(page_url(page, tenant_a, make_member(tenant_a, MembershipRole.AGENT)))
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
