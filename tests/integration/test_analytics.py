"""The analytics summary on constructed data, against numbers worked out by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask

from chatdesk.extensions import db
from chatdesk.store.models import Conversation, Handoff, Message

T0 = datetime(2026, 10, 5, 9, 0, tzinfo=UTC)


def conversation(cid: str, at: datetime, **fields: object) -> Conversation:
    item = Conversation(id=cid, token_hash="x" * 64, created_at=at, **fields)
    db.session.add(item)
    return item


def message(cid: str, role: str, text: str, at: datetime, **fields: object) -> Message:
    item = Message(conversation_id=cid, role=role, text=text, created_at=at, **fields)
    db.session.add(item)
    db.session.flush()
    return item


def exchange(cid: str, question: str, at: datetime, answered_by: str, **reply: object) -> Message:
    asked = message(cid, "customer", question, at)
    return message(cid, "bot", f"reply to {question}", at + timedelta(seconds=1),
                   answered_by=answered_by, reply_to_id=asked.id, **reply)


@pytest.fixture
def constructed(empty_app: Flask) -> Flask:
    with empty_app.app_context():
        # 1: the bot answered; a thumbs-up. Contained.
        conversation("c1", T0)
        exchange("c1", "where is my parcel", T0, "retrieval", intent="track_order", feedback_rating="up")
        # 2: two fallbacks, handed off, an agent replied after 120 s; CSAT 4.
        conversation("c2", T0 + timedelta(hours=1), csat_score=4, status="resolved")
        exchange("c2", "What is the capital of Peru?", T0 + timedelta(hours=1), "fallback")
        exchange("c2", "what is the capital of peru", T0 + timedelta(hours=1, minutes=1), "fallback")
        db.session.add(Handoff(conversation_id="c2", reason="fallback_streak",
                               created_at=T0 + timedelta(hours=1, minutes=1)))
        message("c2", "agent", "Lima!", T0 + timedelta(hours=1, minutes=3))
        # 3: asked for a person; agent after 300 s; a thumbs-down; CSAT 2; an intent twice.
        conversation("c3", T0 + timedelta(days=1), csat_score=2)
        exchange("c3", "refund please", T0 + timedelta(days=1), "retrieval", intent="refund_status",
                 feedback_rating="down")
        exchange("c3", "still no refund", T0 + timedelta(days=1, seconds=30), "retrieval",
                 intent="refund_status")
        db.session.add(Handoff(conversation_id="c3", reason="customer_request",
                               created_at=T0 + timedelta(days=1, minutes=1)))
        message("c3", "agent", "Looking now", T0 + timedelta(days=1, minutes=6))
        message("c3", "agent", "Refunded", T0 + timedelta(days=1, minutes=9))
        # 4: before the window.  5: no customer message at all.
        conversation("c4", T0 - timedelta(days=10))
        exchange("c4", "old question", T0 - timedelta(days=10), "fallback")
        conversation("c5", T0 + timedelta(hours=2))
        db.session.commit()
    return empty_app


def test_summary_on_constructed_data(constructed: Flask) -> None:
    from tests.conftest import StaffAuth

    analyst = StaffAuth(constructed).headers("analyst")
    response = constructed.test_client().get(
        "/api/v1/analytics/summary?since=2026-10-01T00:00:00Z&until=2026-11-01T00:00:00Z",
        headers=analyst)
    assert response.status_code == 200, response.get_json()
    summary = response.get_json()
    assert summary["conversations"] == 3
    assert summary["containment_rate"] == pytest.approx(1 / 3, abs=1e-4)
    assert summary["handoff_rate"] == pytest.approx(2 / 3, abs=1e-4)
    assert summary["handoffs"] == 2
    assert summary["handoff_reasons"] == {"fallback_streak": 1, "customer_request": 1}
    assert summary["csat_average"] == 3.0 and summary["csat_count"] == 2
    assert (summary["thumbs_up"], summary["thumbs_down"], summary["thumbs_up_ratio"]) == (1, 1, 0.5)
    assert summary["top_intents"] == [{"intent": "refund_status", "count": 2},
                                      {"intent": "track_order", "count": 1}]
    assert summary["top_unanswered_questions"] == [
        {"question": "What is the capital of Peru?", "count": 2}]
    assert summary["median_first_human_reply_seconds"] == 210.0  # median of 120 and 300


def test_an_empty_period_has_no_rates(constructed: Flask) -> None:
    from tests.conftest import StaffAuth

    admin = StaffAuth(constructed).headers("admin")
    summary = constructed.test_client().get(
        "/api/v1/analytics/summary?since=2025-01-01T00:00:00Z&until=2025-02-01T00:00:00Z",
        headers=admin).get_json()
    assert summary["conversations"] == 0
    assert summary["containment_rate"] is None and summary["median_first_human_reply_seconds"] is None


@pytest.mark.parametrize("query", ["since=2026-11-02T00:00:00Z&until=2026-11-01T00:00:00Z",
                                   "since=yesterday", "since=2026-10-01T00:00:00"])
def test_bad_periods_are_refused(constructed: Flask, query: str) -> None:
    from tests.conftest import StaffAuth

    admin = StaffAuth(constructed).headers("admin")
    response = constructed.test_client().get(f"/api/v1/analytics/summary?{query}", headers=admin)
    assert response.status_code == 422 and response.mimetype == "application/problem+json"
