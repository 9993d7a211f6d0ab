"""A problem's fix through change management in a real browser: the change manager raises a
normal change from the problem's page, assesses its risk (high: two approvals), asks the CAB;
two CAB members approve it from their queue, the last approval schedules it with a warning about
an overlapping change on the same service; it is implemented, reviewed and closed as
successful, and the problem it fixes shows resolved. All under the product's CSP."""

from datetime import UTC, datetime

from itsm.calendars.selectors import tenant_time_zone
from itsm.tenancy import rls
from tests.changes.conftest import cdesk, make_change  # noqa: F401 - the change desk fixture
from tests.e2e.browser import login
from tests.markers import e2e
from tests.problems.conftest import ProblemDesk, make_problem

pytestmark = e2e

# The new change's window overlaps the scheduled one's (10:00-12:00 UTC) by an hour.
STARTS = datetime(2027, 1, 4, 11, 0, tzinfo=UTC)
ENDS = datetime(2027, 1, 4, 13, 0, tzinfo=UTC)


def _local(moment: datetime, cdesk) -> str:  # noqa: F811
    """The value a person types into a datetime-local field, in the tenant's time zone."""
    with rls.tenant_scope(cdesk.tenant.pk):
        zone = tenant_time_zone(tenant=cdesk.tenant)
    return moment.astimezone(zone).strftime("%Y-%m-%dT%H:%M")


def _approve_from_queue(page, cdesk, username: str, reference: str, comment: str) -> None:  # noqa: F811
    login(page, username)
    page.goto(f"/t/{cdesk.tenant.slug}/changes/approvals/")
    page.wait_for_function("window.htmx !== undefined")
    row = page.locator("section.approval").filter(has=page.locator(f"#approval-{reference}"))
    row.get_by_label("Comment").fill(comment)
    row.get_by_role("button", name="Approve").click()


def test_a_problems_fix_goes_through_the_cab_to_a_resolved_problem(page, new_page, cdesk):  # noqa: F811
    # Given a problem whose root cause is known, and a change already scheduled on the
    # desk's service from 10:00 to 12:00
    pdesk = ProblemDesk(
        desk=cdesk.desk, manager=cdesk.problem_manager, change_manager=cdesk.manager
    )
    problem = make_problem(pdesk, "root_cause_known")
    scheduled = make_change(cdesk, "scheduled", title="Patch the relay's host")
    slug = cdesk.tenant.slug

    # When the change manager raises a change for the fix from the problem's page
    login(page, cdesk.manager.username)
    page.goto(f"/t/{slug}/problems/{problem.reference}/")
    page.wait_for_function("window.htmx !== undefined")
    with page.expect_navigation():
        page.get_by_role("link", name="Raise a change for this fix").click()
    assert page.locator("#id_fixes").input_value() == problem.reference
    page.locator("#id_change_type").select_option("normal")
    page.locator("#id_title").fill("Raise the relay's connection pool to 200")
    page.locator("#id_services").select_option(label=cdesk.desk.service.name)
    page.locator("#id_planned_start").fill(_local(STARTS, cdesk))
    page.locator("#id_planned_end").fill(_local(ENDS, cdesk))
    page.locator("#id_implementation_plan").fill("Set the pool size to 200, restart the relay.")
    page.locator("#id_backout_plan").fill("Set the pool size back to 50, restart the relay.")
    with page.expect_navigation():
        page.get_by_role("button", name="Raise change").click()
    page.wait_for_function("window.htmx !== undefined")
    reference = page.locator(".record-header h1").inner_text().split(" ")[0]
    assert reference.startswith("CHG-")
    assert problem.reference in page.locator("#fixes").inner_text()

    # And answers the risk assessment: the resulting risk shows before saving
    risk = page.locator("#risk")
    risk.get_by_label("Impact if it goes wrong").select_option("3")
    risk.get_by_label("Likelihood that it goes wrong").select_option("2")
    risk.get_by_label("Difficulty of backing it out").select_option("1")
    page.locator("#risk-result").get_by_text("High").wait_for()
    risk.get_by_role("button", name="Save the assessment").click()
    page.get_by_text("Risk assessed.").wait_for()

    # And submits it for assessment, then asks for the CAB's approval
    page.locator("#panel-submit summary").click()
    page.locator("#panel-submit button[type=submit]").click()
    page.get_by_text("Submitted for assessment.").wait_for()
    page.locator("#panel-request-approval summary").click()
    page.locator("#panel-request-approval button[type=submit]").click()
    page.get_by_text("Approval requested.").wait_for()
    assert "0 of 2 approvals" in page.locator("#approvals").inner_text()

    # Then a first CAB member approves from their queue: the change still waits
    first = new_page()
    _approve_from_queue(first, cdesk, cdesk.cab[0].username, reference, "Fine by the network team.")
    first.get_by_text(f"Approved {reference}").wait_for()

    # And the second's approval schedules it, warning of the overlapping change
    second = new_page()
    _approve_from_queue(second, cdesk, cdesk.cab[1].username, reference, "Go ahead.")
    second.get_by_text(f"{reference} approved and scheduled").wait_for()
    assert scheduled.reference in second.locator("main").inner_text()
    assert "Nothing awaits your approval." in second.locator("main").inner_text()

    # When the change manager implements it, completes it and closes it as successful
    page.reload()
    page.wait_for_function("window.htmx !== undefined")
    assert "Scheduled" in page.locator(".record-header").inner_text()
    assert scheduled.reference in page.locator("#conflicts").inner_text()
    page.locator("#panel-start summary").click()
    page.locator("#panel-start button[type=submit]").click()
    page.get_by_text("Started.").wait_for()
    page.locator("#panel-complete summary").click()
    page.locator("#panel-complete button[type=submit]").click()
    page.get_by_text("Completed: the change is in review.").wait_for()
    page.locator("#panel-close summary").click()
    page.locator("#panel-close select").select_option("successful")
    page.locator("#panel-close button[type=submit]").click()
    page.get_by_text("Closed.", exact=True).wait_for()
    assert "Closed" in page.locator(".record-header").inner_text()

    # Then the problem shows resolved, with the change that fixed it
    page.goto(f"/t/{slug}/problems/{problem.reference}/")
    page.wait_for_function("window.htmx !== undefined")
    assert "Resolved" in page.locator(".record-header").inner_text()
    page.locator("#changes-problem-changes").get_by_text(reference).wait_for()
