"""Knowledge articles beside problem management's records: the problem's and known error's
"Knowledge articles" card (link, unlink) and the article page's "Linked records" card."""

import pytest
from django.urls import reverse

from itsm.tenancy import rls
from itsm.tenancy.models import Membership
from problems import services
from problems.models import ArticleLink
from tests.factories import ArticleFactory, IncidentFactory
from tests.problems.conftest import make_known_error, make_problem

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


def _card(pdesk, record, name="problems:articles"):
    return reverse(name, args=[pdesk.tenant.slug, record.reference])


def _linked(pdesk, **target):
    with rls.tenant_scope(pdesk.tenant.pk):
        return list(
            ArticleLink.objects.filter(**target)
            .order_by("article__number")
            .values_list("article__number", flat=True)
        )


def test_a_problem_manager_links_articles_from_the_problem_card(client, pdesk):
    problem = make_problem(pdesk, "under_investigation")
    first, second = ArticleFactory(tenant=pdesk.tenant), ArticleFactory(tenant=pdesk.tenant)
    client.force_login(pdesk.manager)

    response = client.post(
        _card(pdesk, problem), {"articles": f"{first.reference}, {second.reference}"}, **HTMX
    )

    assert response.status_code == 200
    html = response.content.decode()
    assert f"Linked: {first.reference}, {second.reference}." in html
    assert first.title in html
    assert _linked(pdesk, problem=problem) == [first.number, second.number]


def test_unlinking_from_the_card_without_javascript_redirects_back(client, pdesk):
    problem = make_problem(pdesk, "under_investigation")
    article = ArticleFactory(tenant=pdesk.tenant)
    client.force_login(pdesk.manager)
    client.post(_card(pdesk, problem), {"articles": article.reference})

    response = client.post(_card(pdesk, problem), {"articles": article.reference, "unlink": "on"})

    assert response.status_code == 302
    assert response["Location"].endswith(f"/problems/{problem.reference}/#articles")
    assert _linked(pdesk, problem=problem) == []


def test_an_unknown_article_is_a_400_naming_it_and_nothing_is_linked(client, pdesk):
    problem = make_problem(pdesk, "under_investigation")
    article = ArticleFactory(tenant=pdesk.tenant)
    client.force_login(pdesk.manager)

    response = client.post(
        _card(pdesk, problem), {"articles": f"{article.reference} KB-424242"}, **HTMX
    )

    assert response.status_code == 400
    assert "KB-424242 is not an article of this tenant." in response.content.decode()
    assert _linked(pdesk, problem=problem) == []


def test_agents_see_the_card_without_the_form_and_may_not_link(client, pdesk):
    problem = make_problem(pdesk, "under_investigation")
    article = ArticleFactory(tenant=pdesk.tenant)
    client.force_login(pdesk.desk.l1_agent)

    shown = client.get(_card(pdesk, problem), **HTMX)
    refused = client.post(_card(pdesk, problem), {"articles": article.reference}, **HTMX)

    assert shown.status_code == 200
    assert "Link articles" not in shown.content.decode()
    assert refused.status_code == 403
    assert _linked(pdesk, problem=problem) == []


def test_a_closed_problem_offers_no_form_and_refuses_a_link(client, pdesk):
    problem = make_problem(pdesk, "closed")
    article = ArticleFactory(tenant=pdesk.tenant)
    client.force_login(pdesk.manager)

    shown = client.get(_card(pdesk, problem), **HTMX).content.decode()
    refused = client.post(_card(pdesk, problem), {"articles": article.reference}, **HTMX)

    assert "Link articles" not in shown
    assert refused.status_code == 409


def test_a_known_error_card_links_articles(client, pdesk):
    known_error = make_known_error(pdesk, "published")
    article = ArticleFactory(tenant=pdesk.tenant)
    client.force_login(pdesk.manager)

    response = client.post(
        _card(pdesk, known_error, "problems:known-error-articles"),
        {"articles": article.reference},
        **HTMX,
    )

    assert response.status_code == 200
    assert _linked(pdesk, known_error=known_error) == [article.number]


def test_the_article_card_lists_what_the_article_is_linked_to(client, pdesk):
    known_error = make_known_error(pdesk, "published")
    article = ArticleFactory(tenant=pdesk.tenant, title="Restart the relay")
    incident = IncidentFactory(tenant=pdesk.tenant, title="Mail stuck")
    with rls.tenant_scope(pdesk.tenant.pk):
        membership = Membership.objects.select_related("tenant").get(
            tenant=pdesk.tenant, user=pdesk.manager
        )
        services.articles_link(
            tenant=pdesk.tenant,
            membership=membership,
            owner=known_error,
            articles=[article.reference],
        )
        services.articles_link(
            tenant=pdesk.tenant,
            membership=membership,
            owner=known_error.problem,
            articles=[article.reference],
        )
        services.knowledge_apply(
            tenant=pdesk.tenant,
            membership=membership,
            incident_id=incident.pk,
            article=article.reference,
        )
    url = reverse("problems:article-records", args=[pdesk.tenant.slug, article.reference])
    client.force_login(pdesk.desk.l1_agent)

    html = client.get(url, **HTMX).content.decode()

    assert known_error.reference in html
    assert known_error.problem.reference in html
    assert incident.reference in html


def test_requesters_get_no_article_card(client, pdesk):
    article = ArticleFactory(tenant=pdesk.tenant)
    url = reverse("problems:article-records", args=[pdesk.tenant.slug, article.reference])
    client.force_login(pdesk.desk.requester)

    assert client.get(url).status_code == 403
