"""Where chunks may end: paragraph breaks, then sentence ends, as token indices.

A section is cut into units the packer keeps whole: a paragraph when it fits the budget,
else its sentences; a sentence longer than the budget is marked for token-level cutting.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from dataclasses import dataclass
from itertools import pairwise

# A blank line (only spaces between two newlines) ends a paragraph.
_PARAGRAPH = re.compile(r"\n[^\S\n]*\n\s*")
# ., ? or ! (maybe closed by quotes or brackets), whitespace, then a capital or digit;
# or any newline. The break is where the next sentence begins.
_SENTENCE = re.compile(r"[.?!][\"'\u201d\u2019)\]]*\s+(?=[\"'\u201c\u2018(\[]?[A-Z0-9])|\n\s*")


@dataclass(frozen=True)
class Unit:
    """Tokens start..end-1 kept together; `oversized` ones must be cut inside."""

    start: int
    end: int
    oversized: bool = False


@dataclass(frozen=True)
class Boundaries:
    """Sorted token indices where paragraphs and sentences begin (both include 0)."""

    paragraphs: list[int]
    sentences: list[int]


def find_boundaries(text: str, spans: list[tuple[int, int]]) -> Boundaries:
    """Paragraph and sentence starts of `text`, mapped onto its token spans."""
    starts = [s for s, _ in spans]

    def token_starts(pattern: re.Pattern[str]) -> set[int]:
        found = {bisect_left(starts, m.end()) for m in pattern.finditer(text)}
        return {i for i in found if 0 < i < len(spans)}

    paragraphs = {0} | token_starts(_PARAGRAPH)
    sentences = paragraphs | token_starts(_SENTENCE)
    return Boundaries(sorted(paragraphs), sorted(sentences))


def plan_units(bounds: Boundaries, n: int, limit: int) -> list[Unit]:
    """Coarsest units that fit `limit` tokens: paragraphs, else sentences, else oversized."""
    units: list[Unit] = []
    for p, q in pairwise([*bounds.paragraphs, n]):
        if q - p <= limit:
            units.append(Unit(p, q))
            continue
        lo, hi = bisect_left(bounds.sentences, p), bisect_left(bounds.sentences, q)
        for s, e in pairwise([*bounds.sentences[lo:hi], q]):
            units.append(Unit(s, e, oversized=e - s > limit))
    return units
