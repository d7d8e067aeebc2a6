"""``chatdesk demo``: the demo store's knowledge base and intent model (safe to run again)."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from chatdesk.cli.kb import run_ingest
from chatdesk.cli.schema import require_current_schema
from chatdesk.extensions import db
from chatdesk.nlu import TrainingConfig, read_intents_csv
from chatdesk.services import intent_models
from chatdesk.services.intent_models import IntentRules, data_fingerprint
from chatdesk.services.runtime import current_runtime, current_settings

# The demo's validation split is tiny (a few examples per intent): a rule tuned for out-of-scope
# recall at 0.5 refuses too many real questions there (docs/intent-model.md).
DEMO_OOS_RECALL_WEIGHT = 0.3


@click.command("demo")
@with_appcontext
def demo_command() -> None:
    """Load the demo knowledge base and intent model of a fictional store. Idempotent."""
    require_current_schema()
    demo = current_settings().demo_path
    if not (demo / "kb").is_dir():
        raise click.ClickException(f"The demo data is not at {demo} (set CHATDESK_DEMO_PATH).")
    run_ingest([demo / "kb"], as_json=False)
    _demo_intents()


def _demo_intents() -> None:
    """Train the demo intents once (the same data gives the same version) and make them serve."""
    settings = current_settings()
    demo = settings.demo_path
    embedder = current_runtime().embedder()
    dataset = read_intents_csv(demo / "intents.csv")
    rules = IntentRules.read(demo / "intents.yaml")
    version = intent_models.version_trained_on(settings, data_fingerprint(dataset, rules, embedder))
    if version is None:
        click.echo(f"Training the demo intent model ({len(dataset)} examples, "
                   f"{len(dataset.intents)} intents)…", err=True)
        trained = intent_models.train_and_register(
            dataset, embedder, settings, rules=rules,
            config=TrainingConfig(oos_recall_weight=DEMO_OOS_RECALL_WEIGHT))
        version = trained.version
    if intent_models.active_version(db.session()) != version:
        intent_models.activate(settings, version, embedder)
    click.echo(f"Intent model version {version} is active.", err=True)
