"""The harness itself: what would make a browser test pass wrongly must be caught."""

from django.db import connections

from itsm.celery import app
from itsm.tenancy.rls import PLATFORM_DB_ALIAS
from tests.e2e.browser import axe_violations, is_csp_violation
from tests.markers import e2e

pytestmark = e2e

_INLINE = "<!doctype html><html lang='en'><title>t</title><script>document.title='ran'</script>"


def test_an_inline_script_is_refused_and_logged(page, browser_log):
    # Given a page served under the product's policy with a script lacking the nonce
    policy = "script-src 'self'"

    def serve(route):
        headers = {"Content-Security-Policy": policy}
        route.fulfill(body=_INLINE, content_type="text/html", headers=headers)

    page.route("**/inline/", serve)
    page.goto("/inline/")

    # Then the script did not run and the violation is in the log (which would fail the test)
    assert page.title() == "t"
    errors = browser_log.take()
    assert any(is_csp_violation(error) for error in errors), errors


def test_an_uncaught_exception_is_logged(page, browser_log):
    page.goto("/accounts/login/")
    with page.expect_event("pageerror"):
        page.evaluate("setTimeout(() => { throw new Error('boom') }, 0)")
    assert browser_log.take() == ["uncaught Error: boom"]


def test_axe_reports_a_violation(axe_page):
    axe_page.goto("/accounts/login/")
    axe_page.evaluate("document.querySelector('html').removeAttribute('lang')")
    assert [v["id"] for v in axe_violations(axe_page)] == ["html-has-lang"]


def test_the_server_uses_the_test_database_on_both_connections(server):
    # The live server's threads open their own connections from `connections.settings`, not
    # from this thread's connection objects: both aliases must name the test database there.
    name = connections["default"].settings_dict["NAME"]
    assert connections.settings["default"]["NAME"] == name
    assert connections.settings[PLATFORM_DB_ALIAS]["NAME"] == name
    platform, default = connections.settings[PLATFORM_DB_ALIAS], connections.settings["default"]
    assert platform["USER"] != default["USER"]


def test_the_worker_answers(worker):
    replies = app.control.ping(timeout=1) or []
    assert len(replies) == 1, replies
