"""Agents in the console and customers on the chat page, side by side, against `chatdesk serve`."""

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.pages import PHONE, ask, call, conversation_of, say, sign_in, staff_token

pytestmark = pytest.mark.browser

CORRECT_ANSWER = ("We don't match other shops' prices, but if our own price drops within 7 days "
                  "we refund the difference.")


def test_a_handed_off_customer_is_served_live_by_an_agent(new_page, live_server) -> None:  # type: ignore[no-untyped-def]
    console, chat = new_page(), new_page(**PHONE)

    # The agent is already watching the queue when the customer starts.
    sign_in(console, live_server, "agent")
    expect(console.locator("#whoami")).to_have_text("sam@example.com (agent)")
    expect(console.locator("#live")).to_have_text("Live")

    chat.goto(live_server)
    wrong = ask(chat, "Do you price match Argos?")
    expect(wrong).to_have_attribute("data-answered-by", "retrieval")
    wrong.get_by_role("button", name="Helpful", exact=True).click()
    expect(wrong.get_by_role("button", name="Helpful", exact=True)).to_have_attribute("aria-pressed", "true")
    expect(ask(chat, "What is the capital of Peru?")).to_have_attribute("data-answered-by", "fallback")
    handed = ask(chat, "Who won the football last night?")
    expect(handed.locator(".handoff-notice")).to_be_visible()
    expect(chat.locator("#status")).to_contain_text("in the queue")
    conversation = conversation_of(chat)["id"]

    # It shows up in the queue by itself, with why and how long.
    item = console.locator(f"#queue [data-id='{conversation}']")
    expect(item).to_be_visible()
    expect(item).to_contain_text("The bot didn't know, twice")
    expect(item.locator(".qi-time")).to_contain_text("waiting")
    item.click()
    expect(console.locator("#conversation-status")).to_have_text("Waiting")
    transcript = console.locator("#transcript")
    answer = transcript.locator("li.cmsg.bot").first
    expect(answer.locator(".how")).to_have_text("From the knowledge base")
    expect(answer.locator("a.source")).to_have_attribute("href", re.compile(r"^/kb/price"))
    expect(answer.locator(".rating")).to_have_text("Customer: helpful")
    expect(console.locator("#reply-text")).to_be_disabled()

    console.get_by_role("button", name="Claim").click()
    expect(console.locator("#conversation-status")).to_have_text("With an agent")
    expect(console.locator("#reply-text")).to_be_focused()
    expect(chat.locator("li.message.system").last).to_contain_text("Sam from the")
    expect(chat.locator("#status")).to_contain_text("chatting with a member of our team")

    console.locator("#reply-text").fill("Hi, I'm Sam. Let me check that for you.")
    console.get_by_role("button", name="Send reply").click()
    expect(chat.locator("li.message.agent .bubble")).to_have_text("Hi, I'm Sam. Let me check that for you.")

    say(chat, "Thanks Sam, it was about price matching.")  # no bot reply while a person has it
    expect(transcript.locator("li.cmsg.customer .bubble").last).to_have_text(
        "Thanks Sam, it was about price matching.")
    assert chat.locator("li.message.bot[data-id]").count() == 3

    # The agent corrects the bot's answer to the first question.
    answer.get_by_role("button", name="Correct this answer").click()
    answer.get_by_label("The right answer").fill(CORRECT_ANSWER)
    answer.get_by_label("Other ways customers ask this").fill("do you match competitors' prices\n\n")
    answer.get_by_role("button", name="Save correction").click()
    expect(answer.locator(".saved")).to_have_text("Saved: the bot will give this answer from now on.")
    expect(answer.locator(".corrected")).to_contain_text("curated answer #")
    expect(answer.locator("form")).to_be_hidden()

    console.get_by_role("button", name="Resolve").click()
    expect(console.locator("#conversation-status")).to_have_text("Resolved")
    expect(console.locator("#reply-text")).to_be_disabled()
    for action in ("Claim", "Resolve", "Release to bot"):
        expect(console.get_by_role("button", name=action)).to_be_disabled()
    expect(item).to_be_hidden()  # no longer in the queue

    expect(chat.locator("#status")).to_contain_text("resolved")
    chat.get_by_label("5 out of 5").check()
    chat.get_by_role("button", name="Send rating").click()
    expect(chat.locator("#csat-thanks")).to_be_visible()
    expect(chat.locator("#csat-thanks")).to_be_focused()
    expect(console.locator("dd[data-fact='csat']")).to_have_text("5/5")  # live in the console too

    # Writing again reopens the conversation to the bot, which now gives the corrected answer.
    again = ask(chat, "will you price match argos?")
    expect(again).to_have_attribute("data-answered-by", "curated")
    expect(again.locator(".bubble")).to_have_text(CORRECT_ANSWER)
    expect(chat.locator("#csat")).to_be_hidden()

    agent = staff_token(live_server, "agent")
    stored = call(live_server, "GET", f"/api/v1/inbox/{conversation}", token=agent)
    assert stored["csat_score"] == 5 and stored["status"] == "bot"
    first_reply = next(m for m in stored["messages"] if m["role"] == "bot")
    assert first_reply["feedback"] == "up" and first_reply["corrected_by_answer"]


def test_a_wrong_password_is_refused_with_the_reason(page, live_server) -> None:  # type: ignore[no-untyped-def]
    sign_in(page, live_server, "agent", password="not the password")
    expect(page.locator("#sign-in-error")).to_have_text("Wrong email or password.")
    expect(page.locator("#workspace")).to_be_hidden()
    assert page.evaluate("sessionStorage.getItem('chatdesk.staff')") is None


def test_an_analyst_sees_the_queue_but_cannot_claim(page, live_server) -> None:  # type: ignore[no-untyped-def]
    customer = call(live_server, "POST", "/api/v1/conversations", {})
    call(live_server, "POST", f"/api/v1/conversations/{customer['id']}/handoff", {}, customer["token"])

    sign_in(page, live_server, "analyst")
    expect(page.locator("#whoami")).to_have_text("ann@example.com (analyst · view only)")
    page.locator(f"#queue [data-id='{customer['id']}']").click()
    expect(page.locator("#conversation-status")).to_have_text("Waiting")
    page.get_by_role("button", name="Claim").click()
    expect(page.locator("#conversation-error")).to_have_text(
        "The analyst role may not do this (inbox:write).")
    expect(page.locator("#conversation-status")).to_have_text("Waiting")

    page.get_by_role("button", name="Sign out").click()
    expect(page.locator("#sign-in-message")).to_have_text("You have signed out.")
    expect(page.get_by_label("Email")).to_be_focused()
    assert page.evaluate("sessionStorage.getItem('chatdesk.staff')") is None


def test_a_refused_token_goes_back_to_the_sign_in_form(page, live_server) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{live_server}/console")
    page.evaluate("sessionStorage.setItem('chatdesk.staff', JSON.stringify("
                  "{token: 'not-a-token', role: 'agent', email: 'sam@example.com', "
                  "expiresAt: Date.now() + 60000}))")
    page.reload()
    expect(page.locator("#sign-in-message")).to_have_text(
        "Please sign in again. That is not a valid staff token.")
    expect(page.locator("#workspace")).to_be_hidden()
