"""One schema migration at a time per database, however many processes start one.

Several `migrate` Jobs of one release, or several servers of the embedded default setting up
their schema at once, would otherwise each read the same old version and apply the same
migration twice. The second waits, then finds the schema current and does nothing.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import text
from sqlalchemy.engine import Connection

from chatdesk.locks import file_lock

#: The PostgreSQL advisory lock's key: any fixed number other applications are unlikely to use.
LOCK_KEY = zlib.crc32(b"chatdesk schema migrations")


@contextmanager
def migration_lock(connection: Connection) -> Iterator[None]:
    """Hold the database's migration lock around the migrations run on ``connection``."""
    dialect = connection.dialect.name
    if dialect == "postgresql":
        with _advisory_lock(connection):
            yield
    elif dialect == "sqlite" and connection.engine.url.database not in (None, "", ":memory:"):
        with file_lock(f"{connection.engine.url.database}.migrate-lock"):
            yield
    else:
        yield


@contextmanager
def _advisory_lock(connection: Connection) -> Iterator[None]:
    # A session lock, taken and committed before the migrations' own transaction begins, and
    # released after it ends. A connection that dies releases it too.
    connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": LOCK_KEY})
    connection.commit()
    try:
        yield
    finally:
        connection.rollback()
        connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": LOCK_KEY})
        connection.commit()
