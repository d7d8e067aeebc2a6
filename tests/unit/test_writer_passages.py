"""What the LLM is given to write from: each hit's passage, and its article's close runner-up."""

from dataclasses import replace

from chatdesk.engine.writer import passages_of
from tests.unit.kb_builder import DEFAULT_RANKING, STORE, build_index


def test_a_close_runner_up_section_is_a_passage_of_its_own_after_its_article() -> None:
    index = build_index(STORE, ranking=replace(DEFAULT_RANKING, passage_margin=0.2))
    hits = index.search("how much does delivery cost", k=2).hits
    assert hits[0].also is not None
    sent = passages_of(hits)
    expected = [(c.slug, c.section) for hit in hits for c in (hit.chunk, hit.also) if c is not None]
    assert [(p.source_id, p.section) for p in sent] == expected
    assert sent[1].text == hits[0].also.text
    alone = build_index(STORE).search("how much does delivery cost", k=2).hits  # margin 0
    assert [p.section for p in passages_of(alone)] == [h.chunk.section for h in alone]
