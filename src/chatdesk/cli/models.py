"""``chatdesk train``, ``chatdesk evaluate`` and ``chatdesk models``: the intent model's life."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
from flask.cli import with_appcontext
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from chatdesk.cli.schema import require_current_schema
from chatdesk.errors import ChatdeskError
from chatdesk.extensions import db
from chatdesk.nlu import (
    Evaluation,
    IntentDataError,
    IntentDataset,
    TrainingConfig,
    evaluate_model,
    format_evaluation,
    make_dataset,
    read_intents_csv,
    write_report,
)
from chatdesk.services import export, intent_models, promotion
from chatdesk.services.intent_models import IntentRules
from chatdesk.services.runtime import current_runtime, current_settings

# The figures a promotion verdict shows for each version.
SUMMARY_FIGURES = ("accuracy", "macro_f1", "in_scope_accuracy", "oos_recall", "oos_precision", "n_examples",
                   "n_predicted_out_of_scope")


class BadInput(click.ClickException):
    """Bad data or an unknown version: exit code 2, nothing registered, nothing activated."""

    exit_code = 2


@contextmanager
def _progress(enabled: bool) -> Iterator[Callable[[str, int, int], None]]:
    console = Console(stderr=True)
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=console, disable=not enabled) as progress:
        tasks: dict[str, Any] = {}

        def report(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = progress.add_task(stage, total=max(total, 1))
            progress.update(tasks[stage], completed=done, total=max(total, 1))

        yield report


def _dataset(path: Path, text_column: str, label_column: str) -> Any:
    """One file's examples; a single intent is fine here (the training set as a whole is checked)."""
    try:
        return read_intents_csv(path, text_column=text_column, label_column=label_column, min_intents=1)
    except IntentDataError as error:
        raise BadInput(str(error)) from None


data_options = [
    click.option("--text-column", default="text", show_default=True),
    click.option("--label-column", default="intent", show_default=True),
    click.option("--oos-label", default=None, help="The label of examples that belong to no intent."),
    click.option("--json", "as_json", is_flag=True, help="Print the result as JSON."),
]


def _with(options: list[Any]) -> Callable[[Any], Any]:
    def decorate(function: Any) -> Any:
        for option in reversed(options):
            function = option(function)
        return function
    return decorate


@click.command("train")
@click.option("--data", "data_paths", multiple=True, type=click.Path(path_type=Path),
              help="CSV of examples with a header row (repeat to train on several files). "
                   "Default: CHATDESK_TRAIN_DATA.")
@click.option("--taught", is_flag=True,
              help="Also train on what agents and customers taught the bot (the labelled examples "
                   "`export conversations` writes), read from the database.")
@click.option("--eval", "eval_path", type=click.Path(path_type=Path),
              help="Also score the model on this CSV (logged with the run). Default: CHATDESK_TRAIN_EVAL.")
@click.option("--responses", "responses_path", type=click.Path(path_type=Path),
              help="YAML: what each intent answers (a response, or the article it is about). "
                   "Default: CHATDESK_TRAIN_RESPONSES.")
@click.option("--activate", is_flag=True, help="Serve this version as soon as it is registered.")
@click.option("--promote-if-better", "promote", is_flag=True,
              help="Score the active version on --eval too, and serve the new one only if its accuracy "
                   "is higher by at least --min-gain.")
@click.option("--min-gain", type=click.FloatRange(0, 1), default=None,
              help="With --promote-if-better: the accuracy gain needed (0.01 is one point). "
                   "Default: CHATDESK_TRAIN_MIN_GAIN, or 0 (any gain).")
@click.option("--oos-recall-weight", type=click.FloatRange(0, 1), default=None,
              help="How much the out-of-scope rule favours catching unknown messages over answering. "
                   "Default: CHATDESK_TRAIN_OOS_RECALL_WEIGHT, or 0.5.")
@_with(data_options)
@with_appcontext
def train_command(data_paths: tuple[Path, ...], taught: bool, eval_path: Path | None,
                  responses_path: Path | None, activate: bool, promote: bool, min_gain: float | None,
                  oos_recall_weight: float | None, text_column: str, label_column: str, oos_label: str | None,
                  as_json: bool) -> None:
    """Train an intent model, log the run to MLflow and register it as a new version."""
    settings = current_settings()
    data_paths = data_paths or ((settings.train_data,) if settings.train_data else ())
    eval_path = eval_path or settings.train_eval
    responses_path = responses_path or settings.train_responses
    _check_usage(data_paths, eval_path, activate, promote, min_gain)
    require_current_schema()
    evaluation_data = _dataset(eval_path, text_column, label_column) if eval_path else None
    dataset, taught_count = _training_examples(data_paths, text_column, label_column, taught, evaluation_data)
    try:
        rules = IntentRules.read(responses_path) if responses_path else None
    except ChatdeskError as error:
        raise BadInput(error.detail) from None
    embedder = current_runtime().embedder()
    config = TrainingConfig(oos_label=oos_label, oos_recall_weight=settings.train_oos_recall_weight
                            if oos_recall_weight is None else oos_recall_weight)
    outcome: promotion.Promotion | None = None
    try:
        with _progress(not as_json) as progress:
            if promote and evaluation_data is not None:
                outcome = promotion.train_and_promote(
                    dataset, embedder, settings, config=config, evaluation_data=evaluation_data,
                    min_gain=settings.train_min_gain if min_gain is None else min_gain, rules=rules,
                    progress=progress)
                trained = outcome.trained
            else:
                trained = intent_models.train_and_register(
                    dataset, embedder, settings, rules=rules, config=config,
                    evaluation_data=evaluation_data, progress=progress)
    except IntentDataError as error:
        raise BadInput(str(error)) from None
    except promotion.ActiveVersionUnavailable as error:
        raise click.ClickException(error.detail) from None
    if activate:
        intent_models.activate(settings, trained.version, embedder)
    activated = activate or (outcome is not None and outcome.verdict.promoted)
    result = {"version": trained.version, "run_id": trained.run_id, "activated": activated,
              "examples": len(dataset), "taught_examples": taught_count,
              "chosen": trained.report.chosen, "validation": trained.report.validation,
              "timings": trained.report.timings,
              "evaluation": trained.evaluation.as_dict() if trained.evaluation else None,
              **(_verdict(outcome) if outcome else {})}
    if as_json:
        click.echo(json.dumps(result, indent=2, default=str))
        return
    console = Console()
    console.print(f"Registered version [bold]{trained.version}[/bold] of {settings.intent_model_name} "
                  f"(run {trained.run_id}){' and activated it' if activate else ''}.")
    console.print(f"Trained on {len(dataset)} examples ({taught_count} taught).")
    console.print(f"Chosen: {trained.report.chosen}")
    console.print(f"Validation: {_figures(trained.report.validation)}")
    if trained.evaluation is not None:
        console.print(format_evaluation(trained.evaluation))
    if outcome is not None:
        _print_verdict(console, outcome)


def _training_examples(data_paths: tuple[Path, ...], text_column: str, label_column: str, taught: bool,
                       held_out: IntentDataset | None) -> tuple[IntentDataset, int]:
    """The files' examples and, with ``taught``, what the bot was taught (none of the held-out
    examples); and how many were taught."""
    # Files after the first may be empty (an export with nothing new to learn yet).
    extra = [p for p in data_paths[1:] if _has_examples(p)]
    datasets = [_dataset(p, text_column, label_column) for p in (data_paths[0], *extra)]
    learnt = export.taught_dataset(held_out.texts if held_out is not None else ()) if taught else None
    return _combined(datasets + ([learnt] if learnt else [])), len(learnt) if learnt else 0


def _check_usage(data_paths: tuple[Path, ...], eval_path: Path | None, activate: bool, promote: bool,
                 min_gain: float | None) -> None:
    problem = None
    if not data_paths:
        problem = "Missing option '--data' (or set CHATDESK_TRAIN_DATA)."
    elif promote and eval_path is None:
        problem = ("--promote-if-better needs held-out examples to compare the versions on: "
                   "pass --eval HELDOUT.csv (or set CHATDESK_TRAIN_EVAL).")
    elif promote and activate:
        problem = "--promote-if-better and --activate cannot be used together: choose one."
    elif min_gain is not None and not promote:
        problem = "--min-gain only applies with --promote-if-better."
    if problem:
        raise click.UsageError(problem, click.get_current_context())


def _summary(version: str | None, evaluation: Evaluation) -> dict[str, Any]:
    figures = evaluation.as_dict()
    return {"version": version, **{key: figures[key] for key in SUMMARY_FIGURES}}


def _verdict(outcome: promotion.Promotion) -> dict[str, Any]:
    verdict = outcome.verdict
    return {"active_before": outcome.active_before, "promoted": verdict.promoted,
            "new": _summary(outcome.trained.version, outcome.new),
            "active": _summary(outcome.active_before, outcome.active) if outcome.active else None,
            "gain": verdict.gain, "min_gain": verdict.min_gain, "metric": verdict.metric,
            "baseline": verdict.baseline, "reason": verdict.reason}


def _print_verdict(console: Console, outcome: promotion.Promotion) -> None:
    verdict, version = outcome.verdict, outcome.trained.version
    if verdict.promoted:
        was = f" (was {outcome.active_before})" if outcome.active_before else ""
        console.print(f"[bold green]Promoted:[/bold green] version {version} is active{was}.")
    else:
        stays = (f"version {outcome.active_before} stays active" if outcome.active_before
                 else "no version is active")
        console.print(f"[bold yellow]Not promoted:[/bold yellow] {stays}; version {version} is registered.")
    console.print(f"Why: {verdict.reason}.")


def _has_examples(path: Path) -> bool:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return True  # let the reader report it
    return len([line for line in text.splitlines() if line.strip()]) > 1


def _combined(datasets: list[Any]) -> Any:
    try:
        return make_dataset([t for d in datasets for t in d.texts], [lb for d in datasets for lb in d.labels],
                            source=" + ".join(d.source for d in datasets))
    except IntentDataError as error:
        raise BadInput(str(error)) from None


def _figures(values: dict[str, Any]) -> str:
    return ", ".join(f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}" for k, v in values.items()
                     if isinstance(v, int | float))


@click.command("evaluate")
@click.option("--data", "data_path", required=True, type=click.Path(path_type=Path))
@click.option("--model", "version", default=None, help="A version number (default: the active one).")
@click.option("--report-dir", type=click.Path(path_type=Path),
              help="Write metrics.json, report.md and confusion.png here.")
@_with(data_options)
@with_appcontext
def evaluate_command(data_path: Path, version: str | None, report_dir: Path | None, text_column: str,
                     label_column: str, oos_label: str | None, as_json: bool) -> None:
    """Score a model version on a labelled CSV."""

    require_current_schema()
    settings = current_settings()
    dataset = _dataset(data_path, text_column, label_column)
    version = version or intent_models.active_version(db.session())
    if version is None:
        raise BadInput("No model version is active: pass --model VERSION (see `chatdesk models list`).")
    try:
        serving = intent_models.load_version(settings, version, current_runtime().embedder())
    except ChatdeskError as error:
        raise BadInput(error.detail) from None
    with _progress(not as_json) as progress:
        evaluation = evaluate_model(serving.model, dataset, oos_label, progress=progress)
    if report_dir is not None:
        write_report(evaluation, report_dir, title=f"{settings.intent_model_name} version {version}")
    if as_json:
        click.echo(json.dumps({"version": version, **evaluation.as_dict()}, indent=2, default=str))
    else:
        Console().print(f"Version {version} on {data_path}:\n{format_evaluation(evaluation)}")
        if report_dir is not None:
            Console().print(f"Report written to {report_dir}")


@click.group("models")
def models_group() -> None:
    """Intent-model versions: list them, choose the one that serves."""


@models_group.command("list")
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def list_command(as_json: bool) -> None:
    """Every registered version, its figures, and which one serves."""
    require_current_schema()
    rows = intent_models.list_versions(current_settings())
    if as_json:
        click.echo(json.dumps(rows, indent=2, default=str))
        return
    table = Table(title=current_settings().intent_model_name)
    for column in ("version", "active", "created", "validation accuracy", "eval accuracy", "data"):
        table.add_column(column)
    for row in rows:
        metrics = row["metrics"]
        table.add_row(row["version"], "●" if row["active"] else "", row["created"],
                      _percent(metrics.get("validation_accuracy")), _percent(metrics.get("eval_accuracy")),
                      Path(row["source"]).name)
    Console().print(table)


def _percent(value: float | None) -> str:
    return f"{value * 100:.2f}%" if value is not None else ""


@models_group.command("activate")
@click.argument("version")
@with_appcontext
def activate_command(version: str) -> None:
    """Serve VERSION from now on (running servers switch within seconds, no restart)."""
    require_current_schema()
    try:
        intent_models.activate(current_settings(), version, current_runtime().embedder())
    except ChatdeskError as error:
        raise BadInput(error.detail) from None
    click.echo(f"Version {version} is active.")
