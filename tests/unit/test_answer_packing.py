"""Context packing: token budget, numbering, headers, and cutting the last passage."""

from __future__ import annotations

from rag.answer.packing import (
    ELLIPSIS,
    MIN_CUT_TOKENS,
    pack_passages,
    passage_header,
    render_passage,
    render_passages,
)
from rag.generation.fake import ScriptedGenerator
from rag.types import Chunk, Hit

count = ScriptedGenerator().count_tokens  # one token per word


def hit(n: int, words: int, title: str = "", page: int | None = None) -> tuple[Hit, float]:
    text = " ".join(f"w{n}x{i}" for i in range(words))
    chunk = Chunk(id=f"c{n}", doc_id=f"doc{n}", text=text, position=0, title=title, page=page)
    return Hit(chunk, score=1.0 / n), 0.9 - n / 100


def test_passages_are_numbered_in_rank_order_with_title_and_page() -> None:
    scored = [hit(1, 10, "Annual report", page=4), hit(2, 10, "Notes"), hit(3, 10)]
    passages = pack_passages(scored, budget=1000, count_tokens=count)
    assert [p.number for p in passages] == [1, 2, 3]
    assert [p.hit.chunk.id for p in passages] == ["c1", "c2", "c3"]
    assert [p.relevance for p in passages] == [s for _, s in scored]
    block = render_passages(passages)
    assert block.startswith("[1] Annual report (page 4)\nw1x0 ")
    assert "\n\n[2] Notes\nw2x0 " in block
    assert "\n\n[3] doc3\nw3x0 " in block  # no title: the document id names it
    assert not any(p.truncated for p in passages)


def test_budget_is_respected_and_whole_passages_are_preferred() -> None:
    scored = [hit(n, 40) for n in range(1, 6)]
    one = count(render_passage(1, scored[0][0].chunk, scored[0][0].chunk.text))
    budget = 3 * one + 2  # three whole passages, too little room left to cut a fourth
    passages = pack_passages(scored, budget, count)
    assert len(passages) == 3
    assert count(render_passages(passages)) <= budget
    assert not any(p.truncated for p in passages)


def test_the_first_passage_that_does_not_fit_is_cut_at_a_word() -> None:
    scored = [hit(1, 30), hit(2, 500), hit(3, 10)]
    budget = 200
    passages = pack_passages(scored, budget, count)
    assert [p.number for p in passages] == [1, 2]  # packing stops after the cut passage
    cut = passages[1]
    assert cut.truncated and cut.text.endswith(ELLIPSIS)
    assert cut.hit.chunk.text.startswith(cut.text.removesuffix(ELLIPSIS))
    used = count(render_passages(passages))
    assert budget - 2 <= used <= budget  # filled to the last word that fits


def test_too_little_room_for_a_useful_cut_adds_nothing() -> None:
    first = hit(1, 20)
    size = count(render_passage(1, first[0].chunk, first[0].chunk.text))
    passages = pack_passages([first, hit(2, 400)], size + MIN_CUT_TOKENS - 1, count)
    assert [p.number for p in passages] == [1]


def test_nothing_fits_gives_no_passages() -> None:
    assert pack_passages([hit(1, 400)], budget=10, count_tokens=count) == []
    assert pack_passages([], budget=1000, count_tokens=count) == []


def test_header_of_a_titled_paged_chunk() -> None:
    chunk = Chunk(id="c", doc_id="d", text="t", position=0, title="  Report ", page=0)
    assert passage_header(7, chunk) == "[7] Report (page 0)"
