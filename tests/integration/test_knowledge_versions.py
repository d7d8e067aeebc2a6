"""The search index follows the knowledge-base version: rebuilt on change, never per request."""

from pathlib import Path

from flask import Flask

from chatdesk.services import knowledge
from chatdesk.services.runtime import current_runtime
from tests.conftest import open_chat


def test_the_index_is_reused_until_the_knowledge_base_changes(app: Flask, tmp_path: Path) -> None:
    with app.app_context():
        first = knowledge.current_index()
        assert knowledge.current_index() is first
    client = app.test_client()
    open_chat(client).ask("how do I reset my password")
    with app.app_context():
        assert knowledge.current_index() is first
        article = tmp_path / "shoe-repairs.md"
        article.write_text("# Shoe repairs\n\n## Resoling\n\nLarkspur Goods resoles leather "
                           "shoes bought from us for £25; repairs take about three weeks.\n")
        knowledge.ingest_files([article], current_runtime().embedder())
        rebuilt = knowledge.current_index()
        assert rebuilt is not first and rebuilt.version == first.version + 1
    reply = open_chat(client).ask("Do you do shoe repairs?")
    assert reply["sources"][0]["id"] == "shoe-repairs"
    assert "£25" in reply["text"]


def test_a_change_of_embedding_model_is_caught_and_mended(empty_app: Flask, tmp_path: Path) -> None:
    from chatdesk import create_app
    from chatdesk.cli.kb import kb_group
    from tests.conftest import make_settings

    article = tmp_path / "gift-wrap.md"
    article.write_text("# Gift wrap\n\n## Wrapping\n\nAny order can be gift wrapped for £4 per item.\n")
    runner = empty_app.test_cli_runner()
    assert runner.invoke(kb_group, ["ingest", str(article)]).exit_code == 0

    switched = create_app(make_settings(tmp_path, embedding_backend="onnx"))
    ready = switched.test_client().get("/readyz")
    assert ready.status_code == 503
    assert "kb reembed" in ready.get_json()["checks"]["knowledge"]["error"]
    chat = open_chat(switched.test_client())
    assert chat.ask("can you gift wrap my order")["answered_by"] == "fallback"  # degraded, stored

    result = switched.test_cli_runner().invoke(kb_group, ["reembed"])
    assert "1 articles embedded with all-MiniLM-L6-v2" in result.output
    assert switched.test_client().get("/readyz").status_code == 200
    assert open_chat(switched.test_client()).ask("can you gift wrap my order")["sources"][0]["id"] == (
        "gift-wrap")

    # Ingesting with the first model again embeds everything again, by itself.
    report = runner.invoke(kb_group, ["ingest", str(article), "--json"])
    assert '"reembedded": [\n    "gift-wrap"\n  ]' in report.output
