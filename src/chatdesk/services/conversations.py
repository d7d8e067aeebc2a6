"""Customer-side use cases: open a conversation, send a message, read it, ask for a person."""

from __future__ import annotations

import hmac
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TypeVar

import structlog
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from chatdesk.engine.followup import answered_questions
from chatdesk.engine.guard import clean_text, flags_for, redact_pii
from chatdesk.engine.intents import IntentPolicy
from chatdesk.engine.pipeline import PipelineConfig, ReplyPipeline
from chatdesk.engine.status import Event
from chatdesk.engine.types import AnsweredBy, Asked, Delta, HandoffReason, Reply, Turn
from chatdesk.engine.writer import LLMWriter, WriterConfig
from chatdesk.errors import Forbidden, NotFound, Unauthorized
from chatdesk.extensions import db
from chatdesk.services import knowledge
from chatdesk.services.handoff import (
    announce,
    bot_messages,
    move,
    notify,
    record_handoff,
    system_message,
    team_back_at,
)
from chatdesk.services.intent_models import ServingClassifier
from chatdesk.services.metrics import PrometheusTelemetry, record_reply
from chatdesk.services.reply_cache import ReplyCache
from chatdesk.services.runtime import current_runtime, current_settings
from chatdesk.services.tokens import hash_secret, new_secret
from chatdesk.store.base import parse_id
from chatdesk.store.models import Conversation, ConversationStatus, Message, Role

log = structlog.get_logger(__name__)
T = TypeVar("T")

@dataclass(frozen=True)
class PostedMessage:
    message: Message
    reply: Message | None
    replayed: bool = False


def create_conversation(channel: str = "web") -> tuple[Conversation, str]:
    """A new conversation and its token (shown once; only its hash is kept)."""
    conversation, token = _new_conversation(channel)
    db.session.commit()
    return conversation, token


def _new_conversation(channel: str) -> tuple[Conversation, str]:
    """A new conversation in the session, not yet committed."""
    token, token_hash = new_secret()
    conversation = Conversation(token_hash=token_hash, channel=channel, status=ConversationStatus.BOT)
    db.session.add(conversation)
    db.session.flush()
    return conversation, token


def get_conversation(conversation_id: str) -> Conversation:
    conversation = db.session.get(Conversation, conversation_id)
    if conversation is None:
        raise NotFound(f"There is no conversation {conversation_id!r}.", code="conversation_not_found")
    return conversation


def get_message(message_id: str) -> Message:
    number = parse_id(message_id)
    message = db.session.get(Message, number) if number is not None else None
    if message is None:
        raise NotFound(f"There is no message {message_id!r}.", code="message_not_found")
    return message


def authorize(conversation_id: str, token: str | None) -> Conversation:
    conversation = get_conversation(conversation_id)
    if not token:
        raise Unauthorized("This conversation's token is required (Authorization: Bearer TOKEN).",
                           code="token_missing")
    if not hmac.compare_digest(conversation.token_hash, hash_secret(token)):
        raise Forbidden("The token does not belong to this conversation.", code="token_invalid")
    return conversation


def messages_of(conversation: Conversation, after_id: int | None = None) -> list[Message]:
    query = select(Message).where(Message.conversation_id == conversation.id)
    if after_id is not None:
        query = query.where(Message.id > after_id)
    return list(db.session.scalars(query.order_by(Message.id)))


def reply_to(message: Message) -> Message | None:
    return db.session.scalar(
        select(Message).where(Message.reply_to_id == message.id).order_by(Message.id).limit(1)
    )


def post_customer_message(
    conversation: Conversation, text: str, idempotency_key: str | None = None
) -> PostedMessage:
    """Store the message first, then reply to it (unless a person has the conversation)."""
    received = receive_message(conversation, text, idempotency_key)
    if received.settled:
        return received
    reply = _bot_reply(conversation, received.message)
    return PostedMessage(received.message, store_reply(conversation, received.message, reply,
                                                       received.started))


def answer_stateless(question: str, history: list[tuple[str, str]], channel: str,
                     stream: bool) -> tuple[ReceivedMessage, Iterator[Delta | Message]]:
    """A one-off exchange (the OpenAI-compatible API): the client sends the history each time.

    It is stored as a conversation of its own, so staff see it and it is counted and exported.
    The conversation is committed with the question, so a question that is not valid stores
    nothing.
    """
    settings = current_settings()
    conversation, _ = _new_conversation(channel)
    received = receive_message(conversation, question)
    keep = settings.history_turns
    questions = tuple(Asked(text) for role, text in history if role == Role.CUSTOMER)
    turn = Turn(received.message.text, previous_questions=_last(questions, keep),
                history=_last(tuple(history), 2 * keep), team_back_at=team_back_at())
    if stream:
        return received, reply_stream(conversation, received, turn)
    reply = _bot_reply(conversation, received.message, turn)
    return received, iter([store_reply(conversation, received.message, reply, received.started)])


@dataclass(frozen=True)
class ReceivedMessage(PostedMessage):
    needs_reply: bool = False
    started: float = 0.0

    @property
    def settled(self) -> bool:
        """Nothing left to do: a retry of an earlier message, or a person has the conversation."""
        return self.replayed or not self.needs_reply


def receive_message(conversation: Conversation, text: str,
                    idempotency_key: str | None = None) -> ReceivedMessage:
    """Step 1: the customer's message is committed before any reply work (or a retry is replayed)."""
    started = time.perf_counter()
    settings = current_settings()
    text = clean_text(text, settings.max_message_chars)
    if idempotency_key is not None:
        replay = _replay(conversation, idempotency_key)
        if replay is not None:
            return ReceivedMessage(replay.message, replay.reply, replayed=True)
    if conversation.status == ConversationStatus.RESOLVED and move(conversation, Event.REOPEN):
        # Writing again reopens the conversation to the bot; the notice comes first, so the
        # bot starts afresh (no fallback streak carried over from before the resolution).
        system_message(conversation, bot_messages().back_to_bot)
    message = Message(conversation_id=conversation.id, role=Role.CUSTOMER, text=text,
                      flags=flags_for(text), idempotency_key=idempotency_key)
    db.session.add(message)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        replay = _replay(conversation, idempotency_key) if idempotency_key else None
        if replay is None:
            raise
        return ReceivedMessage(replay.message, replay.reply, replayed=True)
    needs_reply = conversation.status == ConversationStatus.BOT
    if not needs_reply:
        notify(conversation)  # the agent (or the queue) sees it live
    return ReceivedMessage(message, None, needs_reply=needs_reply, started=started)


def store_reply(conversation: Conversation, message: Message, reply: Reply, started: float) -> Message:
    """Step 9: the reply, with how it was made; a handoff queues the conversation."""
    seconds = time.perf_counter() - started
    bot_message = Message(
        conversation_id=conversation.id,
        role=Role.BOT if reply.answered_by else Role.SYSTEM,
        text=reply.text,
        answered_by=reply.answered_by,
        intent=reply.intent,
        confidence=reply.confidence,
        sources=[s.as_dict() for s in reply.sources],
        handoff=reply.handoff,
        cached=reply.cached,
        prompt_tokens=reply.prompt_tokens,
        completion_tokens=reply.completion_tokens,
        used_context=reply.used_context,
        reply_to_id=message.id,
        latency_ms=round(seconds * 1000, 2),
    )
    if reply.handoff:
        record_handoff(conversation, reply.handoff_reason or HandoffReason.CUSTOMER_REQUEST)
    db.session.add(bot_message)
    db.session.commit()
    notify(conversation)
    record_reply(reply.answered_by, seconds)
    return bot_message


def reply_stream(conversation: Conversation, received: ReceivedMessage,
                 turn: Turn | None = None) -> Iterator[Delta | Message]:
    """The reply as it is written (deltas), then the stored reply message.

    If the customer goes away mid-stream, the reply is still finished and stored.
    """
    events = _safe_events(conversation, received.message, turn)
    final: Reply | None = None
    try:
        for event in events:
            if isinstance(event, Reply):
                final = event
                break
            yield event
    except GeneratorExit:
        for event in events:  # nobody is listening: finish the reply anyway
            if isinstance(event, Reply):
                final = event
        if final is not None:
            store_reply(conversation, received.message, final, received.started)
        raise
    assert final is not None
    yield store_reply(conversation, received.message, final, received.started)


def _safe_events(conversation: Conversation, message: Message,
                 turn: Turn | None = None) -> Iterator[Delta | Reply]:
    """The pipeline's events; if it fails before finishing, an honest fallback ends the stream."""
    try:
        replying, prepared_turn = _prepared(conversation, message, turn)
        yield from replying.events(prepared_turn, stream=True)
    except Exception:
        fallback = _failed(conversation, message)
        yield Delta(fallback.text)
        yield fallback


def _replay(conversation: Conversation, key: str) -> PostedMessage | None:
    original = db.session.scalar(
        select(Message).where(Message.conversation_id == conversation.id,
                              Message.idempotency_key == key)
    )
    if original is None:
        return None
    return PostedMessage(original, reply_to(original), replayed=True)


def _turn(conversation: Conversation, message: Message) -> Turn:
    """What the pipeline needs from the recent history (only the columns it reads)."""
    settings = current_settings()
    recent = db.session.execute(
        select(Message.role, Message.text, Message.answered_by, Message.handoff, Message.used_context)
        .where(Message.conversation_id == conversation.id, Message.id < message.id)
        .order_by(Message.id.desc())
        .limit(max(2 * settings.history_turns, 2 * settings.fallback_handoff_streak))
    ).all()
    previous_fallbacks = 0
    for earlier in recent:
        if earlier.role == Role.BOT and earlier.answered_by == AnsweredBy.FALLBACK:
            previous_fallbacks += 1
        elif earlier.role != Role.CUSTOMER:
            break
    last_bot = next((m for m in recent if m.role != Role.CUSTOMER), None)
    offered = (last_bot is not None and last_bot.answered_by == AnsweredBy.FALLBACK
               and not last_bot.handoff)
    history = tuple((m.role, m.text) for m in reversed(recent) if m.role != Role.SYSTEM)
    keep = settings.history_turns
    questions = answered_questions([(m.role, m.text, m.answered_by, m.used_context)
                                    for m in reversed(recent)])
    return Turn(message.text, previous_questions=_last(questions, keep),
                history=_last(history, 2 * keep), previous_fallbacks=previous_fallbacks,
                bot_offered_human=offered, team_back_at=team_back_at())


def _last(items: tuple[T, ...], n: int) -> tuple[T, ...]:
    """The last ``n`` items; none for 0 (``items[-0:]`` would be all of them)."""
    return items[-n:] if n > 0 else ()


def pipeline() -> ReplyPipeline:
    runtime = current_runtime()
    settings = runtime.settings
    serving = runtime.intents.current(db.session(), settings, runtime.embedder())
    policy = IntentPolicy()
    if serving is not None:
        policy = IntentPolicy(serving.rules.responses, settings.intent_response_confidence,
                              settings.intent_article_weight, settings.intent_min_score)
    config = PipelineConfig(
        company_name=settings.company_name,
        min_score=settings.retrieval_min_score,
        top_k=max(settings.retrieval_top_k, settings.llm_passages),
        fallback_streak=settings.fallback_handoff_streak,
        model_version=serving.version if serving is not None else "none",
        llm_fingerprint=runtime.llm.fingerprint,
        intents=policy,
    )
    cache = ReplyCache(settings.reply_cache_ttl) if settings.reply_cache_ttl else None
    current = knowledge.current_knowledge()
    telemetry = PrometheusTelemetry()
    provider = runtime.llm.get()
    writer = None
    if provider is not None and runtime.llm.config is not None:
        writer = LLMWriter(provider, WriterConfig(runtime.llm.config.prompt, settings.llm_passages,
                                                  settings.llm_timeout), telemetry)
    classifier = ServingClassifier(serving) if serving is not None else None
    return ReplyPipeline(current.index, config, cache, current.curated, writer, telemetry, classifier)


def _prepared(conversation: Conversation, message: Message, turn: Turn | None) -> tuple[ReplyPipeline, Turn]:
    """The pipeline and its input, read from the database; then the connection goes back to the
    pool, so a reply an LLM takes seconds to write holds none."""
    prepared = pipeline(), turn or _turn(conversation, message)
    db.session.commit()
    return prepared


def _bot_reply(conversation: Conversation, message: Message, turn: Turn | None = None) -> Reply:
    """The pipeline's reply; if something below it fails, an honest fallback instead of an error."""
    try:
        replying, prepared_turn = _prepared(conversation, message, turn)
        return replying.reply(prepared_turn)
    except Exception:
        return _failed(conversation, message)


def _failed(conversation: Conversation, message: Message) -> Reply:
    """Something below the pipeline failed: log it, and an honest "don't know" instead."""
    log.exception("reply.pipeline_failed", conversation=conversation.id, text=redact_pii(message.text))
    db.session.rollback()
    return Reply(bot_messages().fallback, AnsweredBy.FALLBACK)


def request_handoff(conversation: Conversation, reason: str | None = None) -> Message | None:
    """Put the conversation in the human queue; a no-op if a person already has it."""
    if conversation.status in (ConversationStatus.WAITING, ConversationStatus.AGENT):
        return None
    if conversation.status == ConversationStatus.RESOLVED:
        move(conversation, Event.REOPEN)
    if not record_handoff(conversation, reason or HandoffReason.CUSTOMER_REQUEST):
        db.session.commit()
        return None  # another request queued it a moment ago, and said so
    return announce(conversation, bot_messages().handoff_requested(team_back_at()), handoff=True)
