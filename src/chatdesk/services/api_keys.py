"""API keys: made once (the key is shown then and never again), checked by their hash."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from sqlalchemy import select

from chatdesk.errors import InvalidInput, NotFound
from chatdesk.extensions import db
from chatdesk.store.models import ApiKey, utcnow

KEY_PREFIX = "cdk_"
SHOWN_PREFIX = 10


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create_key(name: str) -> tuple[ApiKey, str]:
    name = name.strip()
    if not name or len(name) > 200:
        raise InvalidInput("A key needs a name of 1 to 200 characters.",
                           errors=[{"loc": ["body", "name"], "msg": "bad length"}])
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    record = ApiKey(name=name, prefix=key[:SHOWN_PREFIX], key_hash=_hash(key))
    db.session.add(record)
    db.session.commit()
    return record, key


def key_for(presented: str | None) -> ApiKey | None:
    """The active key matching what a client presented, or None."""
    if not presented or not presented.startswith(KEY_PREFIX):
        return None
    digest = _hash(presented)
    record = db.session.scalar(select(ApiKey).where(ApiKey.key_hash == digest))
    if record is None or not record.active or not hmac.compare_digest(record.key_hash, digest):
        return None
    record.last_used_at = utcnow()
    db.session.commit()
    return record


def list_keys() -> list[ApiKey]:
    return list(db.session.scalars(select(ApiKey).order_by(ApiKey.created_at.desc(), ApiKey.id.desc())))


def revoke(key_id: int) -> ApiKey:
    record = db.session.get(ApiKey, key_id)
    if record is None:
        raise NotFound(f"There is no API key {key_id}.", code="key_not_found")
    record.active = False
    db.session.commit()
    return record
