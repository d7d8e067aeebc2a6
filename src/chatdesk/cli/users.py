"""``chatdesk users``: staff accounts."""

from __future__ import annotations

import json
import sys

import click
from flask.cli import with_appcontext

from chatdesk.cli.schema import require_current_schema
from chatdesk.errors import ChatdeskError
from chatdesk.services import staff
from chatdesk.store.models import StaffRole


@click.group("users")
def users_group() -> None:
    """Staff accounts: agents, admins, analysts."""


@users_group.command("create")
@click.argument("email")
@click.option("--role", type=click.Choice(StaffRole.ALL), required=True)
@click.option("--name", default="", help="Shown to customers when this agent joins a conversation.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@click.option("--json", "as_json", is_flag=True, help="Print the account as JSON.")
@with_appcontext
def create_command(email: str, role: str, name: str, password_stdin: bool, as_json: bool) -> None:
    """Create a staff account (the password is asked for, or read from stdin)."""
    require_current_schema()
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        user = staff.create_user(email, role, password, name)
    except ChatdeskError as error:
        raise click.ClickException(error.detail) from None
    if as_json:
        click.echo(json.dumps({"id": user.id, "email": user.email, "role": user.role}))
    else:
        click.echo(f"Created {user.role} {user.email} (id {user.id}).")


@users_group.command("list")
@with_appcontext
def list_command() -> None:
    """Every staff account."""
    require_current_schema()
    for user in staff.list_users():
        state = "" if user.active else "  (disabled)"
        click.echo(f"{user.id:>4}  {user.role:<8} {user.email}{state}")
