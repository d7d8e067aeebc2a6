"""The whole deployment on loopback: PostgreSQL, Redis, the prepared database, three web
instances and nginx in front, started in order and stopped in reverse, whatever happens."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from tests.scale.nginx import Nginx
from tests.scale.processes import wait_http_ok
from tests.scale.services import (
    PostgresServer,
    RedisServer,
    WebInstance,
    chatdesk_environment,
    run_role,
    start_all,
)

AGENT_EMAIL = "sam.agent@scale.test"


@dataclass
class Cluster:
    run_dir: Path
    logs: Path
    postgres: PostgresServer
    redis: RedisServer
    web: list[WebInstance]
    nginx: Nginx
    agent_password: str
    #: Seconds each step of the set-up took.
    setup_seconds: dict[str, float] = field(default_factory=dict)

    @property
    def url(self) -> str:
        """Where customers connect: the proxy."""
        return self.nginx.url


@contextmanager
def running_cluster(run_dir: Path, instances: int = 3, workers: int = 2) -> Iterator[Cluster]:
    logs = run_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    timings: dict[str, float] = {}
    with ExitStack() as stack:
        started = time.monotonic()
        postgres = PostgresServer(run_dir / "postgres", logs / "postgres.log")
        stack.callback(postgres.ensure_stopped)
        postgres.init()
        redis = RedisServer(run_dir / "redis", logs / "redis.log")
        stack.callback(redis.stop)
        redis.start()
        timings["postgres and redis"] = time.monotonic() - started

        env = chatdesk_environment(postgres.url, postgres.mlflow_url, redis.url, workers)
        setup = run_dir / "instances" / "setup"
        password = secrets.token_urlsafe(18)
        for role, args, stdin in (
            ("migrate", [], None),
            ("demo", [], None),
            ("users", ["create", AGENT_EMAIL, "--role", "agent", "--name", "Sam", "--password-stdin"],
             password + "\n"),
        ):
            started = time.monotonic()
            run_role(role, args, env, setup, logs / "setup.log", stdin)
            timings[role] = time.monotonic() - started

        web = [WebInstance(i, env, run_dir / "instances" / f"web-{i}", logs / f"web-{i}.log")
               for i in range(instances)]
        for instance in web:
            stack.callback(instance.stop)
        timings["web instances ready"] = start_all(web)

        nginx = Nginx(run_dir / "nginx", logs, [instance.port for instance in web])
        stack.callback(nginx.stop)
        nginx.start()
        wait_http_ok(f"{nginx.url}/readyz", nginx.process, timeout=30)
        yield Cluster(run_dir, logs, postgres, redis, web, nginx, password, timings)
