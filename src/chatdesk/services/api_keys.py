"""API keys: made once (the key is shown then and never again), checked by their hash."""

from __future__ import annotations

from sqlalchemy import select

from chatdesk.errors import InvalidInput, NotFound
from chatdesk.extensions import db
from chatdesk.services.tokens import hash_secret, new_secret
from chatdesk.store.models import ApiKey, utcnow

KEY_PREFIX = "cdk_"
SHOWN_PREFIX = 10


def create_key(name: str) -> tuple[ApiKey, str]:
    name = name.strip()
    if not name or len(name) > 200:
        raise InvalidInput("A key needs a name of 1 to 200 characters.",
                           errors=[{"loc": ["body", "name"], "msg": "bad length"}])
    key, key_hash = new_secret(KEY_PREFIX)
    record = ApiKey(name=name, prefix=key[:SHOWN_PREFIX], key_hash=key_hash)
    db.session.add(record)
    db.session.commit()
    return record, key


def key_for(presented: str | None) -> ApiKey | None:
    """The active key matching what a client presented, or None."""
    if not presented or not presented.startswith(KEY_PREFIX):
        return None
    record = db.session.scalar(select(ApiKey).where(ApiKey.key_hash == hash_secret(presented)))
    if record is None or not record.active:
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
