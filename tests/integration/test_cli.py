"""The chatdesk command line: db upgrade, demo, kb ingest, kb search."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from urllib.request import urlopen

import pytest
from flask import Flask

from chatdesk.cli.commands import cli
from chatdesk.cli.demo import demo_command
from chatdesk.cli.kb import kb_group
from tests.support.servers import serve_process

CHATDESK = Path(sys.executable).with_name("chatdesk")


@pytest.fixture
def articles(tmp_path: Path) -> Path:
    folder = tmp_path / "help"
    (folder / "nested").mkdir(parents=True)
    (folder / "gift-wrap.md").write_text(
        "# Gift wrap\n\n## Wrapping an order\n\nEvery order can be gift wrapped for £4 per item.\n")
    (folder / "nested" / "repairs.html").write_text(
        "<html><head><title>Repairs</title></head><body><h2>Shoe repairs</h2>"
        "<p>We resole leather shoes for £25 within 3 weeks.</p></body></html>")
    (folder / "parking.txt").write_text(
        "Parking\n\nFree customer parking is available behind the Bristol shop.\n")
    (folder / "notes.docx").write_bytes(b"PK")
    (folder / "broken.md").write_bytes(b"# Broken\n\n\xff\xfe not utf-8\n")
    return folder


def test_ingest_a_folder_of_markdown_html_and_text(empty_app: Flask, articles: Path) -> None:
    runner = empty_app.test_cli_runner()
    result = runner.invoke(kb_group, ["ingest", str(articles), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert sorted(report["added"]) == ["gift-wrap", "parking", "repairs"]
    assert list(report["errors"]) == [str(articles / "broken.md")]
    assert report["version"] == 1
    again = json.loads(runner.invoke(kb_group, ["ingest", str(articles), "--json"]).stdout)
    assert sorted(again["unchanged"]) == ["gift-wrap", "parking", "repairs"]
    assert again["version"] == 1


def test_a_changed_file_is_updated_and_bumps_the_version(empty_app: Flask, articles: Path) -> None:
    runner = empty_app.test_cli_runner()
    runner.invoke(kb_group, ["ingest", str(articles)])
    (articles / "parking.txt").write_text("Parking\n\nParking is now free for two hours.\n")
    report = json.loads(runner.invoke(kb_group, ["ingest", str(articles), "--json"]).stdout)
    assert report["updated"] == ["parking"] and report["version"] == 2


def test_unsupported_or_missing_paths_are_reported(empty_app: Flask, tmp_path: Path) -> None:
    runner = empty_app.test_cli_runner()
    result = runner.invoke(kb_group, ["ingest", str(tmp_path / "missing.md"),
                                      str(tmp_path / "file.pdf")])
    assert result.exit_code == 1
    assert "no such file or folder" in result.output


def test_ingest_shows_a_progress_summary(empty_app: Flask, articles: Path) -> None:
    result = empty_app.test_cli_runner().invoke(kb_group, ["ingest", str(articles)])
    assert "3 added, 0 updated, 0 unchanged, 1 failed" in result.output
    assert "knowledge base version 1" in result.output


def test_search_prints_ranked_hits_with_scores(app: Flask) -> None:
    runner = app.test_cli_runner()
    result = runner.invoke(kb_group, ["search", "can I pay with klarna", "--json", "-k", "3"])
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert len(body["hits"]) == 3
    assert body["hits"][0]["slug"] == "payment-methods" and body["hits"][0]["answerable"]
    scores = [h["score"] for h in body["hits"]]
    assert scores == sorted(scores, reverse=True)
    table = runner.invoke(kb_group, ["search", "can I pay with klarna"])
    assert "payment-methods" in table.output


def test_search_says_when_nothing_matches(app: Flask) -> None:
    result = app.test_cli_runner().invoke(kb_group, ["search", "what is the capital of peru"])
    assert "No good match" in result.output


def test_demo_loads_once_and_then_changes_nothing(empty_app: Flask) -> None:
    runner = empty_app.test_cli_runner()
    first = runner.invoke(demo_command)
    assert first.exit_code == 0, first.output
    assert "added, 0 updated, 0 unchanged, 0 failed" in first.output
    second = runner.invoke(demo_command)
    assert "0 added, 0 updated" in second.output and "version 1" in second.output


def test_commands_refuse_to_run_on_a_database_without_the_schema(tmp_path: Path) -> None:
    from chatdesk import create_app
    from tests.conftest import make_settings

    app = create_app(make_settings(tmp_path))
    result = app.test_cli_runner().invoke(demo_command)
    assert result.exit_code == 1
    assert "chatdesk db upgrade" in result.output


def test_the_console_script_upgrades_the_database_and_lists_its_commands(tmp_path: Path) -> None:
    env = {**os.environ, "CHATDESK_INSTANCE_PATH": str(tmp_path), "CHATDESK_LOG_LEVEL": "WARNING"}
    upgrade = subprocess.run([str(CHATDESK), "db", "upgrade"], env=env, capture_output=True,
                             text=True, timeout=120, check=False)
    assert upgrade.returncode == 0, upgrade.stderr
    assert (tmp_path / "chatdesk.db").exists()
    help_text = subprocess.run([str(CHATDESK), "--help"], env=env, capture_output=True, text=True,
                               timeout=60, check=True).stdout
    for command in ("serve", "demo", "kb", "db"):
        assert f"  {command}" in help_text


def test_the_group_has_help_for_every_command() -> None:
    from click.testing import CliRunner

    for args in (["serve", "--help"], ["kb", "ingest", "--help"], ["kb", "search", "--help"],
                 ["demo", "--help"]):
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 0 and "Usage:" in result.output


def test_production_without_a_secret_key_stops_with_advice(tmp_path: Path) -> None:
    env = {**os.environ, "CHATDESK_INSTANCE_PATH": str(tmp_path), "CHATDESK_ENV": "production"}
    env.pop("CHATDESK_SECRET_KEY", None)
    result = subprocess.run([str(CHATDESK), "serve"], env=env, capture_output=True, text=True,
                            timeout=60, check=False)
    assert result.returncode == 2
    assert "CHATDESK_SECRET_KEY is required in production" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_server_starts_and_stops_without_a_traceback(tmp_path: Path) -> None:
    # The default gevent workers: nothing the master set up may fail in them after the fork.
    with serve_process(tmp_path) as url:
        assert urlopen(f"{url}/healthz", timeout=30).status == 200
    log = next(tmp_path.glob("server-*.log")).read_text()
    assert "Booting worker" in log
    assert "Traceback" not in log and "Error" not in log, log
