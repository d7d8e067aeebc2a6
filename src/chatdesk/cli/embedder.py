"""``chatdesk embedder``: prepare the sentence-embedding model where it will run."""

from __future__ import annotations

import json

import click
from flask.cli import with_appcontext

from chatdesk.retrieval.embedding import TOKENIZER_FILE, get_embedder
from chatdesk.services.runtime import current_settings


@click.group("embedder")
def embedder_group() -> None:
    """The sentence-embedding model (all-MiniLM-L6-v2, offline)."""


@embedder_group.command("export")
@click.option("--json", "as_json", is_flag=True, help="Print what was made as JSON.")
@with_appcontext
def export_command(as_json: bool) -> None:
    """Export the packaged weights to ONNX (and 8 bits, for the onnx-int8 backend) in
    CHATDESK_MODELS_DIR, with the tokenizer beside them. Needs the 'torch' extra; done once (the
    container image does it at build time), after which serving needs neither torch nor the
    packaged weights."""
    settings = current_settings()
    embedder = get_embedder(settings.embedding_backend, settings.models_path, settings.embedding_threads)
    vector = embedder.embed_one("Where is my parcel?")  # proves the export loads and runs
    folder = settings.models_path
    files = sorted(p.name for p in folder.iterdir() if p.suffix == ".onnx" or p.name == TOKENIZER_FILE)
    if as_json:
        click.echo(json.dumps({"models_dir": str(folder), "backend": settings.embedding_backend,
                               "embedder": embedder.name, "dimensions": int(vector.shape[0]),
                               "files": files}))
    else:
        click.echo(f"{embedder.name} ({settings.embedding_backend}) is ready in {folder}: {', '.join(files)}")
