"""The run: steady customer load through the proxy, and the faults (a) to (e) in turn, with a
stretch of steady load between each; then the accounting against the database."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from tests.scale.accounting import Accounting, account, stored_customer_messages
from tests.scale.cluster import Cluster
from tests.scale.faults import (
    AgentReplies,
    Delivery,
    FaultWindow,
    kill_instance,
    restart_postgres,
    restart_redis,
    rolling_restart,
)
from tests.scale.load import Attempt, LoadConfig, LoadDriver


@dataclass(frozen=True)
class Options:
    customers: int = 4
    #: Seconds of steady load before the first fault and between faults.
    stretch: float = 6.0
    kill_down: float = 5.0
    postgres_down: float = 5.0
    redis_down: float = 3.0
    #: Seconds after the load stops before replies are counted (time for a server to finish one).
    settle: float = 5.0
    delivery_timeout: float = 20.0


@dataclass
class Outcome:
    result: Accounting
    attempts: list[Attempt]


def run_scenario(cluster: Cluster, options: Options, say: Callable[[str], None]) -> Outcome:
    driver = LoadDriver(cluster.url, LoadConfig(customers=options.customers))
    # Each pair: (agent's instance, customer's stream's instance), every instance in each role once;
    # and one stream through the proxy, as a browser has it.
    replies = AgentReplies(cluster, [(0, 1), (1, 2), (2, 0), (0, None)])
    windows: list[FaultWindow] = []
    deliveries: list[Delivery] = []
    run_start = time.monotonic()

    def fault(window: FaultWindow) -> None:
        windows.append(window)
        say(f"({window.code}) {window.title}: {window.end - window.start:.1f} s {window.details or ''}")
        time.sleep(options.stretch)

    say(f"load: {options.customers} customers through nginx at {cluster.url}")
    aborted: str | None = None
    driver.start()
    try:
        time.sleep(options.stretch)
        fault(kill_instance(cluster, 0, options.kill_down))
        fault(rolling_restart(cluster, 1))
        fault(restart_postgres(cluster, options.postgres_down))
        replies.prepare()
        say("(e) customers wait for an agent on event streams opened on web-1, web-2, web-0 and "
            "through nginx")
        fault(restart_redis(cluster, options.redis_down))
        window, deliveries = replies.deliver(options.delivery_timeout)
        windows.append(window)
        say("(e) agent replies delivered after: "
            + ", ".join(f"{d.seconds:.3f} s" if d.seconds is not None else "never" for d in deliveries))
        time.sleep(options.stretch / 2)
    except RuntimeError as error:  # a server that would not start again: the rest is still counted
        aborted = str(error)
        say(f"the faults stopped early: {aborted}")
    finally:
        say("stopping the load (each customer finishes the message it is sending)")
        driver.stop()
        replies.close()
    time.sleep(options.settle)
    attempts = driver.snapshot()
    stored = stored_customer_messages(cluster.postgres.dsn, driver.conversations)
    names = {f"127.0.0.1:{instance.port}": instance.name for instance in cluster.web}
    result = account(attempts, driver.conversations, windows, deliveries, stored, cluster.nginx.requests(),
                     run_start, aborted, names)
    return Outcome(result, attempts)
