"""``chatdesk demo``: load the demo store's knowledge base (safe to run again)."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from chatdesk.cli.kb import run_ingest
from chatdesk.cli.schema import require_current_schema
from chatdesk.services.runtime import current_settings


@click.command("demo")
@with_appcontext
def demo_command() -> None:
    """Load the demo knowledge base of a fictional store. Idempotent."""
    require_current_schema()
    kb_path = current_settings().demo_path / "kb"
    if not kb_path.is_dir():
        raise click.ClickException(f"The demo data is not at {kb_path} (set CHATDESK_DEMO_PATH).")
    run_ingest([kb_path], as_json=False)
