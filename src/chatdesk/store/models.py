"""Every stored model, in one namespace (what Alembic compares against)."""

from chatdesk.store.base import Base, Timestamp, UTCDateTime, new_id, utcnow
from chatdesk.store.conversations import Conversation, ConversationStatus, Handoff, Message, Role
from chatdesk.store.intents import IntentModelArtifact, IntentModelState
from chatdesk.store.keys import ApiKey
from chatdesk.store.knowledge import Chunk, Document, KnowledgeBaseState
from chatdesk.store.staff import CuratedAnswer, CuratedQuestion, StaffRole, User

__all__ = [
    "ApiKey",
    "Base",
    "Chunk",
    "Conversation",
    "ConversationStatus",
    "CuratedAnswer",
    "CuratedQuestion",
    "Document",
    "Handoff",
    "IntentModelArtifact",
    "IntentModelState",
    "KnowledgeBaseState",
    "Message",
    "Role",
    "StaffRole",
    "Timestamp",
    "UTCDateTime",
    "User",
    "new_id",
    "utcnow",
]
