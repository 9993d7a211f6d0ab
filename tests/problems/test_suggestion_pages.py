"""The trend analysis pages: the suggestions under the latest run (with "Run analysis now"), a
suggestion's evidence and incidents with accept / merge / dismiss through the services the API
uses, and the incident page's "Similar incidents" card. Suggestions come from the factory and
the services, not from running an analysis."""

import pytest
from django.urls import reverse

from itsm.tenancy import rls
from itsm.tenancy.choices import MembershipRole
from problems import services
from problems.choices import SuggestionStatus, TrendRunStatus
from problems.models import IncidentNeighbours, ProblemIncident, ProblemSuggestion, TrendRun
from tests.factories import (
    CategoryFactory,
    IncidentFactory,
    ProblemSuggestionFactory,
    TrendRunFactory,
)
from tests.problems.conftest import make_problem

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


def as_user(client, user):
    client.force_login(user)
    return client


def list_url(pdesk) -> str:
    return reverse("problems:suggestions", args=[pdesk.tenant.slug])


def run_url(pdesk) -> str:
    return reverse("problems:trend-run", args=[pdesk.tenant.slug])


def page(pdesk, suggestion: ProblemSuggestion, action: str = "") -> str:
    if action:
        args = [pdesk.tenant.slug, suggestion.reference, action]
        return reverse("problems:suggestion-action", args=args)
    return reverse("problems:suggestion", args=[pdesk.tenant.slug, suggestion.reference])


def fresh(pdesk, suggestion: ProblemSuggestion) -> ProblemSuggestion:
    with rls.tenant_scope(pdesk.tenant.pk):
        return ProblemSuggestion.objects.select_related("problem").get(pk=suggestion.pk)


def linked_references(pdesk, problem_id: int) -> set[str]:
    with rls.tenant_scope(pdesk.tenant.pk):
        links = ProblemIncident.objects.filter(problem_id=problem_id).select_related("incident")
        return {link.incident.reference for link in links}


def suggested_references(pdesk, suggestion: ProblemSuggestion) -> set[str]:
    with rls.tenant_scope(pdesk.tenant.pk):
        return {link.incident.reference for link in suggestion.incident_links.all()}


@pytest.fixture
def suggestion(pdesk):
    """An open suggestion with the evidence a run writes."""
    category = CategoryFactory(tenant=pdesk.tenant, name="Email delivery")
    return ProblemSuggestionFactory(
        tenant=pdesk.tenant,
        title="Mail relay timeouts",
        score=0.8123,
        evidence={
            "terms": ["relay", "timeout", "smtp"],
            "services": [{"value": pdesk.desk.service.pk, "count": 2}],
            "categories": [{"value": category.pk, "count": 2}],
            "first_at": "2026-03-01T08:00:00+00:00",
            "last_at": "2026-03-02T14:00:00+00:00",
            "span_hours": 30.0,
            "sev1": 1,
            "sev2": 1,
            "sla_breaches": 2,
            "reassignments": 3,
        },
    )


# --- The list and the latest run -----------------------------------------------------------------


@pytest.mark.parametrize(
    "role",
    [
        MembershipRole.PROBLEM_MANAGER,
        MembershipRole.AGENT,
        MembershipRole.CHANGE_MANAGER,
        MembershipRole.TENANT_ADMIN,
    ],
)
def test_staff_see_the_suggestions_by_score(client, pdesk, make_member, suggestion, role):
    weaker = ProblemSuggestionFactory(tenant=pdesk.tenant, title="Printer queue stuck", score=0.3)

    response = as_user(client, make_member(pdesk.tenant, role)).get(list_url(pdesk))

    html = response.content.decode()
    assert response.status_code == 200
    assert html.index(suggestion.reference) < html.index(weaker.reference)
    assert "Mail relay timeouts" in html
    assert "0.81" in html
    for term in ("relay", "timeout", "smtp"):
        assert f'<span class="tag term">{term}</span>' in html
    assert "30 hours" in html


def test_a_requester_may_not_see_the_suggestions(client, pdesk, suggestion):
    client.force_login(pdesk.desk.requester)
    assert client.get(list_url(pdesk)).status_code == 403
    assert client.get(page(pdesk, suggestion)).status_code == 403


def test_the_tabs_split_open_from_decided(client, pdesk, suggestion):
    dismissed = ProblemSuggestionFactory(tenant=pdesk.tenant, title="Old noise")
    with rls.tenant_scope(pdesk.tenant.pk):
        services.suggestion_dismiss(
            tenant=pdesk.tenant, suggestion_id=dismissed.pk, actor=pdesk.manager, reason="Noise."
        )
    client.force_login(pdesk.manager)

    open_tab = client.get(list_url(pdesk)).content.decode()
    decided_tab = client.get(f"{list_url(pdesk)}?queue=decided").content.decode()

    assert suggestion.reference in open_tab
    assert dismissed.reference not in open_tab
    assert dismissed.reference in decided_tab
    assert suggestion.reference not in decided_tab


def test_run_now_queues_a_run_and_a_second_press_is_refused(client, pdesk):
    client.force_login(pdesk.manager)

    first = client.post(run_url(pdesk))
    second = client.post(run_url(pdesk))
    by_htmx = client.post(run_url(pdesk), **HTMX)

    assert first.status_code == 302
    assert first["Location"] == list_url(pdesk)
    with rls.tenant_scope(pdesk.tenant.pk):
        runs = list(TrendRun.objects.filter(tenant=pdesk.tenant))
    assert [(run.status, run.requested_by_id) for run in runs] == [
        (TrendRunStatus.QUEUED, pdesk.manager.pk)
    ]
    assert second.status_code == 409
    assert "already queued or running" in second.content.decode()
    assert "<h1>Problem suggestions</h1>" in second.content.decode()  # the whole page, usable
    assert by_htmx.status_code == 409
    assert "already queued or running" in by_htmx.content.decode()
    assert "<html" not in by_htmx.content.decode()  # only the run panel


def test_only_problem_managers_are_offered_and_granted_run_now(client, pdesk):
    client.force_login(pdesk.desk.l1_agent)

    shown = client.get(list_url(pdesk)).content.decode()
    refused = client.post(run_url(pdesk))

    assert "Run analysis now" not in shown
    assert refused.status_code == 403
    with rls.tenant_scope(pdesk.tenant.pk):
        assert not TrendRun.objects.filter(tenant=pdesk.tenant).exists()
    client.force_login(pdesk.manager)
    assert "Run analysis now" in client.get(list_url(pdesk)).content.decode()


@pytest.mark.parametrize(
    ("status", "polls"),
    [
        (TrendRunStatus.QUEUED, True),
        (TrendRunStatus.RUNNING, True),
        (TrendRunStatus.SUCCEEDED, False),
        (TrendRunStatus.FAILED, False),
    ],
)
def test_the_progress_bar_polls_only_while_the_run_is_active(client, pdesk, status, polls):
    TrendRunFactory(
        tenant=pdesk.tenant, status=status, progress=40, stage="Comparing incidents", error="Boom"
    )
    client.force_login(pdesk.desk.l1_agent)

    html = client.get(list_url(pdesk)).content.decode()
    panel = client.get(run_url(pdesk), HTTP_HX_TARGET="trend-run", **HTMX)

    assert ('hx-trigger="every 2s"' in html) is polls
    assert ('<progress id="trend-run-progress" max="100" value="40">' in html) is polls
    assert panel.status_code == 200
    assert "<html" not in panel.content.decode()
    assert ('hx-trigger="every 2s"' in panel.content.decode()) is polls
    # The poll that finds the run finished tells the rows to reload
    assert ("HX-Trigger" in panel) is not polls
    if status == TrendRunStatus.FAILED:
        assert "The analysis failed: Boom" in html


# --- One suggestion ------------------------------------------------------------------------------


def test_the_suggestion_shows_its_evidence_and_incidents(client, pdesk, suggestion):
    response = as_user(client, pdesk.manager).get(page(pdesk, suggestion))

    html = response.content.decode()
    assert response.status_code == 200
    for term in ("relay", "timeout", "smtp"):
        assert f'<span class="tag term">{term}</span>' in html
    assert f"{pdesk.desk.service.name} (2)" in html  # services and categories by name
    assert "Email delivery (2)" in html
    assert "30 hours" in html
    for reference in suggested_references(pdesk, suggestion):
        url = reverse("incidents:detail", args=[pdesk.tenant.slug, reference])
        assert f'<a href="{url}">{reference}</a>' in html
    for action in ("accept", "merge", "dismiss"):
        assert f'id="panel-{action}"' in html
    assert 'value="Mail relay timeouts"' in html  # the accept form's title, prefilled


def test_an_agent_reads_the_suggestion_without_decision_panels(client, pdesk, suggestion):
    response = as_user(client, pdesk.desk.l1_agent).get(page(pdesk, suggestion))
    assert response.status_code == 200
    assert 'id="panel-' not in response.content.decode()


def test_accept_records_the_problem_with_the_incidents_linked(client, pdesk, suggestion):
    client.force_login(pdesk.manager)

    response = client.post(
        page(pdesk, suggestion, "accept"),
        {"version": suggestion.version, "title": "Mail relay pool too small"},
    )

    accepted = fresh(pdesk, suggestion)
    assert accepted.status == SuggestionStatus.ACCEPTED
    problem = accepted.problem
    assert problem is not None
    assert problem.title == "Mail relay pool too small"
    assert response.status_code == 302
    assert response["Location"] == reverse(
        "problems:detail", args=[pdesk.tenant.slug, problem.reference]
    )
    assert linked_references(pdesk, problem.pk) == suggested_references(pdesk, suggestion)
    landed = client.get(response["Location"]).content.decode()
    assert f"{problem.reference} recorded the suggestion&#x27;s incidents linked." in landed


def test_accept_with_htmx_redirects_the_browser_to_the_problem(client, pdesk, suggestion):
    client.force_login(pdesk.manager)

    response = client.post(
        page(pdesk, suggestion, "accept"), {"version": suggestion.version, "title": ""}, **HTMX
    )

    problem = fresh(pdesk, suggestion).problem
    assert problem is not None
    assert problem.title == "Mail relay timeouts"  # empty: the suggestion's title
    assert response.status_code == 200
    assert response["HX-Redirect"] == reverse(
        "problems:detail", args=[pdesk.tenant.slug, problem.reference]
    )


def test_merge_links_the_incidents_to_the_problem(client, pdesk, suggestion):
    problem = make_problem(pdesk, "under_investigation")
    client.force_login(pdesk.manager)

    response = client.post(
        page(pdesk, suggestion, "merge"),
        {"version": suggestion.version, "problem": problem.reference},
    )

    assert response.status_code == 302
    assert response["Location"].endswith(f"/problems/{problem.reference}/")
    assert fresh(pdesk, suggestion).status == SuggestionStatus.MERGED
    assert linked_references(pdesk, problem.pk) == suggested_references(pdesk, suggestion)


def test_merge_into_an_unknown_problem_is_a_400_naming_the_field(client, pdesk, suggestion):
    client.force_login(pdesk.manager)

    response = client.post(
        page(pdesk, suggestion, "merge"), {"version": suggestion.version, "problem": "PRB-999999"}
    )

    html = response.content.decode()
    assert response.status_code == 400
    assert '<p class="error" id="merge-problem_error">PRB-999999 is not a problem' in html
    assert 'value="PRB-999999"' in html  # what was typed is kept
    assert fresh(pdesk, suggestion).status == SuggestionStatus.OPEN


def test_dismiss_needs_a_reason(client, pdesk, suggestion):
    client.force_login(pdesk.manager)

    response = client.post(page(pdesk, suggestion, "dismiss"), {"version": suggestion.version})

    assert response.status_code == 400
    assert 'id="dismiss-reason_error"' in response.content.decode()
    assert fresh(pdesk, suggestion).status == SuggestionStatus.OPEN


def test_a_dismissed_suggestion_shows_the_decision_and_no_panels(client, pdesk, suggestion):
    client.force_login(pdesk.manager)

    response = client.post(
        page(pdesk, suggestion, "dismiss"),
        {"version": suggestion.version, "reason": "Different causes, same words."},
    )
    shown = client.get(page(pdesk, suggestion)).content.decode()

    assert response.status_code == 302
    assert response["Location"] == page(pdesk, suggestion)
    assert fresh(pdesk, suggestion).status == SuggestionStatus.DISMISSED
    assert "Dismissed by" in shown
    assert "Different causes, same words." in shown
    assert 'id="panel-' not in shown


def test_acting_on_a_decided_suggestion_is_a_409_page(client, pdesk, suggestion):
    with rls.tenant_scope(pdesk.tenant.pk):
        services.suggestion_dismiss(
            tenant=pdesk.tenant, suggestion_id=suggestion.pk, actor=pdesk.manager, reason="No."
        )
    decided = fresh(pdesk, suggestion)
    client.force_login(pdesk.manager)

    response = client.post(
        page(pdesk, suggestion, "accept"), {"version": decided.version, "title": "Again"}
    )

    html = response.content.decode()
    assert response.status_code == 409
    assert f"{suggestion.reference} is dismissed already." in html
    assert fresh(pdesk, suggestion).problem is None


def test_an_agent_may_not_decide(client, pdesk, suggestion):
    client.force_login(pdesk.desk.l1_agent)

    response = client.post(
        page(pdesk, suggestion, "dismiss"), {"version": suggestion.version, "reason": "Mine."}
    )

    assert response.status_code == 403
    assert fresh(pdesk, suggestion).status == SuggestionStatus.OPEN


def test_another_tenants_suggestion_is_not_found(client, pdesk, tenant_b, suggestion):
    theirs = ProblemSuggestionFactory(tenant=tenant_b)
    client.force_login(pdesk.manager)
    url = reverse("problems:suggestion", args=[pdesk.tenant.slug, theirs.reference])
    # The same number may exist in A: ask for one A does not have.
    if theirs.number == suggestion.number:
        url = reverse("problems:suggestion", args=[pdesk.tenant.slug, "SUG-999999"])
    assert client.get(url).status_code == 404


# --- The incident page's "Similar incidents" card -------------------------------------------------


def test_the_similar_card_lists_the_stored_neighbours_with_scores(client, pdesk):
    incident = IncidentFactory(tenant=pdesk.tenant, title="Mail relay timeout")
    alike = IncidentFactory(tenant=pdesk.tenant, title="Relay timeouts on outbound mail")
    problem = make_problem(pdesk, "under_investigation")
    with rls.tenant_scope(pdesk.tenant.pk):
        services.problem_link_incidents(
            tenant=pdesk.tenant,
            problem_id=problem.pk,
            actor=pdesk.manager,
            incidents=[alike.reference],
        )
        IncidentNeighbours.objects.create(
            tenant=pdesk.tenant, incident=incident, neighbours=[[alike.pk, 0.7345]]
        )
    args = [pdesk.tenant.slug, incident.reference]
    card = reverse("problems:incident-similar", args=args)
    client.force_login(pdesk.desk.l1_agent)

    record = client.get(reverse("incidents:detail", args=args)).content.decode()
    fragment = client.get(card, **HTMX)
    as_page = client.get(card)

    assert f'hx-get="{card}"' in record
    html = fragment.content.decode()
    assert fragment.status_code == 200
    assert "<html" not in html
    assert alike.reference in html
    assert "Relay timeouts on outbound mail" in html
    assert problem.reference in html
    assert "0.73" in html
    assert as_page.status_code == 200
    assert "<html" in as_page.content.decode()


def test_the_similar_card_is_for_staff_only(client, pdesk):
    incident = IncidentFactory(tenant=pdesk.tenant, reported_by=pdesk.desk.requester)
    card = reverse("problems:incident-similar", args=[pdesk.tenant.slug, incident.reference])
    client.force_login(pdesk.desk.requester)
    assert client.get(card).status_code == 403
