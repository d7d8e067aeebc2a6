"""Intent examples: reading them from CSV, checking them, and carving a validation split.

Every problem with the data raises :class:`IntentDataError` with a message a person can act on.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from chatdesk.nlu.errors import IntentDataError

# Rows quoted in an error message; the rest are counted.
_SHOWN_ROWS = 5


@dataclass(frozen=True)
class IntentDataset:
    """Example messages and their intents, row for row. Build it with :func:`make_dataset`."""

    texts: tuple[str, ...]
    labels: tuple[str, ...]
    source: str = "<memory>"

    def __len__(self) -> int:
        return len(self.texts)

    @property
    def intents(self) -> list[str]:
        """The distinct labels, sorted."""
        return sorted(set(self.labels))

    def counts(self) -> dict[str, int]:
        return dict(sorted(Counter(self.labels).items()))

    def subset(self, rows: Iterable[int]) -> IntentDataset:
        chosen = list(rows)
        return IntentDataset(tuple(self.texts[i] for i in chosen), tuple(self.labels[i] for i in chosen),
                             self.source)

    def relabel(self, mapping: dict[str, str]) -> IntentDataset:
        """The same rows with some labels renamed (e.g. held-out intents to the out-of-scope label)."""
        labels = tuple(mapping.get(label, label) for label in self.labels)
        return IntentDataset(self.texts, labels, self.source)


def _rows(numbers: Sequence[int]) -> str:
    shown = ", ".join(str(n) for n in numbers[:_SHOWN_ROWS])
    more = len(numbers) - _SHOWN_ROWS
    return shown + (f" and {more} more" if more > 0 else "")


def make_dataset(texts: Sequence[str | None], labels: Sequence[str | None], *, source: str = "<memory>",
                 min_intents: int = 2, row_numbers: Sequence[int] | None = None,
                 row_word: str = "row") -> IntentDataset:
    """Check and strip examples: no empty text or label, at least ``min_intents`` distinct intents.

    Error messages call the rows ``row_word`` ``row_numbers`` (CSV line numbers when read from a file).
    """
    if len(texts) != len(labels):
        raise IntentDataError(f"{source}: {len(texts)} texts but {len(labels)} labels")
    numbers = list(row_numbers) if row_numbers is not None else list(range(1, len(texts) + 1))
    if not texts:
        raise IntentDataError(f"{source} has no examples")
    clean_texts = [(t or "").strip() for t in texts]
    clean_labels = [(label or "").strip() for label in labels]
    empty_text = [n for n, t in zip(numbers, clean_texts, strict=True) if not t]
    if empty_text:
        raise IntentDataError(f"{source}: empty text in {row_word} {_rows(empty_text)}; "
                              "every example needs a message")
    empty_label = [n for n, label in zip(numbers, clean_labels, strict=True) if not label]
    if empty_label:
        raise IntentDataError(f"{source}: empty intent in {row_word} {_rows(empty_label)}; "
                              "every example needs an intent")
    distinct = sorted(set(clean_labels))
    if len(distinct) < min_intents:
        raise IntentDataError(
            f"{source}: only {len(distinct)} intent ({', '.join(distinct)}); "
            f"a classifier needs at least {min_intents} different intents")
    return IntentDataset(tuple(clean_texts), tuple(clean_labels), source)


def _decode(data: bytes, source: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise IntentDataError(
            f"{source} is not UTF-8 text: byte 0x{data[error.start]:02x} on line {line} cannot be decoded; "
            "save the file as UTF-8") from None


def read_intents_csv(path: Path | str, *, text_column: str = "text", label_column: str = "intent",
                     min_intents: int = 2) -> IntentDataset:
    """Read examples from a UTF-8 CSV file with a header row; other columns are ignored."""
    path = Path(path)
    source = str(path)
    try:
        data = path.read_bytes()
    except OSError as error:
        raise IntentDataError(f"cannot read {source}: {error.strerror or error}") from None
    text = _decode(data, source)
    if not text.strip():
        raise IntentDataError(f"{source} is empty; expected a header row with columns "
                              f"{text_column!r} and {label_column!r}, then one example per row")
    reader = csv.DictReader(io.StringIO(text, newline=""))
    try:
        columns = [c for c in (reader.fieldnames or []) if c is not None]
        missing = [c for c in (text_column, label_column) if c not in columns]
        if missing:
            raise IntentDataError(
                f"{source} has no column {' or '.join(repr(c) for c in missing)}; "
                f"its columns are {', '.join(repr(c) for c in columns)}")
        texts: list[str | None] = []
        labels: list[str | None] = []
        lines: list[int] = []
        first_line = reader.line_num + 1  # a quoted cell may span lines: a row is named by its first
        for row in reader:
            texts.append(row.get(text_column))
            labels.append(row.get(label_column))
            lines.append(first_line)
            first_line = reader.line_num + 1
    except csv.Error as error:
        raise IntentDataError(f"{source} is not valid CSV on line {reader.line_num + 1}: {error}") from None
    if not texts:
        raise IntentDataError(f"{source} has a header but no examples")
    return make_dataset(texts, labels, source=source, min_intents=min_intents, row_numbers=lines,
                        row_word="line")


def validation_split(labels: Sequence[str], fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Row indices (train, validation), stratified: each intent gives about ``fraction`` of its rows.

    An intent always keeps at least one training row, so one with a single example is never validated.
    """
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"validation fraction must be between 0 and 1, not {fraction}")
    rng = np.random.default_rng(seed)
    by_label: dict[str, list[int]] = {}
    for row, label in enumerate(labels):
        by_label.setdefault(label, []).append(row)
    train: list[int] = []
    validation: list[int] = []
    for label in sorted(by_label):
        rows = np.array(by_label[label])
        rng.shuffle(rows)
        size = min(int(round(fraction * len(rows))), len(rows) - 1)
        validation.extend(rows[:size].tolist())
        train.extend(rows[size:].tolist())
    return np.array(sorted(train), dtype=np.int64), np.array(sorted(validation), dtype=np.int64)
