"""Fixtures of the intent-model tests: the real embedder, the demo intents, models trained once."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from chatdesk.nlu import (
    IntentDataset,
    IntentModel,
    TrainingConfig,
    TrainingReport,
    make_dataset,
    read_intents_csv,
    train_intent_model,
)
from chatdesk.retrieval.embedding import Embedder, get_embedder

ROOT = Path(__file__).resolve().parents[3]
MODELS_DIR = ROOT / "instance" / "models"
DEMO_INTENTS = ROOT / "data" / "demo" / "intents.csv"

# Messages no demo intent covers: labelled examples for training, and unseen ones for testing.
OUT_OF_SCOPE_TRAIN = [
    "what's the weather like tomorrow", "who won the football last night", "tell me a joke",
    "what is the meaning of life", "can you recommend a good film", "how tall is mount everest",
    "write me a poem about cats", "what's 17 times 23", "who is the prime minister", "play some music",
    "what time is it in tokyo", "how do I cook rice", "translate hello into french", "are you a robot",
    "what's the best programming language", "how far away is the moon",
]
OUT_OF_SCOPE_UNSEEN = [
    "what is the capital of peru", "recommend me a podcast about history", "how do volcanoes form",
    "solve x squared equals nine", "who painted the mona lisa", "what's a good name for a dog",
]


class RenamedEmbedder(Embedder):
    """The real embedder's vectors under another name: a stand-in for a different embedding model."""

    name = "some-other-model"

    def __init__(self, inner: Embedder) -> None:
        self.inner = inner

    def _encode(self, texts: list[str]) -> np.ndarray:
        return self.inner.embed(texts)


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    return get_embedder("onnx-int8", MODELS_DIR)


@pytest.fixture(scope="session")
def demo_intents() -> IntentDataset:
    return read_intents_csv(DEMO_INTENTS)


@pytest.fixture(scope="session")
def demo_training(embedder: Embedder, demo_intents: IntentDataset) -> tuple[IntentModel, TrainingReport]:
    return train_intent_model(demo_intents, embedder)


@pytest.fixture(scope="session")
def demo_model(demo_training: tuple[IntentModel, TrainingReport]) -> IntentModel:
    return demo_training[0]


@pytest.fixture(scope="session")
def labelled_oos_training(embedder: Embedder,
                          demo_intents: IntentDataset) -> tuple[IntentModel, TrainingReport]:
    """The demo intents plus labelled out-of-scope examples."""
    data = make_dataset(list(demo_intents.texts) + OUT_OF_SCOPE_TRAIN,
                        list(demo_intents.labels) + ["out_of_scope"] * len(OUT_OF_SCOPE_TRAIN))
    return train_intent_model(data, embedder, TrainingConfig(oos_label="out_of_scope"))
