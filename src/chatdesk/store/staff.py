"""Staff accounts and the answers they curate."""

from __future__ import annotations

from sqlalchemy import Boolean, ForeignKey, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from chatdesk.store.base import Base, Timestamp, utcnow


class StaffRole:
    AGENT = "agent"
    ADMIN = "admin"
    ANALYST = "analyst"
    ALL = (AGENT, ADMIN, ANALYST)


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[Timestamp] = mapped_column(default=utcnow)
    last_login_at: Mapped[Timestamp | None]

    @property
    def display_name(self) -> str:
        return self.name or self.email.split("@", 1)[0]


class CuratedAnswer(Base):
    """An answer written or corrected by staff; it wins over everything the bot would say."""

    __tablename__ = "curated_answers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    question: Mapped[str] = mapped_column(Text)
    answer: Mapped[str] = mapped_column(Text)
    intent: Mapped[str | None] = mapped_column(String(100))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    source_message_id: Mapped[int | None] = mapped_column(
        ForeignKey("messages.id", ondelete="SET NULL", use_alter=True)
    )
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[Timestamp] = mapped_column(default=utcnow)
    updated_at: Mapped[Timestamp] = mapped_column(default=utcnow, onupdate=utcnow)

    variants: Mapped[list[CuratedQuestion]] = relationship(
        back_populates="answer", order_by="CuratedQuestion.id", cascade="all, delete-orphan"
    )


class CuratedQuestion(Base):
    """One way of asking a curated answer's question, with its embedding."""

    __tablename__ = "curated_questions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    answer_id: Mapped[int] = mapped_column(
        ForeignKey("curated_answers.id", ondelete="CASCADE"), index=True
    )
    text: Mapped[str] = mapped_column(Text)
    embedding: Mapped[bytes] = mapped_column(LargeBinary)

    answer: Mapped[CuratedAnswer] = relationship(back_populates="variants")
