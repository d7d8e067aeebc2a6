"""The harness's own PostgreSQL and Redis, and the chatdesk web instances as the image runs them.

The shared PostgreSQL (5432) and Redis (6379) of the machine are never touched: these run on
free ports, with their files in the harness's folder.
"""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import psycopg

from tests.scale.processes import ManagedProcess, run, wait_http_ok, wait_port
from tests.support.servers import free_port

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = ROOT / ".venv" / "bin"
ENTRYPOINT = ROOT / "deployments" / "docker" / "entrypoint.sh"
MODELS_DIR = ROOT / "instance" / "models"
POSTGRES_USER = "postgres"


def postgres_bin() -> Path:
    """Debian's PostgreSQL binaries (the newest installed major version)."""
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"),
                      key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0)
    if not versions:
        raise RuntimeError("PostgreSQL's server binaries are not installed (/usr/lib/postgresql/*/bin)")
    return versions[-1].parent


class PostgresServer:
    """A PostgreSQL cluster of the harness's own, run by the ``postgres`` user when we are root
    (the server refuses to run as root), managed with pg_ctl."""

    def __init__(self, root: Path, log: Path) -> None:
        self.root = root
        self.data = root / "data"
        self.sockets = root / "sockets"
        self.log = log
        self.port = free_port()
        self.bin = postgres_bin()
        self.initialised = False

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://{POSTGRES_USER}@127.0.0.1:{self.port}/chatdesk"

    @property
    def dsn(self) -> str:
        return f"host=127.0.0.1 port={self.port} user={POSTGRES_USER} dbname=chatdesk connect_timeout=5"

    def _as_owner(self, argv: Sequence[str]) -> list[str]:
        if os.geteuid() == 0:
            return ["runuser", "-u", POSTGRES_USER, "--", *argv]
        return list(argv)

    def _run(self, argv: Sequence[str]) -> None:
        run(self._as_owner(argv), dict(os.environ), self.log.with_suffix(".ctl.log"), cwd=self.root)

    def init(self) -> None:
        for folder in (self.root, self.sockets):
            folder.mkdir(parents=True, exist_ok=True)
        self.log.parent.mkdir(parents=True, exist_ok=True)
        self.log.touch()
        if os.geteuid() == 0:
            owner = pwd.getpwnam(POSTGRES_USER)
            for path in (self.root, self.sockets, self.log):
                os.chown(path, owner.pw_uid, owner.pw_gid)
        self._run([str(self.bin / "initdb"), "-D", str(self.data), "-U", POSTGRES_USER, "-A", "trust",
                   "-E", "UTF8", "--no-sync"])
        self.initialised = True
        self.start()
        with psycopg.connect(self.dsn.replace("dbname=chatdesk", "dbname=postgres"), autocommit=True) as db:
            db.execute("CREATE DATABASE chatdesk")
        with psycopg.connect(self.dsn, autocommit=True) as db:  # MLflow's registry, beside chatdesk
            db.execute("CREATE SCHEMA mlflow")

    @property
    def mlflow_url(self) -> str:
        """MLflow's registry in its own schema of the same database, as in production."""
        return f"{self.url}?options=-csearch_path%3Dmlflow"

    def start(self) -> None:
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.sockets}"
        self._run([str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-o", options,
                   "-w", "-t", "60", "start"])

    def stop(self, mode: str = "fast") -> None:
        self._run([str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop"])

    def ensure_stopped(self) -> None:
        """At the end, whatever state it is in: fast stop, else its postmaster killed by pid."""
        pid_file = self.data / "postmaster.pid"
        if not self.initialised or not pid_file.exists():
            return
        try:
            self.stop("fast")
            return
        except (RuntimeError, subprocess.TimeoutExpired):
            pass
        try:
            os.kill(int(pid_file.read_text().split()[0]), signal.SIGQUIT)
        except (OSError, ValueError, IndexError):
            pass


class RedisServer:
    """redis-server on a free loopback port, nothing saved to disk."""

    def __init__(self, root: Path, log: Path) -> None:
        self.port = free_port()
        root.mkdir(parents=True, exist_ok=True)
        binary = shutil.which("redis-server") or "redis-server"
        argv = [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                "--appendonly", "no", "--dir", str(root), "--logfile", ""]
        self.process = ManagedProcess("redis", argv, dict(os.environ), log, cwd=root)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process.start()
        wait_port(self.port)

    def stop(self) -> None:
        self.process.stop(timeout=10)


def chatdesk_environment(database_url: str, mlflow_url: str, redis_url: str,
                         workers: int = 2) -> dict[str, str]:
    """The settings every role gets, as a Kubernetes Deployment's env would set them; a
    developer's own CHATDESK_* variables are left out."""
    if not (VENV_BIN / "chatdesk").exists():
        raise RuntimeError(f"{VENV_BIN / 'chatdesk'} is missing: run `make install-dev` first")
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("CHATDESK_") and k != "PROMETHEUS_MULTIPROC_DIR"}
    env.update({
        "PATH": f"{VENV_BIN}:{env.get('PATH', '/usr/bin:/bin')}",
        "CHATDESK_ENV": "production",
        "CHATDESK_SECRET_KEY": secrets.token_urlsafe(48),
        "CHATDESK_DATABASE_URL": database_url,
        "CHATDESK_REDIS_URL": redis_url,
        "CHATDESK_BIND_HOST": "127.0.0.1",
        "CHATDESK_WORKERS": str(workers),
        "CHATDESK_TRUSTED_PROXIES": "1",
        "CHATDESK_LOG_JSON": "true",
        "CHATDESK_MESSAGE_RATE_LIMIT": "",
        "CHATDESK_CONVERSATION_RATE_LIMIT": "",
        "CHATDESK_MODELS_DIR": str(MODELS_DIR),
        "CHATDESK_MLFLOW_TRACKING_URI": mlflow_url,
    })
    return env


def entrypoint(role: str, *args: str) -> list[str]:
    """The image's entrypoint with a role, as the container runs it."""
    if os.access(ENTRYPOINT, os.X_OK):
        return [str(ENTRYPOINT), role, *args]
    return ["/bin/sh", str(ENTRYPOINT), role, *args]


def run_role(role: str, args: Sequence[str], env: Mapping[str, str], folder: Path, log: Path,
             stdin: str | None = None) -> None:
    """A one-off role (migrate, demo, a chatdesk command) with its own instance folder."""
    folder.mkdir(parents=True, exist_ok=True)
    run(entrypoint(role, *args), {**env, "CHATDESK_INSTANCE_PATH": str(folder)}, log, cwd=folder,
        stdin=stdin)


class WebInstance:
    """One ``entrypoint.sh web`` (gunicorn, gevent workers) on its own port and instance folder,
    like a pod with its volume; it keeps its port across restarts, as the proxy knows it by it."""

    def __init__(self, index: int, env: Mapping[str, str], folder: Path, log: Path) -> None:
        self.index = index
        self.name = f"web-{index}"
        self.port = free_port()
        folder.mkdir(parents=True, exist_ok=True)
        environment = {**env, "CHATDESK_PORT": str(self.port), "CHATDESK_INSTANCE_PATH": str(folder)}
        self.process = ManagedProcess(self.name, entrypoint("web"), environment, log, cwd=folder)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.process.start()

    def wait_ready(self, timeout: float = 180.0) -> float:
        return wait_http_ok(f"{self.url}/readyz", self.process, timeout)

    def stop(self) -> None:
        self.process.stop(timeout=40)


def start_all(instances: Sequence[WebInstance]) -> float:
    """Start every instance at once; the seconds until all are ready."""
    started = time.monotonic()
    for instance in instances:
        instance.start()
    for instance in instances:
        instance.wait_ready()
    return time.monotonic() - started
