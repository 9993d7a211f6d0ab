"""A problem manager's day in a real browser: find and link incidents in bulk, record the root
cause and workaround, record and publish a known error with its article; then an L1 agent sees
it on a new matching incident and applies the workaround. All in place with htmx under the
product's CSP."""

from tests.e2e.browser import axe_violations, describe, login
from tests.factories import ArticleFactory
from tests.incidents.conftest import make_incident
from tests.markers import e2e
from tests.problems.conftest import make_problem, pdesk  # noqa: F401 - the problem desk fixture

pytestmark = e2e


def test_a_problem_manager_links_incidents_and_publishes_a_known_error(
    page,
    new_page,
    pdesk,  # noqa: F811
):
    # Given a problem under investigation and three incidents about the relay, among others,
    # and an article on restarting the relay
    problem = make_problem(pdesk, "under_investigation")
    article = ArticleFactory(tenant=pdesk.tenant, title="Restarting the mail relay safely")
    relay = [
        make_incident(pdesk.desk, "in_progress", title=f"Mail relay timeout {n}") for n in range(3)
    ]
    make_incident(pdesk.desk, title="Printer jams")
    login(page, pdesk.manager.username)

    # When the manager searches the link page and ticks the three relay incidents
    page.goto(f"/t/{pdesk.tenant.slug}/problems/{problem.reference}/link/")
    page.wait_for_function("window.htmx !== undefined")
    page.locator("#f-q").fill("relay")
    with page.expect_navigation():
        page.get_by_role("button", name="Search").click()
    assert "Printer jams" not in page.locator("#picker").inner_text()
    for incident in relay:
        page.get_by_label(f"Link {incident.reference}").check()
    page.get_by_label("Put the incidents in progress on hold").check()
    page.get_by_role("button", name="Link", exact=True).click()

    # Then the three are linked in place, and held for the problem
    page.get_by_text("Linked 3 incidents.").wait_for()
    assert "Put on hold:" in page.locator("#picker").inner_text()
    assert page.locator("#picker").get_by_text("linked here").count() == 3

    # When they record the root cause and the workaround on the record page
    page.goto(f"/t/{pdesk.tenant.slug}/problems/{problem.reference}/")
    page.wait_for_function("window.htmx !== undefined")
    assert page.locator("#linked-incidents tbody tr").count() == 3
    page.locator("#panel-identify-root-cause summary").click()
    page.locator("#identify-root-cause-root_cause").fill("The relay's pool is too small.")
    page.locator("#identify-root-cause-workaround").fill("Restart the relay.")
    page.locator("#panel-identify-root-cause button[type=submit]").click()
    page.get_by_text("Root cause recorded.").wait_for()
    assert "Root cause known" in page.locator(".record-header").inner_text()

    # And create a known error from it, then publish it
    page.locator("#panel-create-known-error summary").click()
    page.locator("#create-known-error-symptoms").fill("Mail waits in the outbox.")
    page.locator("#panel-create-known-error button[type=submit]").click()
    page.get_by_text("Known error recorded as a draft.").wait_for()
    with page.expect_navigation():
        page.locator("#known-errors a").first.click()
    page.wait_for_function("window.htmx !== undefined")
    page.locator("#panel-publish summary").click()
    page.locator("#panel-publish button[type=submit]").click()
    page.get_by_text("Published.").wait_for()
    assert "Published" in page.locator(".record-header").inner_text()
    assert "Mail waits in the outbox." in page.locator("main").inner_text()
    known_error = page.locator(".record-header h1").inner_text().split(" ")[0]

    # And link the knowledge article that explains the workaround to the known error
    cards = page.locator("#articles")
    cards.get_by_label("Article numbers").fill(article.reference)
    cards.get_by_role("button", name="Link articles").click()
    cards.get_by_text(f"Linked: {article.reference}.").wait_for()

    # Then an L1 agent opening a new incident about the relay sees the known error, applies
    # its workaround, and the incident's timeline says so without a reload
    incident = make_incident(pdesk.desk, "in_progress", title="Mail relay timeout again")
    agent = new_page()
    login(agent, pdesk.desk.l1_agent.username)
    agent.goto(f"/t/{pdesk.tenant.slug}/incidents/{incident.reference}/")
    card = agent.locator("#problems-incident-knowledge")
    card.get_by_text(known_error).first.wait_for()
    assert "Restart the relay." in card.inner_text()
    card.get_by_role("button", name="Apply workaround").first.click()
    card.get_by_text(f"{known_error} applied: recorded on the timeline.").wait_for()
    assert f"linked to {problem.reference}" in card.inner_text()
    agent.locator("#timeline").get_by_text(f"applied the workaround of {known_error}").wait_for()
    # The article helped too
    agent.reload()
    agent.locator("#problems-incident-knowledge").get_by_text(article.reference).first.wait_for()


def test_the_link_page_with_ticked_rows_is_accessible(axe_page, pdesk):  # noqa: F811
    problem = make_problem(pdesk, "under_investigation")
    make_incident(pdesk.desk, title="Mail relay timeout")
    login(axe_page, pdesk.manager.username)
    axe_page.goto(f"/t/{pdesk.tenant.slug}/problems/{problem.reference}/link/")
    violations = axe_violations(axe_page)
    assert not violations, describe(violations)
