"""The clients' records held against the database: what was acknowledged must be stored, once."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import psycopg

from tests.scale.faults import Delivery, FaultWindow
from tests.scale.load import Attempt
from tests.scale.nginx import ProxiedRequest

RECOVERY_TARGET_SECONDS = 10.0


@dataclass(frozen=True)
class StoredMessage:
    id: int
    conversation_id: str
    key: str | None
    replied: bool


def stored_customer_messages(dsn: str, conversation_ids: Sequence[str]) -> list[StoredMessage]:
    """Every customer message of these conversations, and whether anything replies to it."""
    query = """
        SELECT m.id, m.conversation_id, m.idempotency_key,
               EXISTS (SELECT 1 FROM messages r WHERE r.reply_to_id = m.id) AS replied
        FROM messages m
        WHERE m.role = 'customer' AND m.conversation_id = ANY(%s)
        ORDER BY m.id
    """
    with psycopg.connect(dsn) as connection:
        rows = connection.execute(query, (list(conversation_ids),)).fetchall()
    return [StoredMessage(row[0], row[1], row[2], row[3]) for row in rows]


@dataclass
class Check:
    """One figure and its target. ``must_hold`` ones fail the run; ``strict`` ones only with --strict."""

    name: str
    value: str
    target: str
    ok: bool
    must_hold: bool = False
    strict: bool = False
    #: The figure as a number, for machines (None when there is none).
    figure: float | None = None

    def status(self, strict: bool) -> str:
        if self.ok:
            return "pass"
        if self.must_hold or (strict and self.strict):
            return "FAIL"
        return "reported"


@dataclass
class WindowSummary:
    code: str
    title: str
    at_s: float  # after the load started
    seconds: float
    attempts: int
    acknowledged: int
    errors: dict[str, int]
    #: Requests the proxy sent to another instance after the first failed (hidden from clients).
    retried_by_proxy: int
    details: dict[str, Any] = field(default_factory=dict)


@dataclass
class Accounting:
    checks: list[Check]
    windows: list[WindowSummary]
    load: dict[str, Any]
    postgres_down: dict[str, Any]
    deliveries: list[dict[str, Any]]
    unreplied: list[dict[str, Any]]

    def failed(self, strict: bool) -> list[Check]:
        return [check for check in self.checks if check.status(strict) == "FAIL"]


def _overlaps(attempt: Attempt, start: float, end: float) -> bool:
    return attempt.started <= end and attempt.ended >= start


def _errors(attempts: Iterable[Attempt]) -> dict[str, int]:
    return dict(Counter(a.outcome for a in attempts if not a.ok).most_common())


def _describe(outcomes: dict[str, int], retry_after: Counter[str]) -> str:
    if not outcomes:
        return "no failed tries"
    seen = ", ".join(f"{outcome} ×{count}" for outcome, count in outcomes.items())
    if not retry_after:
        return f"{seen}; no Retry-After"
    return f"{seen}; Retry-After " + ", ".join(f"{value} ×{count}" for value, count in retry_after.items())


def account(attempts: Sequence[Attempt], conversation_ids: Sequence[str], windows: Sequence[FaultWindow],
            deliveries: Sequence[Delivery], stored: Sequence[StoredMessage],
            proxied: Sequence[ProxiedRequest], run_start: float, aborted: str | None = None,
            instance_names: Mapping[str, str] | None = None) -> Accounting:
    messages = [a for a in attempts if a.kind == "message"]
    ledger = _ledger(messages, stored)
    unreplied = [m for m in stored if not m.replied]
    summaries = [_window_summary(w, attempts, proxied, run_start) for w in windows]
    steady = [a for a in attempts if not any(_overlaps(a, w.start, w.end) for w in windows)]
    rolling = next((w for w in windows if w.code == "b"), None)
    rolling_errors = _errors(a for a in attempts if rolling and _overlaps(a, rolling.start, rolling.end))
    postgres = _postgres_down(attempts, next((w for w in windows if w.code == "c"), None))
    for summary in summaries:
        if summary.code == "c":
            summary.details["clients_failing_s"] = postgres["outage_seen_by_clients_s"]

    acknowledged, duplicates = ledger["messages_acknowledged"], ledger["duplicates"]
    lost = len(ledger["lost"])
    recovery = postgres["recovery_s"]
    checks = [
        Check("faults (a) to (e) carried out", aborted or "yes", "yes", aborted is None, must_hold=True),
        Check("messages acknowledged (the load ran)", str(acknowledged), "> 0", acknowledged > 0,
              must_hold=True, figure=acknowledged),
        Check("acknowledged messages lost", str(lost), "0", not lost, must_hold=True, figure=lost),
        Check("duplicate messages", str(duplicates), "0", duplicates == 0, must_hold=True, figure=duplicates),
        Check("client-visible errors during the rolling update (b)", _count(rolling_errors), "0",
              not rolling_errors, must_hold=True, figure=sum(rolling_errors.values())),
        _delivery_check(deliveries),
        Check("customer messages without a reply", str(len(unreplied)), "0 (later issue)",
              not unreplied, strict=True, figure=len(unreplied)),
        Check("what clients get while PostgreSQL is down", postgres["description"],
              "503 with Retry-After (later issue)", postgres["only_503_with_retry_after"], strict=True,
              figure=postgres["other_than_503_with_retry_after"]),
        Check("seconds until a message is acknowledged after PostgreSQL is back", _seconds(recovery),
              f"≤ {RECOVERY_TARGET_SECONDS:.0f} s (later issue)",
              recovery is not None and recovery <= RECOVERY_TARGET_SECONDS, strict=True, figure=recovery),
    ]
    load = {
        "customers": len({a.customer for a in attempts}),
        "conversations": len(conversation_ids),
        **ledger,
        "errors_outside_fault_windows": _errors(steady),
        "retried_by_proxy": sum(1 for r in proxied if r.retried),
        "requests_per_instance": _per_instance(proxied, instance_names or {}),
        "seconds": round(max((a.ended for a in attempts), default=run_start) - run_start, 1),
    }
    return Accounting(checks, summaries, load, postgres, [d.__dict__ for d in deliveries],
                      [_unreplied(m, messages, windows) for m in unreplied])


def _per_instance(proxied: Sequence[ProxiedRequest], names: Mapping[str, str]) -> dict[str, int]:
    """Which instance answered each request the proxy passed on (its last try)."""
    return dict(sorted(Counter(names.get(r.upstreams[-1], r.upstreams[-1]) for r in proxied).items()))


def _ledger(messages: Sequence[Attempt], stored: Sequence[StoredMessage]) -> dict[str, Any]:
    """Keys sent, acknowledged and stored: lost ones (acknowledged, not stored) and duplicates
    (a key stored twice, a message stored without its key, one key answered with two ids)."""
    sent = {(a.conversation_id, a.key) for a in messages}
    acknowledged = {(a.conversation_id, a.key) for a in messages if a.acknowledged}
    ids_by_key: dict[tuple[str | None, str | None], set[str | None]] = defaultdict(set)
    for a in messages:
        if a.acknowledged:
            ids_by_key[(a.conversation_id, a.key)].add(a.message_id)
    rows_by_key = Counter((m.conversation_id, m.key) for m in stored)
    duplicate_rows = sum(n - 1 for n in rows_by_key.values() if n > 1)
    keyless_rows = sum(1 for m in stored if m.key is None)
    different_ids = sum(1 for ids in ids_by_key.values() if len(ids) > 1)
    given_up = sent - acknowledged
    return {
        "messages_sent": len(sent),
        "messages_acknowledged": len(acknowledged),
        "messages_given_up": len(given_up),
        "given_up_but_stored": len(given_up & set(rows_by_key)),
        "tries": len(messages),
        "retries": len(messages) - len(sent),
        "replayed_answers": sum(1 for a in messages if a.replayed),
        "lost": [list(k) for k in sorted(acknowledged - set(rows_by_key), key=str)],
        "duplicates": duplicate_rows + keyless_rows + different_ids,
        "duplicate_rows": duplicate_rows,
        "rows_without_key": keyless_rows,
        "keys_answered_with_different_ids": different_ids,
    }


def _unreplied(message: StoredMessage, attempts: Sequence[Attempt],
               windows: Sequence[FaultWindow]) -> dict[str, Any]:
    """A message left without a reply, with what its client saw and during which fault."""
    tries = [a for a in attempts if (a.conversation_id, a.key) == (message.conversation_id, message.key)]
    first = min(tries, key=lambda a: a.started, default=None)
    during = [w.code for w in windows if first is not None and _overlaps(first, w.start, w.end)]
    return {"id": message.id, "conversation": message.conversation_id, "key": message.key,
            "fault": ",".join(during) or None,
            "tries": [a.outcome + (" replayed" if a.replayed else "") + ("" if a.reply_id else " no reply")
                      for a in sorted(tries, key=lambda a: a.started)]}


def _window_summary(window: FaultWindow, attempts: Sequence[Attempt], proxied: Sequence[ProxiedRequest],
                    run_start: float) -> WindowSummary:
    inside = [a for a in attempts if _overlaps(a, window.start, window.end)]
    retried = sum(1 for r in proxied if r.retried and window.start <= r.ended <= window.end)
    return WindowSummary(window.code, window.title, round(window.start - run_start, 1),
                         round(window.end - window.start, 2), len(inside),
                         sum(1 for a in inside if a.acknowledged), _errors(inside), retried, window.details)


def _postgres_down(attempts: Sequence[Attempt], window: FaultWindow | None) -> dict[str, Any]:
    if window is None:
        return {"description": "not run", "only_503_with_retry_after": False,
                "other_than_503_with_retry_after": None, "recovery_s": None, "outage_seen_by_clients_s": None}
    up = window.marks["up"]
    during = [a for a in attempts if _overlaps(a, window.start, up)]  # from the stop being asked for
    failed = [a for a in during if not a.ok]
    outcomes = _errors(during)
    retry_after = Counter(a.retry_after for a in failed if a.retry_after is not None)
    after = sorted(a.ended for a in attempts if a.acknowledged and a.ended >= up)
    recovery = round(after[0] - up, 2) if after else None
    first_failure = min((a.ended for a in attempts if not a.ok and a.ended >= window.start), default=None)
    outage = None
    if first_failure is not None:
        back = [t for t in after if t > first_failure]
        outage = round(back[0] - first_failure, 2) if back else None
    return {
        "description": _describe(outcomes, retry_after),
        "tries": len(during),
        "outcomes": outcomes,
        "retry_after": dict(retry_after),
        "only_503_with_retry_after": all(a.status == 503 and a.retry_after for a in failed),
        "other_than_503_with_retry_after": sum(1 for a in failed if not (a.status == 503 and a.retry_after)),
        "recovery_s": recovery,
        "outage_seen_by_clients_s": outage,
    }


def _delivery_check(deliveries: Sequence[Delivery]) -> Check:
    if not deliveries:
        return Check("agent reply delivered across instances (e)", "not run", "delivered", False,
                     must_hold=True)
    times = [d.seconds for d in deliveries]
    value = ", ".join(f"{t:.2f} s" if t is not None else "never" for t in times)
    delivered = [t for t in times if t is not None]
    return Check("agent reply delivered across instances (e)", value, "delivered",
                 len(delivered) == len(times), must_hold=True,
                 figure=max(delivered) if len(delivered) == len(times) else None)


def _count(errors: dict[str, int]) -> str:
    total = sum(errors.values())
    if not total:
        return "0"
    return f"{total} (" + ", ".join(f"{k} ×{v}" for k, v in errors.items()) + ")"


def _seconds(value: float | None) -> str:
    return f"{value:.1f} s" if value is not None else "never"
