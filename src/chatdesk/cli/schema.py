"""Checks that the database has the schema this code expects, with advice when it does not."""

from __future__ import annotations

import click
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import current_app

from chatdesk.extensions import db


def schema_is_current() -> bool:
    config = current_app.extensions["migrate"].migrate.get_config()
    heads = set(ScriptDirectory.from_config(config).get_heads())
    with db.engine.connect() as connection:
        current = set(MigrationContext.configure(connection).get_current_heads())
    return current == heads


def require_current_schema() -> None:
    if not schema_is_current():
        raise click.ClickException(
            "The database schema is missing or out of date. Run `chatdesk db upgrade` first."
        )
