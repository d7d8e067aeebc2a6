"""A customer on the chat page, in Chromium, against `chatdesk serve`."""

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.pages import PHONE, ask, call, conversation_of, staff_token

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


def test_thumbs_are_stored_and_two_thumbs_down_bring_a_person(new_page, live_server) -> None:  # type: ignore[no-untyped-def]
    page = new_page(**PHONE)
    page.goto(live_server)
    first = ask(page, "How do I reset my password?")
    up = first.get_by_role("button", name="Helpful", exact=True)
    down = first.get_by_role("button", name="Not helpful", exact=True)
    up.click()
    expect(up).to_have_attribute("aria-pressed", "true")
    down.click()  # changed their mind
    expect(down).to_have_attribute("aria-pressed", "true")
    expect(up).to_have_attribute("aria-pressed", "false")

    second = ask(page, "Can I pay with PayPal?")
    second.get_by_role("button", name="Not helpful", exact=True).click()
    # The second thumbs-down in a row hands off: the page shows it from the feedback response.
    expect(page.locator("li.message.system").last).to_contain_text("didn't help")
    expect(page.locator("#status")).to_contain_text("queue")
    expect(page.locator("#human")).to_be_disabled()

    page.reload()  # the choices survive a reload
    expect(page.locator("li.message.bot[data-id]").first.get_by_role(
        "button", name="Not helpful", exact=True)).to_have_attribute("aria-pressed", "true")

    conversation = conversation_of(page)
    stored = call(live_server, "GET", f"/api/v1/inbox/{conversation['id']}",
                  token=staff_token(live_server, "agent"))
    assert stored["handoff_reason"] == "negative_feedback"
    assert [m["feedback"] for m in stored["messages"] if m["role"] == "bot"] == ["down", "down"]
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_after_hours_the_customer_can_leave_an_email(new_page, after_hours_server) -> None:  # type: ignore[no-untyped-def]
    page = new_page(**PHONE)
    page.goto(after_hours_server)
    page.get_by_role("button", name="Talk to a person").click()
    expect(page.locator("li.message.system").last).to_contain_text("leave your address")
    email = page.get_by_label("your email address")
    expect(email).to_be_visible()

    email.fill("not an email")
    page.locator("#contact-send").click()
    expect(page.locator("#contact-error")).to_contain_text("is not an email address")
    expect(email).to_have_attribute("aria-invalid", "true")
    expect(email).to_be_focused()

    email.fill("kim@example.com")
    page.locator("#contact-send").click()
    expect(page.locator("li.message.system").last).to_have_text("Thanks, we'll reply to kim@example.com too.")
    expect(page.locator("#contact")).to_be_hidden()
    page.reload()
    expect(page.locator("li.message.system").last).to_contain_text("kim@example.com")
    expect(page.locator("#contact")).to_be_hidden()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
