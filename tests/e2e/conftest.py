"""Browser tests: Debian's Chromium, driven by Playwright, against a live server on the test
database.

- `page` is a fresh browser context on the live server (relative URLs work: `page.goto("/")`),
  with the product's Content-Security-Policy in force; `axe_page` bypasses the policy so that
  axe-core can be injected; `new_page()` opens more (a second user, say).
- Any console error or uncaught exception on any of a test's pages fails the test, so a CSP
  violation or a broken script cannot pass unnoticed; `browser_log.allow(regex)` expects one.
- A failed test leaves a full-page screenshot in var/e2e/<test name>.png.
- `worker` is a real Celery worker on the test database and broker, for scenarios that need
  their tasks to run.

Every module marks its tests with `tests.markers.e2e` (the fixtures check it).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from contextlib import suppress
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Error, Page, sync_playwright

from itsm.celery import app
from tests.e2e.browser import CHROMIUM, CHROMIUM_ARGS, TIMEOUT_MS, BrowserLog
from tests.incidents.conftest import desk  # noqa: F401 - the support organisation fixture
from tests.processes import PROJECT_DIR, ChildProcess, celery_worker, child_process_env, wait_until

SCREENSHOTS = PROJECT_DIR / "var" / "e2e"

_LOG = pytest.StashKey[BrowserLog]()
_PAGES = pytest.StashKey[list[Page]]()
_CALL_REPORT = pytest.StashKey[pytest.TestReport]()


def _screenshot_paths(item: pytest.Item, count: int) -> list[Path]:
    name = re.sub(r"[^\w.-]+", "_", item.name).strip("_")
    return [SCREENSHOTS / f"{name}{'' if i == 0 else f'-{i + 1}'}.png" for i in range(count)]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Keep the call's report on the item for the page fixture, and fail a test whose pages
    logged errors it did not expect."""
    report: pytest.TestReport = yield
    if report.when != "call" or _LOG not in item.stash:
        return report
    log, pages = item.stash[_LOG], item.stash[_PAGES]
    for page in pages:
        # A round trip, so that console events sent before it have arrived; a closed or
        # crashed page has nothing more to say.
        with suppress(Error):
            page.evaluate("0")
    unexpected = log.unexpected()
    if unexpected:
        report.sections.append(("browser console", "\n".join(unexpected)))
        if report.passed:
            report.outcome = "failed"
            report.longrepr = "The page logged errors the test did not expect:\n" + "\n".join(
                unexpected
            )
    if report.failed and pages:
        paths = _screenshot_paths(item, len(pages))
        report.sections.append(("screenshots", "\n".join(str(path) for path in paths)))
    item.stash[_CALL_REPORT] = report
    return report


@pytest.fixture
def server(live_server: Any, request: pytest.FixtureRequest) -> str:
    """The live server's address (http://localhost:<port>), for tests marked `e2e`.

    Its threads open their own connections from the database settings, which the test setup
    has pointed at the test database, the platform alias included (a test mirror).
    """
    if request.node.get_closest_marker("e2e") is None:
        pytest.fail("browser tests carry `pytestmark = e2e` (tests.markers)")
    return str(live_server.url)


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    """One Chromium for the browser tests (about half a second to start), closed after them.

    Playwright's synchronous API keeps its event loop marked as running in the test's thread
    while it is open, which Django takes for async code and refuses database access from; the
    test's thread runs no async code, so the guard is lifted for that time only, and Playwright
    is closed before the rest of the suite runs (package scope).
    """
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} is missing: `make browser` installs Debian's chromium")
    with pytest.MonkeyPatch.context() as patch, sync_playwright() as playwright:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def browser_log(request: pytest.FixtureRequest) -> BrowserLog:
    """The console errors of the test's pages; `.allow(regex)` for the ones it expects."""
    log = BrowserLog()
    request.node.stash[_LOG] = log
    request.node.stash[_PAGES] = []
    return log


@pytest.fixture
def new_page(
    browser: Browser, server: str, browser_log: BrowserLog, request: pytest.FixtureRequest
) -> Iterator[Callable[..., Page]]:
    """new_page(bypass_csp=False) -> a page in a context of its own (its own cookies)."""
    contexts = []
    pages = request.node.stash[_PAGES]
    for stale in _screenshot_paths(request.node, 5):
        stale.unlink(missing_ok=True)

    def open_page(*, bypass_csp: bool = False) -> Page:
        context = browser.new_context(base_url=server, bypass_csp=bypass_csp)
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        page = context.new_page()
        browser_log.listen(page)
        pages.append(page)
        return page

    yield open_page
    for page in pages:
        # Cards load after their page (htmx): let their requests end before the test database
        # is flushed, or a request still reading deadlocks the flush's TRUNCATE.
        with suppress(Error):
            page.wait_for_load_state("networkidle", timeout=5000)
    report = request.node.stash.get(_CALL_REPORT, None)
    try:
        if report is not None and report.failed:
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            for page, path in zip(pages, _screenshot_paths(request.node, len(pages)), strict=True):
                try:
                    page.screenshot(path=path, full_page=True)
                except Error as error:  # a crashed page: the report says why already
                    print(f"no screenshot of {page.url}: {error}")  # noqa: T201
    finally:
        for context in contexts:
            context.close()


@pytest.fixture
def page(new_page: Callable[..., Page]) -> Page:
    """A page with the product's Content-Security-Policy in force."""
    return new_page()


@pytest.fixture
def axe_page(new_page: Callable[..., Page]) -> Page:
    """A page whose context bypasses the Content-Security-Policy, so that `axe_violations`
    can inject axe-core; use `page` for everything else."""
    return new_page(bypass_csp=True)


@pytest.fixture
def worker(tmp_path: Path) -> Iterator[ChildProcess]:
    """A real Celery worker on the test database and broker, answering before the test starts;
    the broker is emptied before and after."""
    app.control.purge()
    env = child_process_env()
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)  # the browser's need (see `browser`), not its
    process = celery_worker(env, tmp_path / "worker.log")
    try:
        wait_until(lambda: bool(app.control.ping(timeout=0.5)), 60, "the worker answers", process)
        yield process
    finally:
        process.stop()
        app.control.purge()
