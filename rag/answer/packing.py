"""Context packing: relevant passages, numbered [1]..[n], fitted to a token budget.

Tokens are counted by the generator's own tokenizer, so the budget holds for the model that
reads the prompt. Passages go in ranking order, whole; the first that does not fit whole is
cut at a word boundary when a useful part of it fits, and packing stops there. The packed
block is counted once more as a whole, because tokens can merge across the separators.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from rag.answer.types import Passage
from rag.types import Chunk, Hit

CountTokens = Callable[[str], int]
SEPARATOR = "\n\n"
ELLIPSIS = " …"
# Below this many tokens a cut passage is mostly header: not worth showing.
MIN_CUT_TOKENS = 48
_WORD_END = re.compile(r"\S+")


def passage_header(number: int, chunk: Chunk) -> str:
    """`[n] Title (page p)`; the document id stands in for a missing title."""
    title = chunk.title.strip() or chunk.doc_id
    page = f" (page {chunk.page})" if chunk.page is not None else ""
    return f"[{number}] {title}{page}"


def render_passage(number: int, chunk: Chunk, text: str) -> str:
    """A passage as the model sees it: header line, then the text."""
    return f"{passage_header(number, chunk)}\n{text.strip()}"


def render_passages(passages: Sequence[Passage]) -> str:
    """The packed block of passages, in order."""
    return SEPARATOR.join(render_passage(p.number, p.hit.chunk, p.text) for p in passages)


def pack_passages(
    scored: Sequence[tuple[Hit, float]], budget: int, count_tokens: CountTokens
) -> list[Passage]:
    """Number and fit `(hit, relevance)` pairs into `budget` tokens, best first."""
    passages: list[Passage] = []
    used = 0
    for hit, score in scored:
        number = len(passages) + 1
        cost = count_tokens(render_passage(number, hit.chunk, hit.chunk.text))
        cost += count_tokens(SEPARATOR) if passages else 0
        if used + cost <= budget:
            passages.append(Passage(number, hit, score, hit.chunk.text.strip()))
            used += cost
            continue
        room = budget - used - (count_tokens(SEPARATOR) if passages else 0)
        if room >= MIN_CUT_TOKENS:
            cut = _cut_to_fit(number, hit.chunk, room, count_tokens)
            if cut is not None:
                passages.append(Passage(number, hit, score, cut, truncated=True))
        break
    while passages and count_tokens(render_passages(passages)) > budget:
        passages.pop()  # separators merged into more tokens than counted: drop the last
    return passages


def _cut_to_fit(number: int, chunk: Chunk, room: int, count_tokens: CountTokens) -> str | None:
    """The longest word-boundary prefix of the chunk whose passage fits `room` tokens."""
    text = chunk.text.strip()
    ends = [m.end() for m in _WORD_END.finditer(text)]
    best: str | None = None
    lo, hi = 1, len(ends) - 1  # the whole text is known not to fit
    while lo <= hi:  # binary search: a few token counts instead of one per word
        mid = (lo + hi) // 2
        candidate = text[: ends[mid - 1]] + ELLIPSIS
        if count_tokens(render_passage(number, chunk, candidate)) <= room:
            best, lo = candidate, mid + 1
        else:
            hi = mid - 1
    return best
