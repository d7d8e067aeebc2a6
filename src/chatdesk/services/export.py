"""Exports for analysis and training: conversations as PII-redacted JSON lines, and labelled
examples (what customers asked, and the intent it was) as CSV."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from chatdesk.engine.guard import redact_pii
from chatdesk.extensions import db
from chatdesk.nlu import IntentDataset, make_dataset
from chatdesk.store.models import Conversation, CuratedAnswer, Handoff, Message, Role

BATCH = 200
LABELLED_COLUMNS = ["text", "intent", "source"]


def _redacted(text: str | None) -> str | None:
    return redact_pii(text) if text else text


def conversation_record(conversation: Conversation, messages: list[Message], handoffs: list[Handoff],
                        corrections: dict[int, CuratedAnswer]) -> dict[str, Any]:
    return {
        "id": conversation.id,
        "channel": conversation.channel,
        "status": conversation.status,
        "created_at": conversation.created_at.isoformat(),
        "csat": ({"score": conversation.csat_score, "comment": _redacted(conversation.csat_comment)}
                 if conversation.csat_score is not None else None),
        "handoffs": [{"reason": h.reason, "at": h.created_at.isoformat(), "within_hours": h.within_hours}
                     for h in handoffs],
        "messages": [_message_record(m, corrections) for m in messages],
    }


def _message_record(message: Message, corrections: dict[int, CuratedAnswer]) -> dict[str, Any]:
    correction = corrections.get(message.corrected_by_id) if message.corrected_by_id else None
    return {
        "id": str(message.id),
        "role": message.role,
        "text": _redacted(message.text),
        "created_at": message.created_at.isoformat(),
        "answered_by": message.answered_by,
        "intent": message.intent,
        "confidence": message.confidence,
        "sources": [s.get("id") for s in message.sources or []],
        "feedback": ({"rating": message.feedback_rating, "comment": _redacted(message.feedback_comment)}
                     if message.feedback_rating else None),
        "correction": ({"answer_id": correction.id, "answer": _redacted(correction.answer),
                        "intent": correction.intent} if correction else None),
    }


def conversations(since: datetime | None = None) -> Iterator[dict[str, Any]]:
    """Every conversation started at or after ``since``, oldest first, a batch at a time."""
    after = ""
    while True:
        statement = select(Conversation).where(Conversation.id > after).order_by(Conversation.id).limit(BATCH)
        if since is not None:
            statement = statement.where(Conversation.created_at >= since)
        batch = list(db.session.scalars(statement))
        if not batch:
            return
        ids = [c.id for c in batch]
        messages: dict[str, list[Message]] = {}
        for message in db.session.scalars(select(Message).where(Message.conversation_id.in_(ids))
                                          .order_by(Message.id)):
            messages.setdefault(message.conversation_id, []).append(message)
        handoffs: dict[str, list[Handoff]] = {}
        for handoff in db.session.scalars(select(Handoff).where(Handoff.conversation_id.in_(ids))
                                          .order_by(Handoff.id)):
            handoffs.setdefault(handoff.conversation_id, []).append(handoff)
        corrected = {m.corrected_by_id for ms in messages.values() for m in ms if m.corrected_by_id}
        corrections = {a.id: a for a in db.session.scalars(
            select(CuratedAnswer).where(CuratedAnswer.id.in_(corrected)))} if corrected else {}
        for conversation in sorted(batch, key=lambda c: (c.created_at, c.id)):
            yield conversation_record(conversation, messages.get(conversation.id, []),
                                      handoffs.get(conversation.id, []), corrections)
        after = batch[-1].id


def labelled_examples(since: datetime | None = None) -> Iterator[dict[str, str]]:
    """Examples for training the intent model:

    * every way of asking a curated answer (agents' corrections included) that has an intent;
    * customer questions whose bot reply had an intent and got a thumbs-up.
    """
    for answer in db.session.scalars(select(CuratedAnswer).where(CuratedAnswer.intent.is_not(None),
                                                                 CuratedAnswer.active.is_(True))):
        if since is not None and answer.updated_at < since:
            continue
        source = "correction" if answer.source_message_id else "curated"
        for variant in answer.variants:
            yield {"text": redact_pii(variant.text), "intent": str(answer.intent), "source": source}
    reply = select(Message.reply_to_id, Message.intent).where(
        Message.role == Role.BOT, Message.feedback_rating == "up", Message.intent.is_not(None),
        Message.reply_to_id.is_not(None))
    if since is not None:
        reply = reply.where(Message.created_at >= since)
    for question_id, intent in db.session.execute(reply).all():
        question = db.session.get(Message, question_id)
        if question is not None:
            yield {"text": redact_pii(question.text), "intent": str(intent), "source": "feedback"}


def taught_dataset(held_out: Iterable[str] = ()) -> IntentDataset | None:
    """Every labelled example (what agents and customers taught the bot, as in ``labelled.csv``)
    as training data, or None when there is none. Examples whose text is in ``held_out`` are left
    out: a model must not be scored on what it was trained on."""
    unseen = {_normalised(text) for text in held_out}
    rows = [row for row in labelled_examples() if _normalised(row["text"]) not in unseen]
    if not rows:
        return None
    return make_dataset([row["text"] for row in rows], [row["intent"] for row in rows],
                        source="taught examples", min_intents=1)


def _normalised(text: str) -> str:
    return " ".join(text.casefold().split())


def jsonl(records: Iterator[dict[str, Any]]) -> Iterator[str]:
    for record in records:
        yield json.dumps(record, ensure_ascii=False) + "\n"


def write_export(directory: Path, since: datetime | None = None) -> dict[str, int]:
    """``conversations.jsonl`` and ``labelled.csv`` in ``directory``; returns what was written."""
    directory.mkdir(parents=True, exist_ok=True)
    count = 0
    with (directory / "conversations.jsonl").open("w", encoding="utf-8") as out:
        for line in jsonl(conversations(since)):
            out.write(line)
            count += 1
    examples = 0
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=LABELLED_COLUMNS)
    writer.writeheader()
    for row in labelled_examples(since):
        writer.writerow(row)
        examples += 1
    (directory / "labelled.csv").write_text(buffer.getvalue(), encoding="utf-8")
    return {"conversations": count, "labelled_examples": examples}
