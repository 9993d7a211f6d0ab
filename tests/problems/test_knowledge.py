"""Knowledge where it is used: articles linked to problems and known errors, and the diagnosis
aid on an incident (its problem, the best matches, "apply") through the API."""

from io import StringIO

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from incidents.choices import EventKind
from incidents.models import IncidentEvent
from itsm.tenancy import rls
from knowledgebase import services as kb
from knowledgebase.choices import ArticleAudience, ArticleStatus
from knowledgebase.models import Article
from problems import services
from problems.choices import KnownErrorStatus, ProblemEventKind
from problems.models import ArticleLink, KnownError, ProblemEvent, ProblemIncident
from tests.factories import ArticleFactory, IncidentFactory, TeamFactory
from tests.problems.conftest import make_known_error, make_problem

pytestmark = pytest.mark.django_db


@pytest.fixture
def api() -> APIClient:
    client = APIClient()
    client.default_format = "json"
    return client


def _knowledge_url(pdesk, incident, path="knowledge/"):
    return f"/api/v1/t/{pdesk.tenant.slug}/incidents/{incident.reference}/{path}"


def _published_article(pdesk, **fields):
    return ArticleFactory(tenant=pdesk.tenant, **fields)  # published by default


# --- Articles linked to problems and known errors ------------------------------------------------


def test_a_problem_manager_links_and_unlinks_articles(api, pdesk):
    problem = make_problem(pdesk, "under_investigation")
    first = _published_article(pdesk)
    second = ArticleFactory(tenant=pdesk.tenant, status=ArticleStatus.DRAFT)
    api.force_authenticate(pdesk.manager)
    refs = [first.reference, second.reference]

    linked = api.post(pdesk.url(f"{problem.reference}/link-articles/"), {"articles": refs})
    again = api.post(pdesk.url(f"{problem.reference}/link-articles/"), {"articles": refs})
    listed = api.get(pdesk.url(f"{problem.reference}/articles/"))
    unlinked = api.post(
        pdesk.url(f"{problem.reference}/unlink-articles/"), {"articles": [first.reference]}
    )

    assert linked.status_code == 200, linked.data
    assert linked.data == {"changed": refs, "unchanged": []}
    assert again.data == {"changed": [], "unchanged": refs}
    assert [row["reference"] for row in listed.data] == refs
    assert unlinked.data == {"changed": [first.reference], "unchanged": []}
    with rls.tenant_scope(pdesk.tenant.pk):
        assert list(
            ArticleLink.objects.filter(problem=problem).values_list("article_id", flat=True)
        ) == [second.pk]
        kinds = list(
            ProblemEvent.objects.filter(problem=problem, kind=ProblemEventKind.ARTICLES)
            .order_by("id")
            .values_list("data__linked", flat=True)
        )
    assert kinds == [True, False]  # the repeated link changed nothing and wrote nothing


def test_articles_link_to_a_known_error(api, pdesk):
    known_error = make_known_error(pdesk, "published")
    article = _published_article(pdesk)
    api.force_authenticate(pdesk.manager)

    response = api.post(
        pdesk.ke_url(f"{known_error.reference}/link-articles/"), {"articles": [article.reference]}
    )

    assert response.status_code == 200, response.data
    listed = api.get(pdesk.ke_url(f"{known_error.reference}/articles/"))
    assert [row["reference"] for row in listed.data] == [article.reference]


def test_an_unknown_or_other_tenants_article_is_a_400_and_nothing_is_linked(api, pdesk, tenant_b):
    problem = make_problem(pdesk, "under_investigation")
    own = _published_article(pdesk)  # KB-000001 in A; B's second article has no twin in A
    foreign = [ArticleFactory(tenant=tenant_b) for _ in range(2)][-1]
    api.force_authenticate(pdesk.manager)

    response = api.post(
        pdesk.url(f"{problem.reference}/link-articles/"),
        {"articles": [own.reference, foreign.reference, "KB-999999", "nonsense"]},
    )

    assert response.status_code == 400
    assert len(response.data["fields"]["articles"]) == 3  # the foreign, absent, malformed ones
    with rls.tenant_scope(pdesk.tenant.pk):
        assert not ArticleLink.objects.filter(problem=problem).exists()


def test_a_restricted_article_outside_the_managers_teams_reads_as_missing(api, pdesk):
    problem = make_problem(pdesk, "under_investigation")
    article = ArticleFactory(tenant=pdesk.tenant)
    with rls.tenant_scope(pdesk.tenant.pk):
        team = TeamFactory(tenant=pdesk.tenant)
        kb.article_restrict(
            tenant=pdesk.tenant, article_id=article.pk, actor=pdesk.desk.admin, teams=[team]
        )
    api.force_authenticate(pdesk.manager)

    response = api.post(
        pdesk.url(f"{problem.reference}/link-articles/"), {"articles": [article.reference]}
    )

    assert response.status_code == 400


def test_agents_read_linked_articles_but_do_not_link(api, pdesk):
    problem = make_problem(pdesk, "under_investigation")
    article = _published_article(pdesk)
    api.force_authenticate(pdesk.desk.l1_agent)

    listed = api.get(pdesk.url(f"{problem.reference}/articles/"))
    refused = api.post(
        pdesk.url(f"{problem.reference}/link-articles/"), {"articles": [article.reference]}
    )

    assert listed.status_code == 200
    assert refused.status_code == 403


def test_a_closed_problem_takes_no_articles(api, pdesk):
    problem = make_problem(pdesk, "closed")
    article = _published_article(pdesk)
    api.force_authenticate(pdesk.manager)

    response = api.post(
        pdesk.url(f"{problem.reference}/link-articles/"), {"articles": [article.reference]}
    )

    assert response.status_code == 409


# --- The diagnosis aid ---------------------------------------------------------------------------


@pytest.fixture
def vpn_known_error(pdesk):
    known_error = make_known_error(pdesk, "published")
    with rls.tenant_scope(pdesk.tenant.pk):
        services.known_error_update(
            tenant=pdesk.tenant,
            known_error_id=known_error.pk,
            actor=pdesk.manager,
            data={
                "title": "VPN disconnects every hour",
                "workaround": "Reconnect with the new profile.",
            },
        )
        return KnownError.objects.select_related("problem").get(pk=known_error.pk)


def test_an_agent_sees_the_matching_known_error_and_the_incidents_problem(
    api, pdesk, vpn_known_error
):
    incident = IncidentFactory(tenant=pdesk.tenant, title="VPN disconnects", description="")
    api.force_authenticate(pdesk.desk.l1_agent)

    response = api.get(_knowledge_url(pdesk, incident))

    assert response.status_code == 200, response.data
    assert response.data["problem"] is None
    [first, *_] = response.data["suggestions"]
    assert first["kind"] == "known_error"
    assert first["reference"] == vpn_known_error.reference
    assert first["workaround"] == "Reconnect with the new profile."
    assert first["problem"] == vpn_known_error.problem.reference
    assert first["applied"] is False


def test_applying_a_known_error_records_the_workaround_counts_once_and_links_the_problem(
    api, pdesk, vpn_known_error
):
    incident = IncidentFactory(tenant=pdesk.tenant, title="VPN disconnects")
    api.force_authenticate(pdesk.desk.l1_agent)
    body = {"known_error": vpn_known_error.reference}

    first = api.post(_knowledge_url(pdesk, incident, "apply-knowledge/"), body)
    second = api.post(_knowledge_url(pdesk, incident, "apply-knowledge/"), body)
    after = api.get(_knowledge_url(pdesk, incident))

    assert first.status_code == 200, first.data
    assert first.data == {
        "reference": vpn_known_error.reference,
        "counted": True,
        "linked_problem": vpn_known_error.problem.reference,
    }
    assert second.data["counted"] is False
    assert second.data["linked_problem"] == ""  # already linked
    with rls.tenant_scope(pdesk.tenant.pk):
        assert KnownError.objects.get(pk=vpn_known_error.pk).use_count == 1
        assert ProblemIncident.objects.get(incident=incident).problem_id == (
            vpn_known_error.problem_id
        )
        notes = list(IncidentEvent.objects.filter(incident=incident, kind=EventKind.KNOWLEDGE))
        assert len(notes) == 2
        assert "Reconnect with the new profile." in notes[0].body
        assert not notes[0].is_public
    assert after.data["problem"]["reference"] == vpn_known_error.problem.reference
    assert after.data["suggestions"][0]["applied"] is True


def test_applying_an_article_counts_one_helped_incident(api, pdesk):
    article = _published_article(pdesk, title="Reset a forgotten password")
    incident = IncidentFactory(tenant=pdesk.tenant, title="Forgotten password")
    api.force_authenticate(pdesk.desk.l1_agent)

    for _ in range(2):
        response = api.post(
            _knowledge_url(pdesk, incident, "apply-knowledge/"), {"article": article.reference}
        )
        assert response.status_code == 200, response.data
    after = api.get(_knowledge_url(pdesk, incident))

    with rls.tenant_scope(pdesk.tenant.pk):
        assert Article.objects.get(pk=article.pk).helped_count == 1
    assert [row["reference"] for row in after.data["articles"]] == [article.reference]


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({}, 400),
        ({"known_error": "KE-000001", "article": "KB-000001"}, 400),
        ({"known_error": "KE-999999"}, 404),
        ({"article": "garbage"}, 404),
    ],
)
def test_bad_apply_requests_are_refused_and_change_nothing(api, pdesk, body, status):
    incident = IncidentFactory(tenant=pdesk.tenant)
    api.force_authenticate(pdesk.desk.l1_agent)

    response = api.post(_knowledge_url(pdesk, incident, "apply-knowledge/"), body)

    assert response.status_code == status
    with rls.tenant_scope(pdesk.tenant.pk):
        assert not IncidentEvent.objects.filter(
            incident=incident, kind=EventKind.KNOWLEDGE
        ).exists()


def test_a_draft_known_error_or_a_draft_article_cannot_be_applied(api, pdesk):
    draft = make_known_error(pdesk, "draft")
    article = ArticleFactory(tenant=pdesk.tenant, status=ArticleStatus.DRAFT)
    incident = IncidentFactory(tenant=pdesk.tenant)
    api.force_authenticate(pdesk.desk.l1_agent)
    url = _knowledge_url(pdesk, incident, "apply-knowledge/")

    assert api.post(url, {"known_error": draft.reference}).status_code == 404
    assert api.post(url, {"article": article.reference}).status_code == 404


def test_a_closed_incident_takes_no_workaround(api, pdesk, vpn_known_error):
    incident = IncidentFactory(tenant=pdesk.tenant, status="closed")
    api.force_authenticate(pdesk.desk.l1_agent)

    response = api.post(
        _knowledge_url(pdesk, incident, "apply-knowledge/"),
        {"known_error": vpn_known_error.reference},
    )

    assert response.status_code == 409


def test_requesters_get_no_diagnosis(api, pdesk):
    requester = pdesk.desk.requester
    incident = IncidentFactory(tenant=pdesk.tenant, reported_by=requester)
    api.force_authenticate(requester)

    assert api.get(_knowledge_url(pdesk, incident)).status_code == 403


def test_requester_audience_articles_still_match_for_agents(api, pdesk):
    _published_article(pdesk, title="Printer jams on floor 3", audience=ArticleAudience.REQUESTERS)
    incident = IncidentFactory(tenant=pdesk.tenant, title="Printer jams")
    api.force_authenticate(pdesk.desk.l1_agent)

    response = api.get(_knowledge_url(pdesk, incident))

    assert [row["kind"] for row in response.data["suggestions"]] == ["article"]


def test_the_knowledge_of_an_incident_is_one_tenants(api, pdesk, tenant_b, vpn_known_error):
    foreign = IncidentFactory(tenant=tenant_b, title="VPN disconnects")
    api.force_authenticate(pdesk.desk.l1_agent)

    assert api.get(_knowledge_url(pdesk, foreign)).status_code == 404
    assert (
        api.post(
            _knowledge_url(pdesk, foreign, "apply-knowledge/"),
            {"known_error": vpn_known_error.reference},
        ).status_code
        == 404
    )
    assert vpn_known_error.status == KnownErrorStatus.PUBLISHED


def test_the_diagnosis_benchmark_runs_on_a_small_tenant():
    """Its figures are reported in the docs, never asserted; it must keep working."""
    out = StringIO()
    call_command(
        "benchmark_diagnosis", incidents=40, articles=30, requests=2, no_analyze=True, stdout=out
    )
    rows = {line[:24].strip(): line[24:].split() for line in out.getvalue().splitlines()[-4:]}
    assert set(rows) == {
        "floor: bare view",
        "API: incident detail",
        "API: knowledge",
        "page: knowledge card",
    }
    assert 0 < int(rows["API: knowledge"][0]) < 20  # queries, whatever the library size
