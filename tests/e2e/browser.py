"""What the browser tests share besides fixtures: Chromium's launch, the console log that fails a
test, logging in through the form, and axe-core's scan."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from playwright.sync_api import ConsoleMessage, Error, Page

from tests.factories import PASSWORD

# Debian's Chromium (`make browser` installs it); Playwright never downloads a browser here.
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]

AXE_SCRIPT = Path(__file__).parent / "vendor" / "axe.min.js"
# What a test waits for at most (ms): the live server answers in well under a second.
TIMEOUT_MS = 10_000


@dataclass
class BrowserLog:
    """The page's console errors and uncaught exceptions; a test fails on any it did not expect.

    A Content-Security-Policy violation reaches the console as an error ("Refused to ..."), so
    an inline script or style without the nonce fails the test that loaded it.
    """

    errors: list[str] = field(default_factory=list)
    allowed: list[re.Pattern[str]] = field(default_factory=list)

    def listen(self, page: Page) -> None:
        page.on("console", self._console)
        page.on("pageerror", self._page_error)

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            location = message.location
            where = f" ({location['url']}:{location['lineNumber']})" if location.get("url") else ""
            self.errors.append(f"console error: {message.text}{where}")

    def _page_error(self, error: Error) -> None:
        self.errors.append(f"uncaught {error.name}: {error.message}")

    def allow(self, pattern: str) -> None:
        """Expect errors matching `pattern` (a regular expression), e.g. the 404 of a page that
        the test means to be missing."""
        self.allowed.append(re.compile(pattern))

    def unexpected(self) -> list[str]:
        return [e for e in self.errors if not any(p.search(e) for p in self.allowed)]

    def take(self) -> list[str]:
        """The errors so far, forgetting them (for tests that provoke errors on purpose)."""
        taken, self.errors = self.errors, []
        return taken


def is_csp_violation(error: str) -> bool:
    return "Content Security Policy" in error


def login(page: Page, username: str, password: str = PASSWORD) -> None:
    """Log in through the real login form, as a person would, and land on the next page."""
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    with page.expect_navigation():
        page.get_by_role("button", name="Log in").click()
    if "/accounts/login/" in page.url:
        raise AssertionError(f"{username} could not log in: {page.locator('main').inner_text()}")


def axe_violations(
    page: Page, impacts: tuple[str, ...] = ("serious", "critical"), **options: Any
) -> list[dict[str, Any]]:
    """axe-core's violations on the current page with one of `impacts`.

    The page must come from the `axe_page` fixture: injecting the script needs a context that
    bypasses the page's Content-Security-Policy. `options` go to `axe.run` as they are
    (for example `runOnly`).
    """
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=AXE_SCRIPT)
    results: dict[str, Any] = page.evaluate(
        "options => window.axe.run(document, options)", {"resultTypes": ["violations"], **options}
    )
    return [v for v in results["violations"] if v["impact"] in impacts]


def describe(violations: list[dict[str, Any]]) -> str:
    """One readable block per violation: rule, impact, help and the offending elements."""
    lines = []
    for violation in violations:
        lines.append(f"{violation['id']} ({violation['impact']}): {violation['help']}")
        lines.extend(
            f"    {' '.join(node['target'])}: {node['failureSummary'].splitlines()[-1].strip()}"
            for node in violation["nodes"]
        )
    return "\n".join(lines)
