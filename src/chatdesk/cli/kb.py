"""``chatdesk kb``: ingest and search the knowledge base."""

from __future__ import annotations

import json
from pathlib import Path

import click
from flask.cli import with_appcontext
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from chatdesk.cli.schema import require_current_schema
from chatdesk.services import knowledge
from chatdesk.services.runtime import current_runtime, current_settings


@click.group("kb")
def kb_group() -> None:
    """Knowledge base: ingest articles, search them."""


def run_ingest(paths: list[Path], as_json: bool) -> knowledge.IngestReport:
    console = Console(stderr=True)
    files, skipped = knowledge.collect_files(paths)
    embedder = current_runtime().embedder()
    with Progress(TextColumn("[bold]Ingesting"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), TextColumn("{task.description}"), console=console,
                  disable=as_json) as progress:
        task = progress.add_task("", total=len(files))
        report = knowledge.ingest_files(
            files, embedder, progress=lambda path: progress.update(task, advance=1,
                                                                   description=path.name))
    report.errors.update(skipped)
    if as_json:
        click.echo(json.dumps(report.as_dict(), indent=2))
    else:
        if report.reembedded:
            console.print(f"{len(report.reembedded)} articles embedded again with {embedder.name}.")
        console.print(
            f"{len(report.added)} added, {len(report.updated)} updated, "
            f"{len(report.unchanged)} unchanged, {len(report.errors)} failed; "
            f"knowledge base version {report.version}."
        )
        for path, error in report.errors.items():
            console.print(f"[red]failed[/red] {path}: {error}")
    return report


@kb_group.command("ingest")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@with_appcontext
def ingest_command(paths: tuple[Path, ...], as_json: bool) -> None:
    """Add or update articles from markdown, text and HTML files or folders."""
    require_current_schema()
    report = run_ingest(list(paths), as_json)
    if report.errors and not (report.added or report.updated or report.unchanged):
        raise SystemExit(1)


@kb_group.command("reembed")
@with_appcontext
def reembed_command() -> None:
    """Embed every article again with the configured embedding model."""
    require_current_schema()
    embedder = current_runtime().embedder()
    report = knowledge.reembed(embedder)
    click.echo(f"{len(report.reembedded)} articles embedded with {embedder.name}; "
               f"knowledge base version {report.version}.")


@kb_group.command("search")
@click.argument("query")
@click.option("-k", "--limit", default=5, show_default=True, help="How many articles to show.")
@click.option("--json", "as_json", is_flag=True, help="Print the hits as JSON.")
@with_appcontext
def search_command(query: str, limit: int, as_json: bool) -> None:
    """Rank articles for QUERY, with the hybrid score and its dense and lexical parts."""
    require_current_schema()
    result = knowledge.search(query, k=limit)
    threshold = current_settings().retrieval_min_score
    hits = [
        {"rank": rank, "score": round(hit.score, 4), "dense": round(hit.dense, 4),
         "lexical": round(hit.lexical, 4), "answerable": hit.score >= threshold,
         "slug": hit.chunk.slug, "title": hit.chunk.title, "heading": hit.chunk.heading,
         "url": hit.chunk.url}
        for rank, hit in enumerate(result.hits, start=1)
    ]
    if as_json:
        click.echo(json.dumps({"query": query, "threshold": threshold, "hits": hits}, indent=2))
        return
    table = Table(title=f"{query!r} (answer threshold {threshold})")
    for column in ("#", "score", "dense", "lexical", "article", "section"):
        table.add_column(column)
    for hit in hits:
        style = None if hit["answerable"] else "dim"
        table.add_row(str(hit["rank"]), f"{hit['score']:.3f}", f"{hit['dense']:.3f}",
                      f"{hit['lexical']:.3f}", str(hit["slug"]), str(hit["heading"]), style=style)
    Console().print(table)
    if not hits or not hits[0]["answerable"]:
        Console().print("No good match: the bot would say it does not know.")
