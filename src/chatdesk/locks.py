"""A lock held across processes on one machine: an exclusive ``flock`` on a file beside what it
guards (an export being made, a schema being migrated). Released when the block ends, or when
the process dies."""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def file_lock(path: Path | str) -> Iterator[None]:
    """Wait for, then hold, the lock of ``path`` (created, with its folder, if missing)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
