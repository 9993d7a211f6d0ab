"""Screenshots of the workspace for the documentation (docs/screenshots/), at laptop and phone
width: `make screenshots`, which sets ITSM_SCREENSHOTS=docs. Skipped otherwise, so that a test
run never writes into docs/."""

import os

import pytest

from incidents import services
from itsm.tenancy import rls
from tests.e2e.browser import login
from tests.incidents.conftest import make_incident
from tests.markers import e2e
from tests.processes import PROJECT_DIR

pytestmark = e2e

FOLDER = PROJECT_DIR / "docs" / "screenshots"
WIDTHS = {1280: 800, 390: 844}  # width: height of the window


@pytest.fixture
def wanted() -> None:
    if os.environ.get("ITSM_SCREENSHOTS") != "docs":
        pytest.skip("writes docs/screenshots/ only with ITSM_SCREENSHOTS=docs (make screenshots)")


@pytest.fixture
def scene(desk):
    """A morning at the desk: incidents in several states; the agent's record page shows one
    being worked (comment, work note), the requester's one resolved for her to confirm."""
    make_incident(desk, title="Payroll export hangs at 80 %", impact=1, urgency=2)
    worked = make_incident(desk, "in_progress", title="VPN drops every hour", impact=2, urgency=2)
    make_incident(desk, "on_hold", title="Laptop battery swells")
    make_incident(desk, title="Printer on the third floor jams")
    resolved = make_incident(desk, "resolved", title="Outlook cannot reach the mail server")
    notes = [
        (desk.l1_agent, "Which office are you in? It drops for us too at the hour.", True),
        (desk.requester, "Third floor, sales. It cuts out at 10:00, 11:00, ...", True),
        (desk.l1_agent, "Gateway logs show the re-key failing every 3600 s.", False),
    ]
    with rls.tenant_scope(desk.tenant.pk):
        for actor, body, public in notes:
            services.incident_comment(
                tenant=desk.tenant, incident_id=worked.pk, actor=actor, body=body, is_public=public
            )
    return worked, resolved


def _shoot(page, name: str) -> None:
    page.wait_for_function("window.htmx !== undefined")
    page.wait_for_selector("time.sla[data-state], .sla.sla-ok, .sla.sla-breached")
    for width, height in WIDTHS.items():
        page.set_viewport_size({"width": width, "height": height})
        page.screenshot(path=FOLDER / f"{name}-{width}.png", full_page=True, animations="disabled")


def test_the_workspace_for_the_docs(wanted, new_page, desk, scene):
    FOLDER.mkdir(parents=True, exist_ok=True)
    slug = desk.tenant.slug
    worked, resolved = scene

    agent = new_page()
    login(agent, desk.l1_agent.username)
    agent.goto(f"/t/{slug}/incidents/?queue=open")
    _shoot(agent, "queue")
    agent.goto(f"/t/{slug}/incidents/{worked.reference}/")
    _shoot(agent, "record")
    agent.goto(f"/t/{slug}/incidents/new/")
    agent.wait_for_function("window.htmx !== undefined")
    for width, height in WIDTHS.items():
        agent.set_viewport_size({"width": width, "height": height})
        agent.screenshot(path=FOLDER / f"create-{width}.png", full_page=True)

    requester = new_page()
    login(requester, desk.requester.username)
    requester.goto(f"/t/{slug}/incidents/?queue=all-requests")
    _shoot(requester, "my-requests")
    requester.goto(f"/t/{slug}/incidents/{resolved.reference}/")
    _shoot(requester, "request-record")

    names = sorted(path.name for path in FOLDER.glob("*.png"))
    assert len(names) >= 10, names
