"""``chatdesk export``: data for analysis and training, PII-redacted."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import click
from flask.cli import with_appcontext

from chatdesk.cli.schema import require_current_schema
from chatdesk.services import export


@click.group("export")
def export_group() -> None:
    """Export data (emails, card and phone numbers are masked)."""


@export_group.command("conversations")
@click.option("--out", "directory", required=True, type=click.Path(path_type=Path),
              help="Folder for conversations.jsonl and labelled.csv.")
@click.option("--since", type=click.DateTime(["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S"]),
              help="Only conversations started on or after this date (UTC).")
@click.option("--json", "as_json", is_flag=True, help="Print the counts as JSON.")
@with_appcontext
def conversations_command(directory: Path, since: datetime | None, as_json: bool) -> None:
    """Conversations as JSON lines (with how each reply was made, feedback and corrections), and
    labelled examples for training as CSV."""
    require_current_schema()
    start = since.replace(tzinfo=UTC) if since is not None else None
    counts = export.write_export(directory, start)
    if as_json:
        click.echo(json.dumps({**counts, "out": str(directory),
                               "since": start.date().isoformat() if start else None}))
    else:
        click.echo(f"{counts['conversations']} conversations and {counts['labelled_examples']} labelled "
                   f"examples written to {directory}.")



