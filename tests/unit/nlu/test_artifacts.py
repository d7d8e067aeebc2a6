"""Saving and loading: the same predictions after a round trip, and refusals of anything suspicious."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import skops.io as sio
from sklearn.linear_model import LogisticRegression

from chatdesk.nlu import (
    TRUSTED_TYPES,
    EmbedderMismatch,
    IntentModel,
    IntentModelError,
    TrainingReport,
    UntrustedArtifact,
    load_model,
    read_metadata,
    save_model,
)
from chatdesk.nlu.artifacts import METADATA_FILE, MODEL_FILE, _sha256, artifact_types
from chatdesk.retrieval.embedding import Embedder
from tests.unit.nlu.conftest import MODELS_DIR, OUT_OF_SCOPE_UNSEEN, RenamedEmbedder

TEXTS = ["hello there", "where is my parcel", "I want a refund", "can I pay with klarna",
         "talk to a human please"] + OUT_OF_SCOPE_UNSEEN


@pytest.fixture(scope="module")
def saved(demo_model: IntentModel, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_model(demo_model, tmp_path_factory.mktemp("model") / "demo-intents")


def test_a_round_trip_predicts_exactly_the_same(saved: Path, demo_model: IntentModel,
                                                embedder: Embedder) -> None:
    loaded = load_model(saved, embedder)
    assert loaded.labels == demo_model.labels
    assert loaded.state.rule == demo_model.state.rule
    assert loaded.state.temperature == demo_model.state.temperature
    assert loaded.predict_batch(TEXTS) == demo_model.predict_batch(TEXTS)
    assert loaded.predict("hello there") == demo_model.predict("hello there")


def test_a_labelled_out_of_scope_model_round_trips(labelled_oos_training: tuple[IntentModel, TrainingReport],
                                                    embedder: Embedder, tmp_path: Path) -> None:
    model, _ = labelled_oos_training
    loaded = load_model(save_model(model, tmp_path / "oos"), embedder)
    assert loaded.oos_label == "out_of_scope"
    assert loaded.predict_batch(TEXTS) == model.predict_batch(TEXTS)


def test_the_metadata_describes_the_model(saved: Path, demo_model: IntentModel) -> None:
    metadata = read_metadata(saved)
    assert metadata["embedder"] == "all-MiniLM-L6-v2-int8"
    assert metadata["labels"] == list(demo_model.labels) and metadata["oos_label"] is None
    assert metadata["out_of_scope_rule"] == demo_model.state.rule.as_dict()
    assert metadata["training"]["c_values"] == [0.25, 0.5, 1.0]
    assert metadata["report"]["validation"]["accuracy"] > 0.5
    assert {"created_at", "saved_at", "temperature", "features"} <= set(metadata)
    assert {"python", "scikit-learn", "skops", "numpy"} <= set(metadata["versions"])
    assert metadata["model_sha256"] == _sha256(saved / MODEL_FILE)
    assert metadata["trusted_types"] == sorted(TRUSTED_TYPES)


def test_the_model_file_names_only_containers_strings_and_arrays(saved: Path) -> None:
    assert artifact_types(saved / MODEL_FILE) == TRUSTED_TYPES == {
        "builtins.dict", "builtins.list", "builtins.str", "numpy.ndarray"}


def test_loading_does_not_import_torch(saved: Path) -> None:
    script = textwrap.dedent(f"""
        import sys
        from pathlib import Path
        from chatdesk.nlu import load_model
        from chatdesk.retrieval.embedding import get_embedder
        model = load_model(Path({str(saved)!r}), get_embedder("onnx-int8", Path({str(MODELS_DIR)!r})))
        print(model.predict("hello there").intent, "torch" in sys.modules)
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["greeting", "False"]


def test_another_embedder_is_refused(saved: Path, demo_model: IntentModel, embedder: Embedder) -> None:
    other = RenamedEmbedder(embedder)
    with pytest.raises(EmbedderMismatch, match="trained on 'all-MiniLM-L6-v2-int8' embeddings but the "
                                               "embedder given is 'some-other-model'"):
        load_model(saved, other)
    with pytest.raises(EmbedderMismatch):
        IntentModel(demo_model.state, other)


def tamper(saved: Path, tmp_path: Path, extra: object) -> Path:
    """A copy of the artifact whose model file holds ``extra`` too, with a matching SHA-256."""
    copy = tmp_path / "tampered"
    copy.mkdir()
    values = sio.load(saved / MODEL_FILE, trusted=sio.get_untrusted_types(file=saved / MODEL_FILE))
    values["extra"] = extra
    sio.dump(values, copy / MODEL_FILE)
    metadata = json.loads((saved / METADATA_FILE).read_text())
    metadata["model_sha256"] = _sha256(copy / MODEL_FILE)
    (copy / METADATA_FILE).write_text(json.dumps(metadata))
    return copy


def test_a_type_outside_the_allow_list_is_refused(saved: Path, embedder: Embedder, tmp_path: Path) -> None:
    # skops itself would load a LogisticRegression without asking; this loader does not.
    copy = tamper(saved, tmp_path, LogisticRegression())
    with pytest.raises(UntrustedArtifact, match="sklearn.linear_model._logistic.LogisticRegression"):
        load_model(copy, embedder)


def test_a_function_reference_is_refused(saved: Path, embedder: Embedder, tmp_path: Path) -> None:
    copy = tamper(saved, tmp_path, print)
    with pytest.raises(UntrustedArtifact, match="builtins.print"):
        load_model(copy, embedder)


def test_a_model_file_changed_after_saving_is_refused(saved: Path, embedder: Embedder,
                                                      tmp_path: Path) -> None:
    copy = tamper(saved, tmp_path, "harmless")
    metadata = json.loads((copy / METADATA_FILE).read_text())
    metadata["model_sha256"] = "0" * 64
    (copy / METADATA_FILE).write_text(json.dumps(metadata))
    with pytest.raises(IntentModelError, match="does not match the SHA-256"):
        load_model(copy, embedder)


def test_missing_or_foreign_files_are_refused(saved: Path, embedder: Embedder, tmp_path: Path) -> None:
    with pytest.raises(IntentModelError, match="cannot read the intent model metadata"):
        load_model(tmp_path, embedder)
    (tmp_path / METADATA_FILE).write_text(json.dumps({"format_version": 99}))
    with pytest.raises(IntentModelError, match="format version 99"):
        load_model(tmp_path, embedder)
    not_a_zip = tmp_path / "plain.skops"
    not_a_zip.write_text("hello")
    with pytest.raises(IntentModelError, match="not a skops model file"):
        artifact_types(not_a_zip)


def test_an_incomplete_state_is_refused(saved: Path, embedder: Embedder, tmp_path: Path) -> None:
    copy = tamper(saved, tmp_path, "harmless")
    values = sio.load(copy / MODEL_FILE, trusted=sio.get_untrusted_types(file=copy / MODEL_FILE))
    del values["temperature"]
    sio.dump(values, copy / MODEL_FILE)
    metadata = json.loads((copy / METADATA_FILE).read_text())
    metadata["model_sha256"] = _sha256(copy / MODEL_FILE)
    (copy / METADATA_FILE).write_text(json.dumps(metadata))
    with pytest.raises(IntentModelError, match="not a complete intent model"):
        load_model(copy, embedder)
