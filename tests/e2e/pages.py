"""What a customer and an agent do on the pages, and a little of the API to check the outcome."""

from __future__ import annotations

import json
from typing import Any
from urllib.request import Request, urlopen

from playwright.sync_api import Page, expect

STAFF_PASSWORD = "correct horse battery staple"
# role → (email, name); written to the live server's database before it starts.
STAFF = {"agent": ("sam@example.com", "Sam"), "analyst": ("ann@example.com", "Ann")}
PHONE = {"viewport": {"width": 390, "height": 760}, "is_mobile": True, "has_touch": True}


def say(page: Page, text: str) -> None:
    """Send a message and wait until the page shows it (and the bot's reply, if one comes)."""
    page.fill("#text", text)
    page.click("#send")
    expect(page.locator("li.message.customer .bubble").last).to_have_text(text)
    expect(page.locator("#send")).to_be_enabled()


def ask(page: Page, text: str) -> Any:
    """Ask the bot; the locator of its reply (pinned to that message)."""
    replies = page.locator("li.message.bot[data-id]")
    before = replies.count()
    say(page, text)
    expect(replies).to_have_count(before + 1)
    return page.locator(f"li.message[data-id='{replies.last.get_attribute('data-id')}']")


def conversation_of(page: Page) -> dict[str, str]:
    """The customer page's conversation: its id and token."""
    stored: dict[str, str] = page.evaluate("JSON.parse(localStorage.getItem('chatdesk.conversation'))")
    return stored


def sign_in(page: Page, base_url: str, role: str, password: str = STAFF_PASSWORD) -> None:
    page.goto(f"{base_url}/console")
    page.get_by_label("Email").fill(STAFF[role][0])
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def call(base_url: str, method: str, path: str, body: dict[str, Any] | None = None,
         token: str | None = None) -> Any:
    """One API request; its JSON answer."""
    headers = {"Accept": "application/json"}
    if body is not None:
        headers["Content-Type"] = "application/json"
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = json.dumps(body).encode() if body is not None else None
    with urlopen(Request(base_url + path, data=data, headers=headers, method=method), timeout=10) as response:
        return json.loads(response.read() or b"null")


def staff_token(base_url: str, role: str) -> str:
    token: str = call(base_url, "POST", "/api/v1/auth/token",
                      {"email": STAFF[role][0], "password": STAFF_PASSWORD})["access_token"]
    return token
