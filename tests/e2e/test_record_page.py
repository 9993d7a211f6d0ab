"""The incident record page in a real browser: htmx actions in place, shortcuts, the timeline
filter, a conflict shown in place, and the live SLA countdown, all under the product's CSP."""

from incidents import services
from itsm.tenancy import rls
from tests.e2e.browser import login
from tests.incidents.conftest import make_incident
from tests.markers import e2e

pytestmark = e2e


def _open(page, desk, incident):
    page.goto(f"/t/{desk.tenant.slug}/incidents/{incident.reference}/")
    # htmx and app.js are loaded (deferred) and the countdown has ticked
    page.wait_for_function("window.htmx !== undefined")
    page.wait_for_selector("time.sla[data-state]")


def test_an_agent_acknowledges_comments_and_filters_without_reloading(page, desk):
    incident = make_incident(desk)
    login(page, desk.l1_agent.username)
    _open(page, desk, incident)
    page.evaluate("window.notReloaded = true")

    # "a" acknowledges in place
    page.keyboard.press("a")
    page.get_by_text("Acknowledged.").wait_for()
    assert "lena-l1 acknowledged it" in page.locator("#timeline").inner_text()

    # "c" opens the comment form; the comment appears in the timeline
    page.keyboard.press("c")
    page.keyboard.type("Restarting the relay.")
    page.get_by_role("button", name="Comment", exact=True).click()
    page.get_by_text("Comment added.").wait_for()
    assert "Restarting the relay." in page.locator("#timeline").inner_text()

    # the filter swaps only the timeline, and the address follows
    page.locator("#timeline").get_by_role("link", name="Events").click()
    page.wait_for_url("**?kind=events")
    timeline = page.locator("#timeline").inner_text()
    assert "acknowledged it" in timeline
    assert "Restarting the relay." not in timeline
    assert page.evaluate("window.notReloaded") is True


def test_a_conflict_is_shown_in_place_with_the_input_kept(page, desk, browser_log):
    browser_log.allow(r"status of 409")
    incident = make_incident(desk, "in_progress")
    login(page, desk.l1_agent.username)
    _open(page, desk, incident)

    # Another agent puts it on hold while this one types a resolution
    with rls.tenant_scope(desk.tenant.pk):
        services.incident_hold(
            tenant=desk.tenant,
            incident_id=incident.pk,
            actor=desk.l2_agent,
            hold_reason="awaiting_vendor",
        )
    page.locator("#panel-resolve summary").click()
    page.get_by_label("Resolution notes").fill("Replaced the relay.")
    page.locator("#panel-resolve").get_by_role("button", name="Resolve").click()

    notice = page.get_by_text("was changed by leo-l2 while you were working on it")
    notice.wait_for()
    assert page.get_by_label("Resolution notes").input_value() == "Replaced the relay."
    assert "put it on hold: awaiting vendor" in page.locator(".conflict").inner_text()


def test_the_priority_preview_follows_the_matrix(page, desk):
    incident = make_incident(desk, "in_progress")
    login(page, desk.l1_agent.username)
    _open(page, desk, incident)
    page.locator("#panel-change-priority summary").click()
    page.locator("#change-priority-impact").select_option("1")
    page.locator("#change-priority-urgency").select_option("1")
    assert page.locator("output[data-priority-preview]").inner_text() == "SEV1"


def test_a_paused_clock_shows_what_is_left(page, desk):
    # Given an incident waiting for its caller (the default policy pauses for that)
    incident = make_incident(desk, "on_hold")
    login(page, desk.l1_agent.username)
    page.goto(f"/t/{desk.tenant.slug}/incidents/{incident.reference}/")

    # Then its resolution clock stands still with the five days (SEV4) it has left
    paused = page.locator("time.sla-paused .sla-text")
    paused.filter(has_text="left").wait_for()
    assert paused.inner_text() in {"paused, 5d 0h left", "paused, 4d 23h left"}
    assert "met" in page.locator(".clocks").inner_text()  # the response clock
