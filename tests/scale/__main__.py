"""``python -m tests.scale``: run the scale-out harness; exit 1 when a must-hold figure fails,
2 when the harness itself could not run, 130 when interrupted."""

from __future__ import annotations

import argparse
import json
import shutil
import signal
import sys
import tempfile
import time
import traceback
from pathlib import Path
from types import FrameType

from tests.scale.cluster import running_cluster
from tests.scale.report import machine as machine_info
from tests.scale.report import print_report, publish
from tests.scale.scenario import Options, Outcome, run_scenario


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    defaults = Options()
    parser = argparse.ArgumentParser(prog="python -m tests.scale", description=__doc__)
    parser.add_argument("--strict", action="store_true",
                        help="also fail on the reported figures: unreplied messages, what clients get "
                             "while PostgreSQL is down (503 + Retry-After), recovery within 10 s")
    parser.add_argument("--customers", type=int, default=defaults.customers)
    parser.add_argument("--stretch", type=float, default=defaults.stretch,
                        help="seconds of steady load between faults")
    parser.add_argument("--postgres-down", type=float, default=defaults.postgres_down)
    parser.add_argument("--redis-down", type=float, default=defaults.redis_down)
    parser.add_argument("--keep", action="store_true", help="keep the run's folder even when it passes")
    return parser.parse_args(argv)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    """Ctrl-C or SIGTERM (CI giving up): stop everything as on a failure; a second signal is
    ignored so that the clean-up is not cut short (each of its steps has a time limit)."""
    for name in (signal.SIGINT, signal.SIGTERM):
        signal.signal(name, signal.SIG_IGN)
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    options = Options(customers=args.customers, stretch=args.stretch, postgres_down=args.postgres_down,
                      redis_down=args.redis_down)
    for name in (signal.SIGINT, signal.SIGTERM):  # also when started with SIGINT ignored (in background)
        signal.signal(name, _interrupt)
    run_dir = Path(tempfile.mkdtemp(prefix="chatdesk-scale-"))
    run_dir.chmod(0o755)  # the postgres user must reach its data folder inside
    started = time.monotonic()

    def say(text: str) -> None:
        print(f"[{time.monotonic() - started:6.1f} s] {text}", flush=True)

    code = 2
    outcome: Outcome | None = None
    setup: dict[str, float] = {}
    try:
        say(f"setting up in {run_dir}")
        with running_cluster(run_dir) as cluster:
            setup = {k: round(v, 1) for k, v in cluster.setup_seconds.items()}
            say(f"ready: {setup}")
            outcome = run_scenario(cluster, options, say)
            say("stopping every process")
        with (run_dir / "logs" / "attempts.jsonl").open("w") as handle:
            for attempt in outcome.attempts:
                handle.write(json.dumps(attempt.as_dict()) + "\n")
        info = {"machine": machine_info(), "wall_seconds": round(time.monotonic() - started, 1),
                "setup_seconds": setup, "options": options.__dict__}
        json_path, md_path = publish(outcome.result, info, args.strict)
        print_report(outcome.result, args.strict)
        failed = outcome.result.failed(args.strict)
        code = 1 if failed else 0
        print(f"\nsaved {json_path} and {md_path}; {info['wall_seconds']:.0f} s in all")
        if failed:
            print("FAILED: " + "; ".join(f"{c.name}: {c.value}" for c in failed))
        else:
            unchecked = "" if args.strict else " (the reported figures are checked only with --strict)"
            print("PASSED" + unchecked)
    except KeyboardInterrupt:
        print("\ninterrupted: everything started has been stopped", file=sys.stderr)
        code = 130
    except Exception:
        traceback.print_exc()
        code = 2
    finally:
        _clean_up(run_dir, keep=args.keep or code != 0)
    return code


def _clean_up(run_dir: Path, keep: bool) -> None:
    if not keep:
        shutil.rmtree(run_dir, ignore_errors=True)
        return
    shutil.rmtree(run_dir / "postgres" / "data", ignore_errors=True)  # large, and no use to read
    print(f"the run's logs are kept in {run_dir / 'logs'}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
