"""Saving and loading intent models: a skops file that only names trusted types, and JSON metadata.

An artifact is a directory with ``model.skops`` (the learnt state) and ``metadata.json`` (embedder,
labels, out-of-scope settings, training parameters, validation figures, versions, the model file's
SHA-256). Loading never unpickles: skops rebuilds objects from a schema, and this loader first reads
that schema and refuses the file if it names any type outside :data:`TRUSTED_TYPES`.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import platform
import sys
import zipfile
from datetime import UTC, datetime
from importlib import metadata as package_metadata
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from chatdesk.nlu.errors import IntentModelError, UntrustedArtifact
from chatdesk.nlu.features import FeatureSpec, vectorizer_from_parts, vectorizer_parts
from chatdesk.nlu.model import IntentModel, ModelState, check_embedder
from chatdesk.nlu.outofscope import OutOfScopeRule
from chatdesk.retrieval.embedding import Embedder

FORMAT_VERSION = 1
MODEL_FILE = "model.skops"
METADATA_FILE = "metadata.json"

TRUSTED_TYPES: frozenset[str] = frozenset({
    # containers; skops stores numbers, booleans and None as JSON inside "str" nodes
    "builtins.dict", "builtins.list", "builtins.str",
    # weights, intercepts, training embeddings, TF-IDF terms and IDF weights: .npy arrays of numbers or
    # fixed-width text, which skops reads with allow_pickle=False
    "numpy.ndarray",
})
"""Every type a model file may name. Anything else, and the file is refused before it is loaded."""


def _skops() -> ModuleType:
    """``skops.io``, imported without torch.

    On import skops lists every scikit-learn estimator, which imports all of scikit-learn, including
    its array-API shim for torch: about 200 MB and 2 s in a server process that never uses torch.
    The shim's import failing is expected and ignored there, so torch is hidden for that one import.
    """
    if "skops.io" not in sys.modules and "torch" not in sys.modules:
        sys.modules["torch"] = None  # type: ignore[assignment]  # makes `import torch` raise ImportError
        try:
            return importlib.import_module("skops.io")
        finally:
            if sys.modules.get("torch", ...) is None:
                del sys.modules["torch"]
    return importlib.import_module("skops.io")


def import_loader() -> None:
    """Import what loading a model needs now: server processes forked after this (gunicorn's
    workers) then load their model without importing all of scikit-learn each."""
    _skops()


_VERSIONED_PACKAGES = ("chatdesk", "scikit-learn", "skops", "numpy", "scipy", "onnxruntime")


def _state_to_dict(state: ModelState) -> dict[str, Any]:
    return {
        "format_version": FORMAT_VERSION,
        "embedder_name": state.embedder_name,
        "labels": list(state.labels),
        "oos_label": state.oos_label,
        "tfidf": state.features.tfidf,
        "embedding_weight": state.features.embedding_weight,
        "vectorizer": vectorizer_parts(state.vectorizer) if state.vectorizer is not None else None,
        "tfidf_weights": state.tfidf_weights,
        "embedding_weights": state.embedding_weights,
        "intercept": state.intercept,
        "temperature": state.temperature,
        "similarity_weight": state.rule.similarity_weight,
        "threshold": state.rule.threshold,
        "neighbours": state.rule.neighbours,
        "reference": state.reference,
    }


def _state_from_dict(values: dict[str, Any], source: Path) -> ModelState:
    try:
        state = ModelState(
            embedder_name=str(values["embedder_name"]),
            labels=tuple(str(label) for label in values["labels"]),
            oos_label=values["oos_label"],
            features=FeatureSpec(bool(values["tfidf"]), float(values["embedding_weight"])),
            vectorizer=None if values["vectorizer"] is None else vectorizer_from_parts(values["vectorizer"]),
            tfidf_weights=values["tfidf_weights"],
            embedding_weights=values["embedding_weights"],
            intercept=np.asarray(values["intercept"]),
            temperature=float(values["temperature"]),
            rule=OutOfScopeRule(float(values["similarity_weight"]),
                                None if values["threshold"] is None else float(values["threshold"]),
                                int(values["neighbours"])),
            reference=np.asarray(values["reference"], dtype=np.float32),
        )
    except (KeyError, TypeError, ValueError) as error:
        raise IntentModelError(f"{source} is not a complete intent model ({error!r})") from None
    if state.intercept.shape != (len(state.labels),):
        raise IntentModelError(f"{source}: {len(state.labels)} labels but {state.intercept.shape} intercepts")
    return state


def artifact_types(model_file: Path) -> set[str]:
    """Every ``module.Class`` the skops file's schema names, at any depth."""
    try:
        with zipfile.ZipFile(model_file) as archive:
            schema = json.loads(archive.read("schema.json"))
    except (OSError, KeyError, ValueError, zipfile.BadZipFile) as error:
        raise IntentModelError(f"{model_file} is not a skops model file ({error})") from None
    found: set[str] = set()
    pending: list[Any] = [schema]
    while pending:
        node = pending.pop()
        if isinstance(node, dict):
            if "__class__" in node and "__module__" in node:
                found.add(f"{node['__module__']}.{node['__class__']}")
            pending.extend(node.values())
        elif isinstance(node, list):
            pending.extend(node)
    return found


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def library_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for package in _VERSIONED_PACKAGES:
        try:
            versions[package] = package_metadata.version(package)
        except package_metadata.PackageNotFoundError:
            versions[package] = "not installed"
    return versions


def save_model(model: IntentModel, directory: Path | str) -> Path:
    """Write ``model.skops`` and ``metadata.json`` into ``directory`` (created if needed); returns it."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    model_file = directory / MODEL_FILE
    partial = directory / (MODEL_FILE + ".partial")
    sio = _skops()
    sio.dump(_state_to_dict(model.state), partial, compression=zipfile.ZIP_DEFLATED)
    unexpected = artifact_types(partial) - TRUSTED_TYPES
    if unexpected:
        partial.unlink()
        raise IntentModelError(f"the model holds types its loader would refuse: {sorted(unexpected)}")
    partial.replace(model_file)
    state = model.state
    metadata = {
        **model.metadata,
        "format_version": FORMAT_VERSION,
        "embedder": state.embedder_name,
        "labels": list(state.labels),
        "intents": state.intents,
        "oos_label": state.oos_label,
        "features": {"tfidf": state.features.tfidf, "embedding_weight": state.features.embedding_weight},
        "temperature": state.temperature,
        "out_of_scope_rule": state.rule.as_dict(),
        "saved_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "versions": library_versions(),
        "model_file": MODEL_FILE,
        "model_sha256": _sha256(model_file),
        "model_bytes": model_file.stat().st_size,
        "trusted_types": sorted(TRUSTED_TYPES),
    }
    text = json.dumps(metadata, indent=2, allow_nan=False) + "\n"
    (directory / METADATA_FILE).write_text(text, encoding="utf-8")
    return directory


def read_metadata(directory: Path | str) -> dict[str, Any]:
    """The artifact's ``metadata.json``, checked for the format version."""
    path = Path(directory) / METADATA_FILE
    try:
        metadata: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise IntentModelError(f"cannot read the intent model metadata {path}: {error}") from None
    if not isinstance(metadata, dict):
        raise IntentModelError(f"{path} is not an intent model's metadata")
    if metadata.get("format_version") != FORMAT_VERSION:
        raise IntentModelError(f"{path}: format version {metadata.get('format_version')!r}, this chatdesk "
                               f"reads version {FORMAT_VERSION}; train the model again")
    return metadata


def load_model(directory: Path | str, embedder: Embedder) -> IntentModel:
    """Load a saved model for ``embedder``, refusing another embedder, a modified file or untrusted types."""
    directory = Path(directory)
    metadata = read_metadata(directory)
    check_embedder(metadata.get("embedder"), embedder, f"the intent model in {directory}")
    model_file = directory / MODEL_FILE
    if not model_file.is_file():
        raise IntentModelError(f"{model_file} is missing")
    if _sha256(model_file) != metadata.get("model_sha256"):
        raise IntentModelError(f"{model_file} does not match the SHA-256 in its metadata: it was changed "
                               "after saving; save the model again")
    untrusted = artifact_types(model_file) - TRUSTED_TYPES
    if untrusted:
        raise UntrustedArtifact(f"{model_file} names types this loader does not trust: {sorted(untrusted)}",
                                types=sorted(untrusted))
    sio = _skops()
    skops_untrusted = set(sio.get_untrusted_types(file=model_file))
    if skops_untrusted - TRUSTED_TYPES:  # belt and braces: skops' own view of the file
        raise UntrustedArtifact(f"{model_file} holds types this loader does not trust: "
                                f"{sorted(skops_untrusted - TRUSTED_TYPES)}")
    values = sio.load(model_file, trusted=sorted(skops_untrusted))
    if not isinstance(values, dict):
        raise IntentModelError(f"{model_file} does not hold an intent model")
    return IntentModel(_state_from_dict(values, model_file), embedder, metadata)
