from pathlib import Path

import pytest

from chatdesk.retrieval.chunking import chunk_document
from chatdesk.retrieval.parsing import (
    UnsupportedFormat,
    decode_document,
    parse_file,
    parse_html,
    parse_markdown,
    parse_plain,
    split_sentences,
)

ARTICLE = """# Returns policy

You can return most items within 30 days.

## How to return

Log in to your account. Choose the order and print the label.

- Drop it at a post office.
- Or bring it to a shop.

## Related help

See [refunds](/kb/refunds) and /kb/exchanges for more.
"""


def test_each_chunk_keeps_its_heading_with_its_text() -> None:
    chunks = chunk_document(parse_markdown(ARTICLE, "fallback"))
    headings = [c.heading for c in chunks]
    assert headings == ["Returns policy", "Returns policy › How to return"]
    how = chunks[1]
    assert how.embedding_text.startswith("Returns policy › How to return\n")
    assert "- Drop it at a post office." in how.text
    assert how.unit_embedding_texts()[0] == "How to return: Log in to your account."


def test_a_section_of_only_links_is_not_indexed() -> None:
    chunks = chunk_document(parse_markdown(ARTICLE, "fallback"))
    assert all("Related help" not in c.heading for c in chunks)


def test_a_sentence_with_a_link_is_kept_when_the_section_has_more() -> None:
    text = "# T\n\n## S\n\nDelivery takes 2 days. See [tracking](/kb/tracking) to follow it.\n"
    (chunk,) = chunk_document(parse_markdown(text, "x"))
    assert chunk.text == "Delivery takes 2 days. See tracking to follow it."


def test_long_sections_are_cut_between_sentences_and_keep_the_heading() -> None:
    body = " ".join(f"Sentence number {i} talks about delivery." for i in range(60))
    chunks = chunk_document(parse_markdown(f"# Guide\n\n## Delivery\n\n{body}\n", "x"), max_words=50)
    assert len(chunks) > 3
    assert {c.heading for c in chunks} == {"Guide › Delivery"}
    assert all(len(c.text.split()) <= 50 for c in chunks)
    assert " ".join(c.text for c in chunks) == body


def test_sentences_split_on_end_punctuation_but_not_inside_prices() -> None:
    assert split_sentences("It costs £3.95. Free over £50! Really? yes") == [
        "It costs £3.95.", "Free over £50!", "Really? yes"]


def test_html_headings_paragraphs_and_list_items() -> None:
    html = """<html><head><title>Gift cards</title><script>alert(1)</script></head><body>
    <h2>Balance</h2><p>Check it online. It is instant.</p><ul><li>Up to 3 cards</li></ul>
    </body></html>"""
    document = parse_html(html, "fallback")
    assert document.title == "Gift cards"
    (section,) = document.sections
    assert section.heading == "Balance"
    assert [u.text for u in section.units] == ["Check it online.", "It is instant.", "Up to 3 cards"]
    assert section.units[-1].bullet


def test_plain_text_title_and_bullets() -> None:
    document = parse_plain("Store hours\n\nWe open at 9. We close at 6.\n\n- Mon\n- Tue\n", "x")
    assert document.title == "Store hours"
    assert [u.text for u in document.sections[0].units] == [
        "We open at 9.", "We close at 6.", "Mon", "Tue"]


def test_unsupported_files_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "notes.pdf"
    path.write_bytes(b"%PDF")
    with pytest.raises(UnsupportedFormat):
        parse_file(path)


def test_a_byte_order_mark_and_nul_characters_are_dropped(tmp_path: Path) -> None:
    path = tmp_path / "returns.md"
    path.write_bytes("\ufeff# Returns policy\n\nReturn items within\x00 30 days.\n".encode())
    kind, parsed = parse_file(path)
    assert kind == "markdown" and parsed.title == "Returns policy"  # the heading is still a heading
    assert "\x00" not in " ".join(unit.text for section in parsed.sections for unit in section.units)


def test_text_that_is_not_utf8_is_refused() -> None:
    with pytest.raises(UnicodeDecodeError):
        decode_document(b"# Title\n\n\xff\xfe broken")
