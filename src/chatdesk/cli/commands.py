"""The ``chatdesk`` command group: one Flask CLI group composed of one group per domain."""

from __future__ import annotations

import sys

import click
from flask import Flask
from flask.cli import FlaskGroup

from chatdesk.cli.demo import demo_command
from chatdesk.cli.embedder import embedder_group
from chatdesk.cli.export import export_group
from chatdesk.cli.kb import kb_group
from chatdesk.cli.keys import keys_group
from chatdesk.cli.models import evaluate_command, models_group, train_command
from chatdesk.cli.serve import serve_command
from chatdesk.cli.users import users_group
from chatdesk.errors import ConfigError


def _create_app() -> Flask:
    from chatdesk.app import create_app

    return create_app()


cli = FlaskGroup(
    create_app=_create_app,
    add_version_option=False,
    help="chatdesk: a self-hosted customer-service chatbot. Settings come from CHATDESK_* variables.",
)
cli.add_command(serve_command)
cli.add_command(demo_command)
cli.add_command(kb_group)
cli.add_command(users_group)
cli.add_command(keys_group)
cli.add_command(train_command)
cli.add_command(evaluate_command)
cli.add_command(models_group)
cli.add_command(export_group)
cli.add_command(embedder_group)


def run() -> None:
    try:
        cli.main(prog_name="chatdesk")
    except ConfigError as error:
        click.echo(f"Error: {error}", err=True)
        sys.exit(2)
