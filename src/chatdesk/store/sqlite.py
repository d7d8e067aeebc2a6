"""SQLite settings that let several server processes (and many threads or greenlets) share one file.

SQLite allows one writer at a time and makes the others wait by sleeping (1, 2, 5, 10 ... ms), a
sleep that under gevent stops the whole worker. So writers take turns before SQLite sees them:
within a process on a lock (cooperative under gevent), across processes on a file lock beside the
database, polled every half millisecond. A transaction holds both from its first write to its
commit or rollback; SQLite's own waiting is left for what the turn-taking does not cover.
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine

_WRITES = ("INSERT", "UPDATE", "DELETE", "REPLAC")
_HELD = "chatdesk_write_turn"
POLL_SECONDS = 0.0005


class WriteTurn:
    """Whose turn it is to write to one database file, among threads and processes."""

    def __init__(self, database_file: str | None) -> None:
        self._local = threading.RLock()
        self._file = f"{database_file}.write-lock" if database_file else None
        self._descriptor: int | None = None
        self._depth = 0  # the holding thread may take its turn again (a nested write)

    def acquire(self) -> None:
        self._local.acquire()
        self._depth += 1
        if self._file is None or self._depth > 1:
            return
        try:
            self._descriptor = os.open(self._file, os.O_RDWR | os.O_CREAT, 0o600)
            while True:
                try:
                    fcntl.flock(self._descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    return
                except BlockingIOError:
                    time.sleep(POLL_SECONDS)  # gevent-friendly when patched
        except OSError:
            self._close()  # no lock file (read-only folder...): SQLite's own waiting still works

    def release(self) -> None:
        self._depth -= 1
        if self._depth == 0:
            self._close()
        self._local.release()

    def _close(self) -> None:
        if self._descriptor is not None:
            os.close(self._descriptor)  # closing releases the flock
            self._descriptor = None


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


def take_turns(engine: Engine) -> None:
    """Make the writers of this SQLite engine take turns (see the module docstring)."""
    database = engine.url.database
    turn = WriteTurn(database if database and database != ":memory:" else None)

    def take_turn(conn: Connection, cursor: Any, statement: str, parameters: Any, context: Any,
                  executemany: bool) -> None:
        if _HELD not in conn.info and statement.lstrip()[:6].upper() in _WRITES:
            turn.acquire()
            conn.info[_HELD] = turn

    event.listen(engine, "before_cursor_execute", take_turn)
    event.listen(engine, "commit", lambda conn: _give_back(conn.info))
    event.listen(engine, "rollback", lambda conn: _give_back(conn.info))
    event.listen(engine.pool, "reset", lambda dbapi, record, state: _give_back(record.info))


def _give_back(info: dict[Any, Any]) -> None:
    turn = info.pop(_HELD, None)
    if turn is not None:
        turn.release()
