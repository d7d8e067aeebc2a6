"""Which intent-model version serves (every server process follows this one row), and each
registered version's model folder, so that any server can load a version wherever it was trained."""

from __future__ import annotations

from sqlalchemy import Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from chatdesk.store.base import Base, Timestamp, utcnow


class IntentModelState(Base):
    __tablename__ = "intent_model_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, default=1)
    active_version: Mapped[str | None] = mapped_column(String(32))
    # The MLflow run of that version: servers find its stored folder without asking MLflow.
    active_run_id: Mapped[str | None] = mapped_column(String(64))
    activated_at: Mapped[Timestamp] = mapped_column(default=utcnow)


class IntentModelArtifact(Base):
    """A version's model folder as a zip archive, keyed by the MLflow run that made it (run ids
    are unique across registries; version numbers are not)."""

    __tablename__ = "intent_model_artifacts"

    run_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    model_name: Mapped[str] = mapped_column(String(200))
    version: Mapped[str] = mapped_column(String(32))
    archive: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[Timestamp] = mapped_column(default=utcnow)
