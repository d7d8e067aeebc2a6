"""Processes the harness starts: each in a process group of its own, its output in a log file.

Every process is stopped by its own id (or its group's, which is the same number), never by
name, so nothing the harness did not start is touched.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from urllib.error import URLError
from urllib.request import urlopen


class ManagedProcess:
    """A long-running child (a server) that can be started again after it is stopped or killed.

    It runs in a session of its own, so a Ctrl-C meant for the harness does not reach it, and
    ``kill()`` ends the whole group at once, as when a container is killed.
    """

    def __init__(self, name: str, argv: Sequence[str], env: Mapping[str, str], log: Path,
                 cwd: Path | None = None) -> None:
        self.name = name
        self.argv = list(argv)
        self.env = dict(env)
        self.log = log
        self.cwd = cwd
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self) -> None:
        if self.running:
            raise RuntimeError(f"{self.name} is already running")
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as log:
            log.write(f"\n===== {time.strftime('%H:%M:%S')} starting {self.name}\n".encode())
            log.flush()
            self.process = subprocess.Popen(self.argv, env=self.env, cwd=self.cwd, stdout=log,
                                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                            start_new_session=True)

    def send(self, signum: int) -> None:
        """A signal to the main process only (Kubernetes sends SIGTERM to a container's PID 1)."""
        if self.running:
            assert self.process is not None
            self.process.send_signal(signum)

    def kill(self) -> None:
        """SIGKILL to the whole group: the main process and every worker, with no warning."""
        if self.process is None:
            return
        _signal_group(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def wait(self, timeout: float) -> int | None:
        """The exit code, or None if it is still running after ``timeout`` seconds."""
        if self.process is None:
            return None
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self, timeout: float = 20.0) -> None:
        """SIGTERM, then SIGKILL to the group if it has not gone in ``timeout`` seconds; workers
        left behind by a main process that died are killed too."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.send(signal.SIGTERM)
            if self.wait(timeout) is None:
                self.kill()
        _signal_group(self.process.pid, signal.SIGKILL)


def _signal_group(pgid: int, signum: int) -> None:
    try:
        os.killpg(pgid, signum)
    except (ProcessLookupError, PermissionError):
        pass  # the group has no process left


def run(argv: Sequence[str], env: Mapping[str, str], log: Path, cwd: Path | None = None,
        stdin: str | None = None, timeout: float = 300) -> None:
    """A one-off command (a role such as migrate or demo), its output appended to ``log``."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as handle:
        handle.write(f"\n===== {time.strftime('%H:%M:%S')} {' '.join(argv)}\n".encode())
        handle.flush()
        result = subprocess.run(argv, env=dict(env), cwd=cwd, stdout=handle, stderr=subprocess.STDOUT,
                                input=stdin.encode() if stdin is not None else None,
                                stdin=None if stdin is not None else subprocess.DEVNULL,
                                timeout=timeout, start_new_session=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"`{' '.join(argv)}` failed with exit code {result.returncode}; see {log}")


def wait_http_ok(url: str, process: ManagedProcess | None = None, timeout: float = 120.0) -> float:
    """Poll ``url`` until it answers 200; the seconds it took. Fails early if the process died."""
    started = time.monotonic()
    while True:
        try:
            with urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return time.monotonic() - started
        except (OSError, URLError):
            pass
        if process is not None and not process.running:
            raise RuntimeError(f"{process.name} exited while starting; see {process.log}")
        if time.monotonic() - started > timeout:
            name = process.name if process is not None else url
            raise RuntimeError(f"{name} was not ready after {timeout:.0f} s")
        time.sleep(0.2)


def wait_port(port: int, timeout: float = 30.0) -> None:
    """Until something accepts connections on 127.0.0.1:``port``."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"nothing listens on port {port} after {timeout:.0f} s") from None
            time.sleep(0.1)
