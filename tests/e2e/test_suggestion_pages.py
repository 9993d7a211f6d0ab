"""Trend analysis in a real browser: a problem manager watches the running analysis finish,
opens a problem suggestion, reads its evidence and accepts it, landing on the new problem with
the incidents linked; an agent recording an incident is offered the open one like it. All with
htmx under the product's CSP."""

from itsm.tenancy import rls
from problems.choices import TrendRunStatus
from problems.models import TrendRun
from tests.e2e.browser import axe_violations, describe, login
from tests.factories import ProblemSuggestionFactory, TrendRunFactory
from tests.incidents.conftest import make_incident
from tests.markers import e2e
from tests.problems.conftest import pdesk  # noqa: F401 - the problem desk fixture

pytestmark = e2e


def test_a_problem_manager_accepts_a_suggestion(page, pdesk):  # noqa: F811
    # Given a running analysis and a suggestion about the mail relay among weaker ones
    tenant = pdesk.tenant
    run = TrendRunFactory(
        tenant=tenant, status=TrendRunStatus.RUNNING, progress=40, stage="Comparing incidents"
    )
    suggestion = ProblemSuggestionFactory(
        tenant=tenant,
        title="Mail relay timeouts",
        score=0.9,
        evidence={"terms": ["relay", "timeout"], "span_hours": 5.0, "sev1": 1},
    )
    ProblemSuggestionFactory(tenant=tenant, title="Printer queue stuck", score=0.2)
    with rls.tenant_scope(tenant.pk):
        incidents = [link.incident.reference for link in suggestion.incident_links.all()]
    login(page, pdesk.manager.username)

    # When the manager opens the suggestions from the header
    page.goto(f"/t/{tenant.slug}/")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Suggestions").click()
    page.wait_for_function("window.htmx !== undefined")

    # Then the run's progress shows, and the panel follows the run until it is done
    assert page.locator("#trend-run-progress").get_attribute("value") == "40"
    made = ProblemSuggestionFactory(tenant=tenant, title="Disk full on the database", score=0.5)
    with rls.tenant_scope(tenant.pk):
        TrendRun.objects.filter(pk=run.pk).update(
            status=TrendRunStatus.SUCCEEDED, progress=100, suggestions_created=1
        )
    page.locator("#trend-run").get_by_text("Succeeded").wait_for()
    assert page.locator("#trend-run-progress").count() == 0
    assert "1 new, 0 updated" in page.locator("#trend-run").inner_text()
    # and the list reloads with what the run made
    page.locator("#queue-rows").get_by_text(made.reference).wait_for()

    # When they open the best suggestion and read its evidence
    rows = page.locator("#queue-rows tbody tr")
    assert suggestion.reference in rows.first.inner_text()
    with page.expect_navigation():
        page.get_by_role("link", name=suggestion.reference).click()
    page.wait_for_function("window.htmx !== undefined")
    evidence = page.locator(".evidence")
    assert "relay" in evidence.inner_text()
    assert "timeout" in evidence.inner_text()
    for reference in incidents:
        assert page.locator("#suggested-incidents").get_by_role("link", name=reference).count()

    # And accept it under a title of their own
    page.locator("#panel-accept summary").click()
    page.locator("#accept-title").fill("Mail relay connection pool too small")
    with page.expect_navigation():
        page.locator("#panel-accept button[type=submit]").click()

    # Then they are on the new problem, whose linked incidents are the suggestion's
    page.locator(".record-header").get_by_text("Mail relay connection pool too small").wait_for()
    assert "/problems/PRB-" in page.url
    linked = page.locator("#linked-incidents tbody")
    for reference in incidents:
        assert linked.get_by_role("link", name=reference).count() == 1
    assert "recorded the suggestion's incidents linked." in page.locator(".messages").inner_text()


def test_the_suggestion_pages_are_accessible(axe_page, pdesk):  # noqa: F811
    TrendRunFactory(tenant=pdesk.tenant, status=TrendRunStatus.RUNNING, progress=60)
    suggestion = ProblemSuggestionFactory(tenant=pdesk.tenant, title="Mail relay timeouts")
    login(axe_page, pdesk.manager.username)
    for path in ("", f"{suggestion.reference}/"):
        axe_page.goto(f"/t/{pdesk.tenant.slug}/problems/suggestions/{path}")
        violations = axe_violations(axe_page)
        assert not violations, describe(violations)


def test_the_create_form_offers_the_open_incident_that_may_be_the_same(page, pdesk):  # noqa: F811
    # Given an open incident about the mail relay
    first = make_incident(pdesk.desk, "in_progress", title="Mail relay timeout on outbound mail")
    login(page, pdesk.desk.l1_agent.username)
    page.goto(f"/t/{pdesk.tenant.slug}/incidents/new/")
    page.wait_for_function("window.htmx !== undefined")

    # When an agent types a title like it
    page.get_by_label("Title").press_sequentially("mail relay", delay=20)

    # Then it is offered under the field, to open instead
    hint = page.locator("#similar-open")
    hint.get_by_text("Possibly the same:").wait_for()
    assert first.reference in hint.inner_text()
    with page.expect_navigation():
        hint.get_by_role("link", name=f"Open it instead ({first.reference})").click()
    assert page.url.endswith(f"/incidents/{first.reference}/")
