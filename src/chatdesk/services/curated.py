"""Curated answers: written by staff, or made from an agent's correction of a bot reply.

A change takes effect at once: it bumps the knowledge-base version, so every process reloads its
curated answers and no cached reply from before the change is served.
"""

from __future__ import annotations

import numpy as np
from sqlalchemy import or_, select

from chatdesk.engine.guard import clean_text
from chatdesk.errors import Conflict, InvalidInput, NotFound
from chatdesk.extensions import db
from chatdesk.services import knowledge
from chatdesk.services.conversations import get_message
from chatdesk.services.runtime import current_runtime, current_settings
from chatdesk.store.models import CuratedAnswer, CuratedQuestion, Message, Role, User

MAX_VARIANTS = 50


def _clean(text: str, field: str, label: str | None = None) -> str:
    return clean_text(text, current_settings().max_message_chars, field=field, label=label or field)


def _set_questions(answer: CuratedAnswer, question: str, variants: list[str]) -> None:
    """The main question (already cleaned) and its variants, each embedded once here, never per
    request; repeats are dropped."""
    texts = [question]
    for position, text in enumerate(variants, start=1):
        cleaned = _clean(text, "variants", f"variant {position}")
        if cleaned.lower() not in {t.lower() for t in texts}:
            texts.append(cleaned)
    if len(texts) > MAX_VARIANTS:
        raise InvalidInput(f"At most {MAX_VARIANTS} ways of asking one question.")
    vectors = current_runtime().embedder().embed(texts)
    answer.variants.clear()
    for text, vector in zip(texts, vectors, strict=True):
        answer.variants.append(CuratedQuestion(text=text, embedding=np.ascontiguousarray(vector).tobytes()))


def _commit_change() -> None:
    knowledge.bump_version()
    db.session.commit()
    current_runtime().knowledge.invalidate()


def create_answer(question: str, answer: str, variants: list[str] | None = None,
                  intent: str | None = None, author: User | None = None,
                  source: Message | None = None) -> CuratedAnswer:
    curated = CuratedAnswer(question=_clean(question, "question"), answer=_clean(answer, "answer"),
                            intent=intent, created_by_id=author.id if author else None,
                            source_message_id=source.id if source else None)
    db.session.add(curated)
    _set_questions(curated, curated.question, variants or [])
    if source is not None:
        db.session.flush()  # the answer gets its id
        source.corrected_by_id = curated.id
    _commit_change()
    return curated


def correct_reply(message_id: str, answer: str, author: User, variants: list[str] | None = None,
                  intent: str | None = None) -> CuratedAnswer:
    """An agent says a bot reply was wrong and gives the right answer for its question."""
    message = get_message(message_id)
    if message.role != Role.BOT:
        raise Conflict("Only the bot's replies can be corrected.", code="not_a_bot_reply")
    question = db.session.get(Message, message.reply_to_id) if message.reply_to_id else None
    if question is None:
        raise Conflict("This reply has no customer question to attach an answer to.",
                       code="no_question")
    return create_answer(question.text, answer, variants, intent or message.intent, author, message)


def get_answer(answer_id: int) -> CuratedAnswer:
    curated = db.session.get(CuratedAnswer, answer_id)
    if curated is None:
        raise NotFound(f"There is no curated answer {answer_id}.", code="answer_not_found")
    return curated


def list_answers(query: str | None = None, include_inactive: bool = True) -> list[CuratedAnswer]:
    statement = select(CuratedAnswer).order_by(CuratedAnswer.updated_at.desc(), CuratedAnswer.id.desc())
    if query:
        like = f"%{query.lower()}%"
        statement = statement.where(or_(CuratedAnswer.question.ilike(like),
                                        CuratedAnswer.answer.ilike(like)))
    if not include_inactive:
        statement = statement.where(CuratedAnswer.active.is_(True))
    return list(db.session.scalars(statement))


def update_answer(answer_id: int, *, question: str | None = None, answer: str | None = None,
                  variants: list[str] | None = None, intent: str | None = None,
                  active: bool | None = None) -> CuratedAnswer:
    curated = get_answer(answer_id)
    if question is not None:
        curated.question = _clean(question, "question")
    if answer is not None:
        curated.answer = _clean(answer, "answer")
    if intent is not None:
        curated.intent = intent or None
    if active is not None:
        curated.active = active
    if question is not None or variants is not None:
        keep = [v.text for v in curated.variants[1:]] if variants is None else variants
        _set_questions(curated, curated.question, keep)
    _commit_change()
    return curated


def delete_answer(answer_id: int) -> None:
    db.session.delete(get_answer(answer_id))
    _commit_change()
