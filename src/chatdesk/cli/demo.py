"""``chatdesk demo``: the demo store's knowledge base and intent model (safe to run again)."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from chatdesk.cli.kb import run_ingest
from chatdesk.cli.schema import require_current_schema
from chatdesk.services import intent_models
from chatdesk.services.runtime import current_runtime, current_settings


@click.command("demo")
@with_appcontext
def demo_command() -> None:
    """Load the demo knowledge base and intent model of a fictional store. Idempotent."""
    require_current_schema()
    demo = current_settings().demo_path
    if not (demo / "kb").is_dir():
        raise click.ClickException(f"The demo data is not at {demo} (set CHATDESK_DEMO_PATH).")
    run_ingest([demo / "kb"], as_json=False)
    version = intent_models.ensure_demo_model(
        current_settings(), current_runtime().embedder(),
        on_training=lambda examples, intents: click.echo(
            f"Training the demo intent model ({examples} examples, {intents} intents)…", err=True))
    click.echo(f"Intent model version {version} is active.", err=True)
