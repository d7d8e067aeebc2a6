"""``chatdesk keys``: API keys for the OpenAI-compatible endpoint."""

from __future__ import annotations

import json

import click
from flask.cli import with_appcontext

from chatdesk.cli.schema import require_current_schema
from chatdesk.errors import ChatdeskError
from chatdesk.services import api_keys


@click.group("keys")
def keys_group() -> None:
    """API keys for /v1/chat/completions."""


@keys_group.command("create")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print the key as JSON.")
@with_appcontext
def create_command(name: str, as_json: bool) -> None:
    """Make a key; it is printed once (only its hash is kept)."""
    require_current_schema()
    try:
        record, key = api_keys.create_key(name)
    except ChatdeskError as error:
        raise click.ClickException(error.detail) from None
    if as_json:
        click.echo(json.dumps({"id": record.id, "name": record.name, "key": key}))
    else:
        click.echo(key)
        click.echo(f"Key {record.id} ({record.name}). Keep it now: it cannot be shown again.", err=True)


@keys_group.command("list")
@with_appcontext
def list_command() -> None:
    """Every key: id, name, the first characters, state, last use."""
    require_current_schema()
    for record in api_keys.list_keys():
        used = record.last_used_at.isoformat(timespec="seconds") if record.last_used_at else "never"
        state = "active" if record.active else "revoked"
        click.echo(f"{record.id:>4}  {record.prefix}…  {state:<8} last used {used}  {record.name}")


@keys_group.command("revoke")
@click.argument("key_id", type=int)
@with_appcontext
def revoke_command(key_id: int) -> None:
    """Stop a key working."""
    require_current_schema()
    try:
        record = api_keys.revoke(key_id)
    except ChatdeskError as error:
        raise click.ClickException(error.detail) from None
    click.echo(f"Revoked key {record.id} ({record.name}).")
