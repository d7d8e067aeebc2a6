"""The run's figures: a table on the terminal, JSON and Markdown under benchmarks/results/."""

from __future__ import annotations

import json
import os
import platform
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tests.scale.accounting import Accounting
from tests.scale.services import ROOT

RESULTS = ROOT / "benchmarks" / "results"
NAME = "scale_out"


def machine() -> dict[str, Any]:
    return {"python": sys.version.split()[0], "platform": platform.platform(), "cpus": os.cpu_count(),
            "when": datetime.now(UTC).isoformat(timespec="seconds")}


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def checks_table(result: Accounting, strict: bool) -> str:
    return _table(["figure", "result", "target", "status"],
                  [[c.name, c.value, c.target, c.status(strict)] for c in result.checks])


def _detail(name: str, value: Any) -> str:
    """``down_s: 5.1`` as "down 5.1 s"."""
    if name.endswith("_s"):
        return f"{name[:-2].replace('_', ' ')} {value} s" if value is not None else f"{name[:-2]} -"
    return f"{name.replace('_', ' ')} {value}"


def windows_table(result: Accounting) -> str:
    rows = []
    for w in result.windows:
        errors = ", ".join(f"{k} ×{v}" for k, v in w.errors.items()) or "none"
        details = ", ".join(_detail(k, v) for k, v in w.details.items())
        rows.append([f"({w.code}) {w.title}", f"{w.at_s:.0f}", f"{w.seconds:.1f}", str(w.attempts),
                     str(w.acknowledged), errors, str(w.retried_by_proxy), details])
    return _table(["fault", "at s", "window s", "tries", "acknowledged", "failed tries seen by clients",
                   "retried by nginx", "details"], rows)


def deliveries_table(result: Accounting) -> str:
    rows = [[d["agent_instance"], d["stream_instance"],
             f"{d['seconds']:.3f} s" if d["seconds"] is not None else "never",
             str(d["post_status"]), str(d["stream_connects"])] for d in result.deliveries]
    return _table(["agent posts via", "customer stream on", "delivered after", "agent POST",
                   "stream connects"], rows)


def unreplied_lines(result: Accounting) -> list[str]:
    return [f"message {m['id']} without a reply (fault {m['fault'] or 'none'}): its tries "
            + ", ".join(m["tries"]) for m in result.unreplied[:10]]


def load_line(result: Accounting) -> str:
    load = result.load
    return (f"{load['customers']} customers, {load['conversations']} conversations, "
            f"{load['messages_sent']} messages ({load['messages_acknowledged']} acknowledged, "
            f"{load['messages_given_up']} given up), {load['tries']} tries ({load['retries']} retries, "
            f"{load['replayed_answers']} answered as replays) over {load['seconds']:.0f} s; "
            f"requests nginx retried on another instance: {load['retried_by_proxy']}; requests per "
            f"instance: {', '.join(f'{k} {v}' for k, v in load['requests_per_instance'].items())}; "
            f"failed tries outside the fault windows: {load['errors_outside_fault_windows'] or 'none'}")


def markdown(result: Accounting, info: dict[str, Any], strict: bool) -> str:
    machine_info = info["machine"]
    parts = [
        f"Scale-out run of {machine_info['when']} on {machine_info['cpus']} cores "
        f"({machine_info['platform']}, Python {machine_info['python']}): three `entrypoint.sh web` "
        "instances (2 gevent workers each) behind nginx, shared PostgreSQL and Redis, "
        f"{info['wall_seconds']:.0f} s in all.",
        "",
        checks_table(result, strict),
        "",
        windows_table(result),
        "",
        "Agent replies (e), from the agent's POST to the event on the customer's stream:",
        "",
        deliveries_table(result),
        "",
        f"Load: {load_line(result)}.",
        "",
        *(f"- {line}" for line in unreplied_lines(result)),
    ]
    return "\n".join(parts) + "\n"


def publish(result: Accounting, info: dict[str, Any], strict: bool) -> tuple[Path, Path]:
    RESULTS.mkdir(parents=True, exist_ok=True)
    data = {
        **info,
        "strict": strict,
        "passed": not result.failed(strict),
        "checks": [{**c.__dict__, "status": c.status(strict)} for c in result.checks],
        "faults": [w.__dict__ for w in result.windows],
        "agent_replies": result.deliveries,
        "postgres_down": result.postgres_down,
        "load": result.load,
        "unreplied_messages": result.unreplied[:50],
    }
    json_path = RESULTS / f"{NAME}.json"
    json_path.write_text(json.dumps(data, indent=2, default=str) + "\n")
    md_path = RESULTS / f"{NAME}.md"
    md_path.write_text(markdown(result, info, strict))
    return json_path, md_path


def print_report(result: Accounting, strict: bool) -> None:
    print()
    print(checks_table(result, strict))
    print()
    print(windows_table(result))
    print()
    print(deliveries_table(result))
    print()
    print(load_line(result))
    for line in unreplied_lines(result):
        print(line)
