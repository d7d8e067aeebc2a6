"""SQLite settings that let several server processes (and many threads or greenlets) share one file.

SQLite allows one writer at a time and makes the others wait by sleeping (1, 2, 5, 10 ... ms), a
sleep that under gevent stops the whole worker. Writers of one process therefore queue on a lock
of their own (cooperative under gevent) from their first write to their commit, and SQLite's own
waiting is left to the rare clash between processes.
"""

from __future__ import annotations

import threading
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import Pool

_WRITES = ("INSERT", "UPDATE", "DELETE", "REPLAC")
_HELD = "chatdesk_write_lock"
_locks: dict[str, threading.RLock] = {}
_locks_guard = threading.Lock()


def _is_sqlite(dbapi_connection: Any) -> bool:
    return type(dbapi_connection).__module__.split(".")[0] == "sqlite3"


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection: Any, connection_record: Any) -> None:
    if not _is_sqlite(dbapi_connection):
        return
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def _lock_for(database: str) -> threading.RLock:
    with _locks_guard:
        return _locks.setdefault(database, threading.RLock())


@event.listens_for(Engine, "before_cursor_execute")
def _queue_writers(conn: Connection, cursor: Any, statement: str, parameters: Any, context: Any,
                   executemany: bool) -> None:
    if conn.dialect.name != "sqlite" or _HELD in conn.info:
        return
    if statement.lstrip()[:6].upper() in _WRITES:
        lock = _lock_for(str(conn.engine.url))
        lock.acquire()
        conn.info[_HELD] = lock


def _release(info: dict[Any, Any]) -> None:
    lock = info.pop(_HELD, None)
    if lock is not None:
        lock.release()


@event.listens_for(Engine, "commit")
def _after_commit(conn: Connection) -> None:
    _release(conn.info)


@event.listens_for(Engine, "rollback")
def _after_rollback(conn: Connection) -> None:
    _release(conn.info)


@event.listens_for(Pool, "reset")
def _on_return(dbapi_connection: Any, connection_record: Any, reset_state: Any) -> None:
    _release(connection_record.info)
