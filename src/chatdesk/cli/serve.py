"""``chatdesk serve``: the production web server (gunicorn)."""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path
from typing import Any

import click
from gunicorn.app.base import BaseApplication

from chatdesk.nlu import import_loader


class _Server(BaseApplication):
    def __init__(self, options: dict[str, Any]) -> None:
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        from chatdesk.app import create_app

        return create_app()


def _warm_up(worker: Any) -> None:
    """Load the embedder, the search index and the intent model before the first customer (or
    readiness probe) waits for them, and end open event streams when the worker is told to stop
    (or it would wait for them)."""
    from chatdesk.extensions import db
    from chatdesk.services import knowledge
    from chatdesk.services.runtime import current_runtime

    with worker.wsgi.app_context():
        runtime = current_runtime()
        events = runtime.events
        try:
            knowledge.current_index()
            runtime.intents.current(db.session(), runtime.settings, runtime.embedder())
        except Exception as error:  # the readiness probe will tell; don't kill the worker
            worker.log.warning("warm-up failed: %s", error)
        finally:
            db.session.remove()
    stop = worker.handle_exit

    def handle_exit(signum: int, frame: Any) -> None:
        events.shutdown()
        stop(signum, frame)

    worker.handle_exit = handle_exit
    signal.signal(signal.SIGTERM, handle_exit)


def _migrate_if_embedded() -> None:
    """The embedded default (SQLite, development) sets its own schema up; production does not."""
    from flask_migrate import upgrade

    from chatdesk.app import create_app
    from chatdesk.cli.schema import schema_is_current

    app = create_app()
    settings = app.extensions["chatdesk"].settings
    with app.app_context():
        if schema_is_current():
            return
        if settings.env == "development" and settings.sqlalchemy_url.startswith("sqlite"):
            click.echo("Setting up the embedded database…", err=True)
            upgrade()
            return
    raise click.ClickException("The database schema is out of date: run `chatdesk db upgrade`.")


def _stop_timers_before_fork() -> None:
    """The app made above to check the schema leaves a timer behind (the rate limiter's
    in-memory storage starts one). Under gevent a timer still pending when the workers are
    forked fails with a traceback in each of them, so it is stopped here; each worker makes its
    own app."""
    for thread in threading.enumerate():
        if isinstance(thread, threading.Timer):
            thread.cancel()
            thread.join(1)


# The request line without its query string: event streams carry tokens there.
ACCESS_LOG_FORMAT = '%(h)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(b)s %(M)sms "%(a)s"'


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=os.cpu_count() or 1, show_default="CPU count", type=int)
@click.option("--worker-class", type=click.Choice(["gevent", "gthread"]), default="gevent",
              show_default=True, help="gevent holds many open streams per worker; gthread one per thread.")
@click.option("--threads", default=2, show_default=True, type=int, help="Threads per worker (gthread).")
@click.option("--connections", default=1000, show_default=True, type=int,
              help="Open connections per worker (gevent).")
@click.option("--timeout", default=60, show_default=True, type=int)
def serve_command(host: str, port: int, workers: int, worker_class: str, threads: int,
                  connections: int, timeout: int) -> None:
    """Serve chatdesk with gunicorn."""
    _metrics_across_workers()
    _migrate_if_embedded()
    _stop_timers_before_fork()
    import_loader()  # once, before the workers are forked, instead of once in each
    click.echo(f"chatdesk is serving on http://{host}:{port}", err=True)
    _Server({
        "bind": f"{host}:{port}",
        "workers": workers,
        "worker_class": worker_class,
        "threads": threads,
        "worker_connections": connections,
        "timeout": timeout,
        "graceful_timeout": 30,
        "keepalive": 5,
        # Each worker listens on its own socket and the kernel spreads connections across
        # them; with one shared socket, one worker can end up holding most keep-alive clients.
        "reuse_port": True,
        # gunicorn's control socket has one path per user: several servers on a host would clash.
        "control_socket_disable": True,
        "accesslog": "-",
        "access_log_format": ACCESS_LOG_FORMAT,
        "post_worker_init": _warm_up,
        "child_exit": _worker_exited,
    }).run()


def _metrics_across_workers() -> None:
    """Prometheus numbers of every worker, added up at /metrics (a folder they all write to)."""
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if folder is None:
        from chatdesk.config import Settings

        folder = str(Settings().instance_path / "prometheus")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = folder
    path = Path(folder)
    path.mkdir(parents=True, exist_ok=True)
    for stale in path.glob("*.db"):  # numbers of a previous run
        stale.unlink()


def _worker_exited(server: Any, worker: Any) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
