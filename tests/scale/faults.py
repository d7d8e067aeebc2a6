"""The faults, each what Kubernetes (or an operator) does to a running deployment, each marking
the window in which the clients' tries are judged."""

from __future__ import annotations

import signal
import time
from dataclasses import dataclass, field
from typing import Any

import requests

from tests.scale.cluster import AGENT_EMAIL, Cluster
from tests.scale.streams import ConversationStream

GRACE_SECONDS = 45.0  # longer than gunicorn's graceful timeout (30 s), as terminationGracePeriodSeconds


@dataclass
class FaultWindow:
    """What was done, and when: clients' tries overlapping [start, end] are counted against it."""

    code: str
    title: str
    start: float
    end: float
    details: dict[str, Any] = field(default_factory=dict)
    #: Moments inside the window (time.monotonic()) the accounting measures from.
    marks: dict[str, float] = field(default_factory=dict)


def kill_instance(cluster: Cluster, index: int, down_seconds: float) -> FaultWindow:
    """(a) A pod dies: SIGKILL to every process of one instance; it is started again (as the
    kubelet restarts the container) after ``down_seconds``."""
    instance = cluster.web[index]
    start = time.monotonic()
    instance.process.kill()
    time.sleep(down_seconds)
    restarted = time.monotonic()
    instance.start()
    ready = instance.wait_ready()
    return FaultWindow("a", f"SIGKILL {instance.name} (all its processes), started again after "
                            f"{down_seconds:.0f} s", start, time.monotonic(),
                       {"instance": instance.name, "down_s": round(restarted - start, 2),
                        "ready_after_start_s": round(ready, 2)})


def rolling_restart(cluster: Cluster, index: int, settle_seconds: float = 2.0) -> FaultWindow:
    """(b) A rolling update: SIGTERM to the instance's main process (the container's PID 1),
    wait for it to exit, start it again, wait until it is ready."""
    instance = cluster.web[index]
    start = time.monotonic()
    instance.process.send(signal.SIGTERM)
    code = instance.process.wait(GRACE_SECONDS)
    killed = code is None
    if killed:  # the grace period is over: Kubernetes would SIGKILL it now
        instance.process.kill()
    stopped = time.monotonic()
    instance.start()
    ready = instance.wait_ready()
    time.sleep(settle_seconds)  # the first requests on the new instance count too
    return FaultWindow("b", f"SIGTERM {instance.name}, wait for it to exit, start it again "
                            "(a rolling update)", start, time.monotonic(),
                       {"instance": instance.name, "graceful_stop_s": round(stopped - start, 2),
                        "exit_code": code, "killed_after_grace": killed,
                        "ready_after_start_s": round(ready, 2)})


def restart_postgres(cluster: Cluster, down_seconds: float) -> FaultWindow:
    """(c) PostgreSQL restarts (fast shutdown: sessions are ended), down for ``down_seconds``."""
    start = time.monotonic()
    cluster.postgres.stop("fast")
    stopped = time.monotonic()
    time.sleep(down_seconds)
    cluster.postgres.start()
    up = time.monotonic()
    return FaultWindow("c", f"PostgreSQL stopped (fast), started again after {down_seconds:.0f} s",
                       start, up, {"stop_s": round(stopped - start, 2), "down_s": round(up - stopped, 2)},
                       {"stopped": stopped, "up": up})


def restart_redis(cluster: Cluster, down_seconds: float) -> FaultWindow:
    """(d) Redis restarts (nothing persisted: cache, limits and pub/sub start empty)."""
    start = time.monotonic()
    cluster.redis.stop()
    stopped = time.monotonic()
    time.sleep(down_seconds)
    cluster.redis.start()
    up = time.monotonic()
    return FaultWindow("d", f"Redis stopped, started again after {down_seconds:.0f} s", start, up,
                       {"down_s": round(up - stopped, 2)}, {"stopped": stopped, "up": up})


@dataclass
class Delivery:
    agent_instance: str
    stream_instance: str
    seconds: float | None  # None: never arrived
    post_status: int | None
    post_seconds: float | None
    stream_connects: int
    stream_errors: list[str]


@dataclass
class _Round:
    """One customer waiting on a stream for one agent's reply."""

    agent: str
    customer: str
    reply_url: str = ""
    stream: ConversationStream | None = None
    error: str | None = None


class AgentReplies:
    """(e) An agent replies through one instance while the customer's event stream is open on
    another. The streams are opened by ``prepare()`` (before Redis restarts), the replies sent by
    ``deliver()``: a customer has been waiting on their stream when the agent answers."""

    def __init__(self, cluster: Cluster, pairs: list[tuple[int, int | None]]) -> None:
        """``pairs``: (the agent's instance, the customer's stream's instance, None for the proxy)."""
        self.cluster = cluster
        self.pairs = pairs
        self.session = requests.Session()
        self.staff_token = ""
        self.rounds: list[_Round] = []

    def prepare(self) -> None:
        for agent, customer in self.pairs:
            stream_url = self.cluster.web[customer].url if customer is not None else self.cluster.url
            where = self.cluster.web[customer].name if customer is not None else "nginx (any instance)"
            round_ = _Round(self.cluster.web[agent].name, where)
            self.rounds.append(round_)
            try:
                self._open(round_, self.cluster.web[agent].url, stream_url)
            except (requests.RequestException, RuntimeError, KeyError, ValueError) as error:
                round_.error = f"setting up: {type(error).__name__}: {error}"

    def _open(self, round_: _Round, agent_url: str, stream_url: str) -> None:
        base = self.cluster.url
        if not self.staff_token:
            login = self.session.post(f"{base}/api/v1/auth/token", timeout=30,
                                      json={"email": AGENT_EMAIL, "password": self.cluster.agent_password})
            login.raise_for_status()
            self.staff_token = login.json()["access_token"]
        created = self.session.post(f"{base}/api/v1/conversations", json={}, timeout=30)
        created.raise_for_status()
        conversation, token = created.json()["id"], created.json()["token"]
        self.session.post(f"{base}/api/v1/conversations/{conversation}/handoff", json={},
                          headers={"Authorization": f"Bearer {token}"}, timeout=30).raise_for_status()
        claimed = self.session.post(f"{agent_url}/api/v1/inbox/{conversation}/claim",
                                    headers=self._staff(), timeout=30)
        claimed.raise_for_status()
        last_id = claimed.json()["messages"][-1]["id"]
        round_.reply_url = f"{agent_url}/api/v1/inbox/{conversation}/messages"
        round_.stream = ConversationStream(stream_url, conversation, token, last_id)
        round_.stream.open()

    def deliver(self, timeout: float) -> tuple[FaultWindow, list[Delivery]]:
        start = time.monotonic()
        deliveries = [self._one(round_, timeout) for round_ in self.rounds]
        return FaultWindow("e", "an agent replies through one instance, the customer's event stream "
                                "is on another", start, time.monotonic()), deliveries

    def close(self) -> None:
        for round_ in self.rounds:
            if round_.stream is not None:
                round_.stream.close()
        self.session.close()

    def _staff(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.staff_token}"}

    def _one(self, round_: _Round, timeout: float) -> Delivery:
        stream = round_.stream
        if stream is None:
            return Delivery(round_.agent, round_.customer, None, None, None, 0, [round_.error or "no stream"])
        sent = time.monotonic()
        status: int | None = None
        try:
            status = self.session.post(round_.reply_url, json={"text": "Hello, this is Sam from the team."},
                                       headers=self._staff(), timeout=30).status_code
        except requests.RequestException as error:
            stream.errors.append(f"agent reply failed: {error}")
        answered = time.monotonic()
        event = stream.wait_for("agent", timeout) if status == 201 else None
        return Delivery(round_.agent, round_.customer,
                        round(event.arrived - sent, 3) if event is not None else None, status,
                        round(answered - sent, 3), stream.connects, list(stream.errors))

