"""Which intent-model version serves; every server process follows this one row."""

from __future__ import annotations

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from chatdesk.store.base import Base, Timestamp, utcnow


class IntentModelState(Base):
    __tablename__ = "intent_model_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, default=1)
    active_version: Mapped[str | None] = mapped_column(String(32))
    activated_at: Mapped[Timestamp] = mapped_column(default=utcnow)
