"""A customer on the chat page, in Chromium, against `chatdesk serve`."""

import re

import pytest

pytestmark = pytest.mark.browser


def send(page, text: str) -> None:  # type: ignore[no-untyped-def]
    page.fill("#text", text)
    page.click("#send")


def test_a_customer_asks_gets_a_cited_answer_then_asks_for_a_person(page, live_server) -> None:  # type: ignore[no-untyped-def]
    page.goto(live_server)
    send(page, "How do I reset my password?")
    reply = page.locator("li.message.bot[data-answered-by]").last
    reply.wait_for()
    assert reply.get_attribute("data-answered-by") == "retrieval"
    link = reply.locator("a.source")
    assert "password" in link.inner_text().lower()
    assert link.get_attribute("href").startswith("/kb/password-reset-and-login-problems")
    assert page.locator("li.message.customer .bubble").last.inner_text() == (
        "How do I reset my password?")

    send(page, "What is the capital of Peru?")
    page.locator("li.message.bot[data-answered-by='fallback']").last.wait_for()
    assert "don't know" in page.locator("li.message.bot").last.inner_text()

    page.click("#human")
    page.locator("li.message.system").last.wait_for()
    assert page.locator("#status").is_visible()
    assert "queue" in page.locator("#status").inner_text()
    assert page.locator("#human").is_disabled()


def test_the_conversation_survives_a_reload(page, live_server) -> None:  # type: ignore[no-untyped-def]
    page.goto(live_server)
    send(page, "Do you deliver to Canada?")
    page.locator("li.message.bot[data-answered-by]").last.wait_for()
    page.reload()
    page.locator("li.message.customer").first.wait_for()
    assert page.locator("li.message.customer .bubble").first.inner_text() == (
        "Do you deliver to Canada?")
    assert page.locator("li.message.bot[data-answered-by]").count() == 1


def test_a_source_link_opens_the_article_at_its_section(page, live_server) -> None:  # type: ignore[no-untyped-def]
    page.goto(live_server)
    send(page, "What does delivery to Australia cost?")
    link = page.locator("li.message.bot a.source").last
    link.wait_for()
    href = link.get_attribute("href")
    page.goto(live_server + href)
    assert re.search(r"delivery", page.title(), re.IGNORECASE)
    anchor = href.split("#", 1)[1] if "#" in href else None
    if anchor:
        assert page.locator(f"[id='{anchor}']").count() == 1


def test_an_error_is_shown_not_swallowed(page, live_server) -> None:  # type: ignore[no-untyped-def]
    page.goto(live_server)
    send(page, "x" * 10)
    page.locator("li.message.bot").nth(1).wait_for()
    page.evaluate("localStorage.setItem('chatdesk.conversation', "
                  "JSON.stringify({id: 'nope', token: 'bad'}))")
    page.reload()
    send(page, "hello")
    page.locator("li.message.customer").first.wait_for()
    assert page.locator("#error").is_hidden()
