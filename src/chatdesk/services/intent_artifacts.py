"""Each registered intent-model version's folder kept in chatdesk's own database.

MLflow keeps a run's artifacts where the training process put them (its instance folder, by
default): a server in another pod cannot read them. The model folder is small (about 1 MB for the
demo intents, 17 MB for Banking77), so it is stored with the version in the database every server
already shares, and unpacked into a server's local cache when that server first needs it.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from chatdesk.errors import ChatdeskError
from chatdesk.extensions import db
from chatdesk.store.models import IntentModelArtifact

# Files of the local cache that are not part of a version (the marker of a complete download).
LOCAL_ONLY = frozenset({"ready"})


class DamagedArtifact(ChatdeskError):
    status = 500
    title = "Damaged model artifact"


def pack(folder: Path) -> bytes:
    """The folder's files (it has no subfolders) as a zip archive."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.iterdir()):
            if path.is_file() and path.name not in LOCAL_ONLY:
                archive.write(path, path.name)
    return buffer.getvalue()


def unpack(data: bytes, folder: Path) -> None:
    """Write an archive made by :func:`pack` into ``folder``; refuses any name that is not a plain
    file name, so nothing lands outside it."""
    folder.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for member in archive.infolist():
            name = member.filename
            if member.is_dir() or name in {"", ".", ".."} or "/" in name or "\\" in name:
                raise DamagedArtifact(f"unexpected entry {name!r} in a stored model archive")
            (folder / name).write_bytes(archive.read(member))


def is_stored(run_id: str) -> bool:
    found = db.session.scalar(select(IntentModelArtifact.run_id).where(IntentModelArtifact.run_id == run_id))
    return found is not None


def store(run_id: str, model_name: str, version: str, folder: Path) -> None:
    """Keep the version's folder in the database (once: a run's model never changes)."""
    if is_stored(run_id):
        return
    data = pack(folder)
    db.session.add(IntentModelArtifact(run_id=run_id, model_name=model_name, version=version, archive=data,
                                       sha256=hashlib.sha256(data).hexdigest(), size=len(data)))
    try:
        db.session.commit()
    except IntegrityError:  # another process stored it first
        db.session.rollback()


def restore(run_id: str, folder: Path) -> bool:
    """Unpack the stored folder of ``run_id`` into ``folder``; False when none is stored."""
    columns = (IntentModelArtifact.archive, IntentModelArtifact.sha256, IntentModelArtifact.version)
    row = db.session.execute(select(*columns).where(IntentModelArtifact.run_id == run_id)).one_or_none()
    if row is None:
        return False
    data, digest, version = row
    if hashlib.sha256(data).hexdigest() != digest:
        raise DamagedArtifact(f"the stored model of version {version} (run {run_id}) does not match its "
                              "checksum; train it again or activate another version")
    unpack(data, folder)
    return True
