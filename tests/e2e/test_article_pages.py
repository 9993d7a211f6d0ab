"""The knowledge base in a real browser, under the product's CSP: an agent writes an article with
the live preview and submits it, an editor publishes it, and a requester finds it among the help
articles and says it helped."""

from itsm.tenancy import rls
from knowledgebase.models import Article
from tests.e2e.browser import login
from tests.markers import e2e

pytestmark = e2e


def _wait_for_htmx(page) -> None:
    page.wait_for_function("window.htmx !== undefined")


def test_an_article_goes_from_draft_to_a_requester_who_found_it_helpful(new_page, desk):
    articles = f"/t/{desk.tenant.slug}/articles/"

    # An agent writes an article; the preview follows the body as it is typed, sanitised
    agent = new_page()
    login(agent, desk.l1_agent.username)
    agent.goto(f"{articles}new/")
    _wait_for_htmx(agent)
    agent.get_by_label("Title").fill("Connect to the VPN")
    agent.get_by_label("Summary").fill("Working from home.")
    agent.locator("#id_body").press_sequentially("Open the **VPN** app. <script>x()</script>")
    agent.locator("#preview strong").filter(has_text="VPN").wait_for()
    assert agent.locator("#preview script").count() == 0
    assert "<script>x()</script>" in agent.locator("#preview").inner_text()
    agent.get_by_label("Audience").select_option("requesters")
    agent.get_by_role("button", name="Save draft").click()
    agent.get_by_text("saved as a draft").wait_for()
    assert agent.get_by_role("heading", level=1).inner_text() == "Connect to the VPN"
    number = agent.url.rstrip("/").rsplit("/", 1)[1]

    # and submits it for review, in place
    agent.evaluate("window.notReloaded = true")
    agent.get_by_role("button", name="Submit for review").click()
    agent.get_by_text("Submitted for review.").wait_for()
    assert agent.evaluate("window.notReloaded") is True

    # An editor (a tenant administrator) publishes it
    editor = new_page()
    login(editor, desk.admin.username)
    editor.goto(f"{articles}{number}/")
    _wait_for_htmx(editor)
    editor.get_by_role("button", name="Publish").click()
    editor.get_by_text("Published.", exact=True).wait_for()

    # A requester finds it under "Help articles" and says it helped
    requester = new_page()
    login(requester, desk.requester.username)
    requester.goto(f"/t/{desk.tenant.slug}/")
    requester.get_by_role("navigation", name="Main").get_by_role(
        "link", name="Help articles"
    ).click()
    requester.get_by_role("searchbox", name="Search", exact=True).fill("vpn")
    requester.get_by_role("button", name="Search", exact=True).click()
    requester.get_by_role("link", name="Connect to the VPN").click()
    _wait_for_htmx(requester)
    requester.get_by_label("Yes").check()
    requester.get_by_label("Comment (optional)").fill("Worked first time.")
    requester.get_by_role("button", name="Send feedback").click()
    requester.get_by_text("Thank you for your feedback.").wait_for()
    assert "1 found it helpful" in requester.locator("#feedback").inner_text()

    with rls.tenant_scope(desk.tenant.pk):
        article = Article.objects.get(title="Connect to the VPN")
    assert article.status == "published"
    assert article.helpful_count == 1
