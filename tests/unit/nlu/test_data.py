"""Reading intent examples from CSV: good files load, every bad one raises IntentDataError saying why."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from chatdesk.errors import ChatdeskError
from chatdesk.nlu import IntentDataError, IntentDataset, make_dataset, read_intents_csv
from chatdesk.nlu.data import validation_split


def write(tmp_path: Path, content: str | bytes, name: str = "intents.csv") -> Path:
    path = tmp_path / name
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    else:
        path.write_bytes(content)
    return path


def test_the_demo_intents_load(demo_intents: IntentDataset) -> None:
    counts = demo_intents.counts()
    assert len(demo_intents) == 497
    assert len(counts) == 40
    assert {"greeting", "thanks", "goodbye", "human_agent"} <= set(counts)
    assert min(counts.values()) >= 9
    assert all(text == text.strip() and text for text in demo_intents.texts)


def test_columns_are_configurable_and_others_ignored(tmp_path: Path) -> None:
    path = write(tmp_path, "id,category,text\n1,card_arrival,where is my card\n2,top_up,\"top up, please\"\n")
    data = read_intents_csv(path, text_column="text", label_column="category")
    assert data.texts == ("where is my card", "top up, please")
    assert data.labels == ("card_arrival", "top_up")
    assert data.source == str(path)


def test_a_byte_order_mark_and_surrounding_spaces_are_dropped(tmp_path: Path) -> None:
    path = write(tmp_path, "\ufefftext,intent\n  hello there ,greeting\r\nbye for now, goodbye \r\n")
    data = read_intents_csv(path)
    assert data.texts == ("hello there", "bye for now")
    assert data.labels == ("greeting", "goodbye")


def test_a_missing_column_is_named_with_the_columns_there_are(tmp_path: Path) -> None:
    path = write(tmp_path, "text,category\nhello,greeting\nbye,goodbye\n")
    with pytest.raises(IntentDataError) as caught:
        read_intents_csv(path)
    message = str(caught.value)
    assert "'intent'" in message and "'text', 'category'" in message


@pytest.mark.parametrize("content", ["", "   \n\n"])
def test_an_empty_file_is_refused(tmp_path: Path, content: str) -> None:
    with pytest.raises(IntentDataError, match="is empty"):
        read_intents_csv(write(tmp_path, content))


def test_a_header_without_rows_is_refused(tmp_path: Path) -> None:
    with pytest.raises(IntentDataError, match="header but no examples"):
        read_intents_csv(write(tmp_path, "text,intent\n"))


def test_a_single_intent_is_refused(tmp_path: Path) -> None:
    with pytest.raises(IntentDataError, match=r"only 1 intent \(greeting\).*at least 2"):
        read_intents_csv(write(tmp_path, "text,intent\nhello,greeting\nhi there,greeting\n"))


def test_undecodable_bytes_are_refused_with_their_line(tmp_path: Path) -> None:
    path = write(tmp_path, b"text,intent\nhello,greeting\ncaf\xe9 opening hours,store_hours\n")
    with pytest.raises(IntentDataError, match=r"not UTF-8 text: byte 0xe9 on line 3"):
        read_intents_csv(path)


def test_empty_text_cells_are_refused_with_their_lines(tmp_path: Path) -> None:
    path = write(tmp_path, "text,intent\nhello,greeting\n,greeting\n   ,goodbye\nbye,goodbye\n")
    with pytest.raises(IntentDataError, match=r"empty text in line 3, 4;"):
        read_intents_csv(path)


def test_a_short_row_counts_as_an_empty_cell(tmp_path: Path) -> None:
    path = write(tmp_path, "intent,text\ngreeting,hello\ngoodbye\n")
    with pytest.raises(IntentDataError, match=r"empty text in line 3"):
        read_intents_csv(path)


def test_empty_intent_cells_are_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "text,intent\nhello,greeting\nbye,\n")
    with pytest.raises(IntentDataError, match=r"empty intent in line 3"):
        read_intents_csv(path)


def test_many_bad_rows_are_summarised(tmp_path: Path) -> None:
    path = write(tmp_path, "text,intent\n" + ",greeting\n" * 8 + "bye,goodbye\n")
    with pytest.raises(IntentDataError, match=r"line 2, 3, 4, 5, 6 and 3 more"):
        read_intents_csv(path)


def test_a_missing_file_is_a_data_error(tmp_path: Path) -> None:
    with pytest.raises(IntentDataError, match="cannot read"):
        read_intents_csv(tmp_path / "nowhere.csv")


def test_csv_the_reader_rejects_is_a_data_error(tmp_path: Path) -> None:
    path = write(tmp_path, "text,intent\nhello,greeting\n" + "x" * 200_000 + ",goodbye\n")
    with pytest.raises(IntentDataError, match="not valid CSV on line 3: field larger than field limit"):
        read_intents_csv(path)


def test_an_unclosed_quote_leaves_an_empty_intent(tmp_path: Path) -> None:
    path = write(tmp_path, 'text,intent\n"hello,greeting\nbye,goodbye\n')
    with pytest.raises(IntentDataError, match="empty intent in line 2"):
        read_intents_csv(path)


def test_the_error_type_maps_to_invalid_input_and_value_error() -> None:
    with pytest.raises(IntentDataError) as caught:
        make_dataset([], [])
    assert isinstance(caught.value, ValueError)
    assert isinstance(caught.value, ChatdeskError) and caught.value.status == 422


def test_in_memory_examples_are_checked_the_same_way() -> None:
    with pytest.raises(IntentDataError, match="empty text in row 2"):
        make_dataset(["hello", " "], ["greeting", "goodbye"])
    with pytest.raises(IntentDataError, match="2 texts but 1 labels"):
        make_dataset(["hello", "bye"], ["greeting"])
    single = make_dataset(["hello"], ["greeting"], min_intents=1)
    assert single.intents == ["greeting"]


def test_relabel_and_subset_keep_rows_aligned(demo_intents: IntentDataset) -> None:
    rows = [i for i, label in enumerate(demo_intents.labels) if label in {"greeting", "thanks"}]
    small = demo_intents.subset(rows).relabel({"thanks": "gratitude"})
    assert small.intents == ["gratitude", "greeting"]
    assert small.texts == tuple(demo_intents.texts[i] for i in rows)


def test_the_validation_split_is_stratified_and_repeatable() -> None:
    labels = ["a"] * 20 + ["b"] * 10 + ["c"] * 2 + ["d"]
    train, validation = validation_split(labels, 0.2, seed=1)
    assert sorted(np.concatenate([train, validation]).tolist()) == list(range(len(labels)))
    held = Counter(labels[i] for i in validation)
    assert held == {"a": 4, "b": 2}  # c: round(0.4) = 0; d keeps its only example for training
    again = validation_split(labels, 0.2, seed=1)
    assert np.array_equal(again[1], validation)
    assert not np.array_equal(validation_split(labels, 0.2, seed=2)[1], validation)


@pytest.mark.parametrize("fraction", [0.0, 1.0, 1.5])
def test_the_validation_fraction_must_be_a_share(fraction: float) -> None:
    with pytest.raises(ValueError, match="between 0 and 1"):
        validation_split(["a", "b"], fraction, seed=0)
