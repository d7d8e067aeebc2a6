"""Intent classification with out-of-scope detection: train, evaluate, save, load, predict.

Pure library (no Flask, no database): the command line, the model registry and the reply pipeline
are built on it. How the model works and what its artifact trusts: docs/intent-model.md.
"""

from chatdesk.nlu.artifacts import TRUSTED_TYPES, import_loader, load_model, read_metadata, save_model
from chatdesk.nlu.data import IntentDataset, make_dataset, read_intents_csv
from chatdesk.nlu.errors import EmbedderMismatch, IntentDataError, IntentModelError, UntrustedArtifact
from chatdesk.nlu.evaluation import evaluate_model, predict_all
from chatdesk.nlu.features import FeatureSpec, Progress
from chatdesk.nlu.metrics import Evaluation, evaluate
from chatdesk.nlu.model import IntentModel, Prediction
from chatdesk.nlu.report import format_evaluation, plot_confusion, write_report
from chatdesk.nlu.training import TrainingConfig, TrainingReport, train_intent_model

__all__ = [
    "TRUSTED_TYPES",
    "EmbedderMismatch",
    "Evaluation",
    "FeatureSpec",
    "IntentDataError",
    "IntentDataset",
    "IntentModel",
    "IntentModelError",
    "Prediction",
    "Progress",
    "TrainingConfig",
    "TrainingReport",
    "UntrustedArtifact",
    "evaluate",
    "evaluate_model",
    "format_evaluation",
    "import_loader",
    "load_model",
    "make_dataset",
    "plot_confusion",
    "predict_all",
    "read_intents_csv",
    "read_metadata",
    "save_model",
    "train_intent_model",
    "write_report",
]
