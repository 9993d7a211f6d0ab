"""A service desk's day in the browser, as its people do it: record a phoned-in incident,
acknowledge, escalate, note, resolve and confirm; collide with a colleague; watch an SLA turn
amber; work a queue by keyboard alone; and do it all on a phone.

Services only set the scene (the desk, an incident already there); what a scenario is about is
done with clicks, keys and typing in the pages.
"""

import re
import time
from datetime import timedelta

import pytest
from playwright.sync_api import Locator, Page, expect

from incidents.models import Incident, IncidentEvent, SlaPolicy
from itsm.tenancy import rls
from itsm.tenancy.choices import MembershipRole
from itsm.timers.tasks import sweep_timers_task
from tests.e2e.browser import login
from tests.factories import PASSWORD
from tests.incidents.conftest import make_incident
from tests.markers import e2e
from tests.processes import wait_until
from tests.test_tenant_pages import PAGES, page_url

pytestmark = e2e


# --- What the tests share ----------------------------------------------------------------------


def _queue(page: Page, desk, queue: str = "") -> None:
    page.goto(f"/t/{desk.tenant.slug}/incidents/" + (f"?queue={queue}" if queue else ""))
    page.wait_for_selector("[data-queue]")


def _record_url(desk, incident) -> str:
    return f"/t/{desk.tenant.slug}/incidents/{incident.reference}/"


def _ready(page: Page) -> None:
    """htmx and app.js (both deferred) have run: the countdowns have ticked once."""
    page.wait_for_function("window.htmx !== undefined")
    page.wait_for_selector("time.sla[data-state], .sla.sla-ok, .sla.sla-breached")


def _status(page: Page) -> str:
    return page.locator(".record-header .status").inner_text()


def _panel(page: Page, label: str) -> Locator:
    """An action's disclosure (its <summary> is the action's name)."""
    summary = page.locator("summary").filter(has_text=re.compile(f"^{re.escape(label)}$"))
    return page.locator("details").filter(has=summary)


def _open_panel(page: Page, label: str) -> Locator:
    panel = _panel(page, label)
    if panel.get_attribute("open") is None:
        panel.locator("summary").click()
    return panel


def _timeline(page: Page) -> str:
    return page.get_by_role("region", name="Timeline", exact=True).inner_text()


def _incident(desk, **filters) -> Incident:
    with rls.tenant_scope(desk.tenant.pk):
        return Incident.objects.get(**filters)


# --- 1. From the phone call to the caller's confirmation -------------------------------------


def test_a_phoned_in_incident_from_record_to_confirmation(new_page, desk):
    # An L1 agent takes a call from the requester and records it
    lena = new_page()
    login(lena, desk.l1_agent.username)
    lena.goto(f"/t/{desk.tenant.slug}/incidents/new/")
    lena.get_by_label("Caller").select_option(label=desk.requester.username)
    lena.get_by_label("Title").fill("Outlook cannot reach the mail server")
    lena.get_by_label("Description").fill("Since 9:00, on the caller's laptop and phone.")
    lena.get_by_label("Service").select_option(label=desk.service.name)
    lena.get_by_label("Impact").select_option("2")
    lena.get_by_label("Urgency").select_option("2")
    lena.get_by_label("Detected through").select_option(label="Phone")
    lena.get_by_label("Team").select_option(label=desk.l1.name)  # she works it first
    with lena.expect_navigation():
        lena.get_by_role("button", name="Record incident").click()

    # and lands on its record page, new, with what she typed
    incident = _incident(desk, title="Outlook cannot reach the mail server")
    assert lena.url.endswith(_record_url(desk, incident))
    _ready(lena)
    assert f"{incident.reference} recorded" in lena.locator("body").inner_text()
    assert _status(lena) == "New"
    details = lena.get_by_role("region", name="Details", exact=True).inner_text()
    assert desk.requester.username in details
    assert "Phone" in details
    assert desk.service.name in details

    # She acknowledges it
    lena.get_by_role("button", name="Acknowledge").click()
    lena.get_by_text("Acknowledged.").wait_for()
    assert _status(lena) == "In progress"

    # and escalates it to L2 with a reason
    escalate = _open_panel(lena, "Escalate")
    escalate.get_by_label("Why").fill("Mailbox server side: needs L2 access.")
    escalate.get_by_role("button", name="Escalate").click()
    lena.get_by_text("Escalated.").wait_for()
    assert f"escalated it to {desk.l2.name}" in _timeline(lena)
    assert desk.l2.name in lena.get_by_role("region", name="Details", exact=True).inner_text()

    # An L2 agent finds it in "My teams" and opens it
    leo = new_page()
    login(leo, desk.l2_agent.username)
    _queue(leo, desk)
    leo.get_by_role("link", name="My teams").click()
    leo.wait_for_url("**?queue=teams")
    row = leo.locator("[data-queue] tr[data-href]").filter(has_text=incident.reference)
    expect(row).to_have_count(1)
    assert "In progress" in row.inner_text()
    row.get_by_role("link", name=incident.reference).click()
    leo.wait_for_url(f"**{_record_url(desk, incident)}")
    _ready(leo)
    assert _status(leo) == "In progress"

    # adds a work note
    note = _open_panel(leo, "Add work note")
    note.get_by_label("Work note").fill("Mailbox database was dismounted; remounted it.")
    note.get_by_role("button", name="Add work note").click()
    leo.get_by_text("Work note added.").wait_for()
    assert "Mailbox database was dismounted" in _timeline(leo)

    # and resolves it with a code and notes for the caller
    resolve = _open_panel(leo, "Resolve")
    resolve.get_by_label("Resolution code").select_option(label="Fixed")
    resolve.get_by_label("Resolution notes").fill("The mail server is reachable again.")
    resolve.get_by_role("button", name="Resolve").click()
    leo.get_by_text("Resolved.").wait_for()
    assert _status(leo) == "Resolved"

    # The requester sees it among her requests
    rita = new_page()
    login(rita, desk.requester.username)
    rita.goto(f"/t/{desk.tenant.slug}/")
    rita.get_by_role("link", name="My requests").first.click()
    rita.wait_for_selector("[data-queue]")
    assert rita.get_by_role("heading", level=1).inner_text() == "My requests"
    # her first tab holds what waits for her: the resolved incident to confirm
    row = rita.locator("[data-queue] tr[data-href]").filter(has_text=incident.reference)
    assert "Resolved" in row.inner_text()
    row.get_by_role("link", name=incident.reference).click()
    rita.wait_for_url(f"**{_record_url(desk, incident)}")
    _ready(rita)

    # with the resolution, and without the work note
    assert _status(rita) == "Resolved"
    page_text = rita.locator("main").inner_text()
    assert "The mail server is reachable again." in page_text
    assert "Fixed" in rita.get_by_role("region", name="Details", exact=True).inner_text()
    assert "Mailbox database was dismounted" not in rita.content()
    assert "work note" not in page_text.lower()

    # and confirms it
    close = _open_panel(rita, "Confirm the resolution and close")
    close.get_by_role("button", name="Confirm the resolution and close").click()
    rita.get_by_text("Closed.").wait_for()
    assert _status(rita) == "Closed"
    assert _incident(desk, pk=incident.pk).status == "closed"


# --- 2. Two agents, one incident -------------------------------------------------------------


def test_a_stale_page_is_told_who_changed_what_and_keeps_the_input(new_page, desk, browser_log):
    browser_log.allow(r"status of 409")
    incident = make_incident(desk, "in_progress", title="VPN drops every hour")
    leo, lena = new_page(), new_page()
    login(leo, desk.l2_agent.username)
    login(lena, desk.l1_agent.username)
    for page in (leo, lena):
        page.goto(_record_url(desk, incident))
        _ready(page)

    # The first raises the priority
    change = _open_panel(leo, "Change priority")
    change.get_by_label("Impact").select_option("1")
    change.get_by_label("Urgency").select_option("1")
    change.get_by_label("Reason").fill("The whole sales floor is affected.")
    change.get_by_role("button", name="Change priority").click()
    leo.get_by_text("Priority changed.").wait_for()

    # The second, on the page read before, puts it on hold with a note
    hold = _open_panel(lena, "Put on hold")
    hold.get_by_label("Waiting for").select_option("awaiting_vendor")
    hold.get_by_label("Note").fill("Ticket 4711 opened with the VPN vendor.")
    hold.get_by_role("button", name="Put on hold").click()

    # and is told who changed what, with nothing of hers saved
    lena.get_by_text("was changed by leo-l2 while you were working on it").wait_for()
    changes = lena.get_by_role("region", name="Changed meanwhile").inner_text()
    assert "leo-l2" in changes
    assert "changed the priority from SEV4 to SEV1" in changes
    assert _status(lena) == "In progress"
    assert "SEV1" in lena.locator(".record-header").inner_text()

    # her typed text is still in the form, ready to send again
    hold = _panel(lena, "Put on hold")
    assert hold.get_by_label("Note").input_value() == "Ticket 4711 opened with the VPN vendor."
    assert hold.get_by_label("Waiting for").input_value() == "awaiting_vendor"

    # and the first agent's change stands
    current = _incident(desk, pk=incident.pk)
    assert (current.priority, current.impact, current.urgency) == (1, 1, 1)
    assert current.status == "in_progress"
    with rls.tenant_scope(desk.tenant.pk):
        kinds = list(IncidentEvent.objects.filter(incident=incident).values_list("kind", "body"))
    assert not [body for _kind, body in kinds if "4711" in (body or "")]


# --- 3. The countdown turns amber when the warning fires ------------------------------------

TARGET = timedelta(seconds=40)
WARNING = 25  # percent: the first warning fires 10 s after the incident is recorded


def test_the_countdown_turns_amber_when_the_warning_fires(page, desk, worker):
    # Given a policy whose response target is 40 s with a warning at 25 %, on no calendar (24×7)
    policy = SlaPolicy(
        tenant=desk.tenant,
        name="Fast lane",
        slug="fast-lane",
        order=1,
        response_target=TARGET,
        resolution_target=timedelta(hours=8),
        warning_thresholds=[WARNING],
    )
    with rls.tenant_scope(desk.tenant.pk):
        policy.full_clean()  # what the admin would accept
        policy.save()
    login(page, desk.l1_agent.username)

    # and an incident just recorded under it, in the queue open in the browser
    incident = make_incident(desk, title="Payroll export hangs")
    recorded = time.monotonic()
    _queue(page, desk, "teams")
    countdown = page.locator("[data-queue] tr[data-href]").filter(has_text=incident.reference)
    countdown = countdown.locator("time.sla")
    expect(countdown).to_have_attribute("data-state", "ok")
    assert "sla-ok" in (countdown.get_attribute("class") or "")
    assert time.monotonic() - recorded < TARGET.total_seconds() * WARNING / 100, "too slow"

    # When the warning time passes, the page turns it amber by itself
    expect(countdown).to_have_class(re.compile(r"\bsla-warning\b"), timeout=15_000)
    assert countdown.get_attribute("data-state") == "warning"

    # and the sweep, on the real worker, records the warning in the incident's timeline
    sweep_timers_task.delay()

    def warned() -> bool:
        with rls.tenant_scope(desk.tenant.pk):
            return IncidentEvent.objects.filter(incident=incident, kind="sla").exists()

    wait_until(warned, 20, "the warning is recorded", worker)
    page.goto(_record_url(desk, incident))
    _ready(page)
    assert f"Response SLA at {WARNING} % of its target" in _timeline(page)
    assert "System" in _timeline(page)


# --- 4. Keyboard only ------------------------------------------------------------------------


def _login_by_keyboard(page: Page, username: str) -> None:
    page.goto("/accounts/login/")
    page.get_by_label("Username").focus()
    page.keyboard.type(username)
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert "/accounts/login/" not in page.url


def test_an_agent_works_the_queue_by_keyboard_alone(page, desk):
    incident = make_incident(desk, title="Badge reader at the side door is dead")
    _login_by_keyboard(page, desk.l1_agent.username)
    _queue(page, desk, "teams")
    _ready(page)

    # j selects the first row, Enter opens it
    page.keyboard.press("j")
    first = page.locator("[data-queue] tr[data-href]").first
    expect(first).to_have_class(re.compile(r"\bis-selected\b"))
    assert incident.reference in first.inner_text()
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.url.endswith(_record_url(desk, incident))
    _ready(page)
    assert _status(page) == "New"

    # a acknowledges
    page.keyboard.press("a")
    page.get_by_text("Acknowledged.").wait_for()
    assert _status(page) == "In progress"

    # c goes to the comment box; Tab reaches its button, Enter sends it
    page.keyboard.press("c")
    box = page.get_by_label(re.compile(r"^Comment:?$"))
    expect(box).to_be_focused()
    page.keyboard.type("Facilities are on their way with a spare reader.")
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Comment", exact=True)).to_be_focused()
    page.keyboard.press("Enter")
    page.get_by_text("Comment added.").wait_for()
    assert "Facilities are on their way with a spare reader." in _timeline(page)

    # ? lists the shortcuts
    page.keyboard.press("Escape")
    page.keyboard.press("?")
    dialog = page.get_by_role("dialog", name="Keyboard shortcuts")
    expect(dialog).to_be_visible()
    assert "Acknowledge" in dialog.inner_text()
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()


# --- 6. On a phone ---------------------------------------------------------------------------

PHONE = {"width": 390, "height": 844}


def _scroll_width(page: Page) -> int:
    return int(page.evaluate("document.documentElement.scrollWidth"))


def test_on_a_phone_the_queue_is_cards_and_the_actions_are_reachable(page, desk):
    incidents = [
        make_incident(desk, title="The conference room display shows no picture at all"),
        make_incident(desk, "in_progress", title="Printer on the third floor jams"),
    ]
    page.set_viewport_size(PHONE)
    login(page, desk.l1_agent.username)

    # The queue: one card per incident, nothing wider than the screen
    _queue(page, desk, "teams")
    _ready(page)
    assert _scroll_width(page) <= PHONE["width"]
    rows = page.locator("[data-queue] tr[data-href]")
    expect(rows).to_have_count(2)
    assert rows.first.evaluate("row => getComputedStyle(row).display") == "block"
    assert page.locator("[data-queue] thead").evaluate("h => h.getBoundingClientRect().width") <= 1
    status = rows.filter(has_text=incidents[0].reference).locator('td[data-label="Status"]')
    assert status.inner_text() == "New"
    label = "cell => getComputedStyle(cell, '::before').content"
    assert status.evaluate(label) == '"Status: "'  # each cell says what it is

    # The record page: nothing wider either, and its actions within reach of a thumb
    page.goto(_record_url(desk, incidents[0]))
    _ready(page)
    assert _scroll_width(page) <= PHONE["width"]
    acknowledge = page.get_by_role("button", name="Acknowledge")
    acknowledge.scroll_into_view_if_needed()
    expect(acknowledge).to_be_in_viewport()
    acknowledge.click()
    page.get_by_text("Acknowledged.").wait_for()
    assert _status(page) == "In progress"

    resolve = _open_panel(page, "Resolve")
    resolve.get_by_label("Resolution code").select_option(label="Workaround applied")
    resolve.get_by_label("Resolution notes").fill("Swapped the HDMI cable.")
    button = resolve.get_by_role("button", name="Resolve")
    button.scroll_into_view_if_needed()
    expect(button).to_be_in_viewport()
    button.click()
    page.get_by_text("Resolved.").wait_for()
    assert _status(page) == "Resolved"
    assert _scroll_width(page) <= PHONE["width"]


@pytest.mark.parametrize("role", [MembershipRole.AGENT, MembershipRole.REQUESTER])
def test_no_page_is_wider_than_a_phone(page, desk, role):
    # Given an agent or a requester, with incidents about, on a phone
    user = desk.l1_agent if role == MembershipRole.AGENT else desk.requester
    make_incident(desk, "in_progress", title="The conference room display shows no picture")
    page.set_viewport_size(PHONE)
    login(page, user.username)

    # When they open each page their role may see (the sweep of tests/test_tenant_pages.py)
    shown = [p for p in PAGES if p.method == "get" and role in p.roles]
    assert len(shown) >= 5, shown
    wider = {}
    for each in shown:
        response = page.goto(page_url(each, desk.tenant, user))
        assert response is not None
        assert response.status == 200, each.name
        if _scroll_width(page) > PHONE["width"]:
            wider[page.url] = _scroll_width(page)

    # Then none scrolls sideways
    assert not wider, f"wider than {PHONE['width']} px: {wider}"
