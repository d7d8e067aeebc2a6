"""Exports: PII-redacted conversations, and labelled examples for training."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient

from chatdesk.cli.export import export_group
from chatdesk.extensions import db
from chatdesk.store.models import Message
from tests.conftest import StaffAuth, open_chat


def test_conversations_and_labelled_examples(app: Flask, client: FlaskClient, staff: StaffAuth,
                                             tmp_path: Path) -> None:
    agent = staff.headers("agent")
    customer = open_chat(client)
    liked = customer.ask("How long do refunds take? I'm jo@example.com, 07700 900123")
    wrong = customer.ask("Do you price match Argos?")
    with app.app_context():  # as if the intent model had named them
        db.session.get(Message, int(liked["id"])).intent = "refund_status"  # type: ignore[union-attr]
        db.session.get(Message, int(wrong["id"])).intent = "price_adjustment"  # type: ignore[union-attr]
        db.session.commit()
    client.post(f"/api/v1/messages/{liked['id']}/feedback", json={"rating": "up"}, headers=customer.headers)
    client.post(f"/api/v1/messages/{wrong['id']}/correction", headers=agent,
                json={"answer": "We don't price match; call 0117 496 0123.",
                      "variants": ["will you match argos prices"]})
    client.post(f"/api/v1/conversations/{customer.id}/csat", json={"score": 5}, headers=customer.headers)
    customer.ask("talk to a human")

    out = tmp_path / "export"
    result = app.test_cli_runner().invoke(export_group, ["conversations", "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["conversations"] == 1
    (record,) = [json.loads(line) for line in (out / "conversations.jsonl").read_text().splitlines()]
    assert record["id"] == customer.id and record["csat"] == {"score": 5, "comment": None}
    assert [h["reason"] for h in record["handoffs"]] == ["customer_request"]
    first_question, first_reply = record["messages"][:2]
    assert first_question["text"] == "How long do refunds take? I'm [email], [phone]"
    assert first_reply["feedback"] == {"rating": "up", "comment": None}
    assert first_reply["answered_by"] == "retrieval" and first_reply["sources"]
    corrected = record["messages"][3]
    assert corrected["correction"]["answer"] == "We don't price match; call [phone]."
    assert corrected["correction"]["intent"] == "price_adjustment"
    assert "jo@example.com" not in (out / "conversations.jsonl").read_text()

    labelled = list(csv.DictReader((out / "labelled.csv").read_text().splitlines()))
    assert {(row["text"], row["intent"], row["source"]) for row in labelled} == {
        ("Do you price match Argos?", "price_adjustment", "correction"),
        ("will you match argos prices", "price_adjustment", "correction"),
        ("How long do refunds take? I'm [email], [phone]", "refund_status", "feedback"),
    }


def test_since_leaves_older_conversations_out(app: Flask, client: FlaskClient, tmp_path: Path) -> None:
    open_chat(client).ask("How do I reset my password?")
    result = app.test_cli_runner().invoke(
        export_group, ["conversations", "--out", str(tmp_path), "--since", "2999-01-01", "--json"])
    assert json.loads(result.stdout)["conversations"] == 0


def test_the_export_api_streams_json_lines(client: FlaskClient, staff: StaffAuth) -> None:
    open_chat(client).ask("How do I reset my password?")
    response = client.get("/api/v1/export/conversations", headers=staff.headers("analyst"))
    assert response.status_code == 200 and response.mimetype == "application/x-ndjson"
    lines = response.get_data(as_text=True).splitlines()
    assert len(lines) == 1 and json.loads(lines[0])["messages"][0]["role"] == "customer"
