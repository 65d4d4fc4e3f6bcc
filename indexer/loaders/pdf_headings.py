"""Section headings of PDF pages: from the outline when the PDF has one, else detected.

A PDF page has no markup, but a filing's structure is visible in its text: "Item 7.
Management's Discussion and Analysis ...", "Note 3 - Financial Instruments", "CONSOLIDATED
BALANCE SHEETS". A page's heading path is (the part in effect, the page's own heading):
the last numbered part ("Item", "Note", "Part") seen up to the top of this page, carried
over the pages that continue it, and the first heading-like line near the top of the page.
A table of contents lists every part on one page; such a page sets nothing.

With an outline (bookmarks), its entries are the headings: each page gets the path of the
last entry at each level that starts on or before it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

# "Item 7.", "ITEM 1A", "Note 3 -", "NOTE 12", "Part II": the numbered parts of a filing.
_PART = re.compile(
    r"^(?:item\s+\d{1,2}[a-c]?\b|note\s+\d{1,2}\b|part\s+(?:i{1,3}|iv|v)\b)", re.IGNORECASE
)
# Lines that look like headings but only repeat on every page or say nothing.
_NOISE = re.compile(
    r"^(?:table\s+of\s+contents|index|page\s+\d+|\d+|continued|\(continued\)|"
    r"\(?(?:in|dollars\s+in|amounts\s+in)\s+(?:millions|thousands|billions)\b.*)$",
    re.IGNORECASE,
)
# "Item 7. Management's Discussion and Analysis of Financial Condition and Results of
# Operations" is 92 characters and 12 words.
MAX_HEADING_CHARS = 120
MAX_HEADING_WORDS = 16
TOP_LINES = 6  # a page's own heading is among its first lines
TOC_PARTS = 4  # a page naming this many parts is a table of contents


@dataclass(frozen=True)
class OutlineEntry:
    """A bookmark: its nesting level (0 = top), title and 1-based page."""

    level: int
    title: str
    page: int


def is_heading(line: str) -> bool:
    """Whether a text line reads like a heading: short, capitalised, no sentence or number row."""
    line = line.strip()
    words = line.split()
    if not 1 <= len(words) <= MAX_HEADING_WORDS or len(line) > MAX_HEADING_CHARS:
        return False
    # A sentence ends in a stop, also inside quotes ('see Note 3, "Financial Instruments."').
    if (
        _NOISE.match(line)
        or line.rstrip("\"'\u201d\u2019)")[-1:] in (".", ",", ";", "")
        or "$" in line
        or "%" in line
    ):
        return False
    letters = sum(c.isalpha() for c in line)
    digits = sum(c.isdigit() for c in line)
    if letters < 4 or digits > letters / 3:
        return False
    if _PART.match(line) or line.isupper():
        return True
    long_words = [w for w in words if len(w) > 3 and w[0].isalpha()]
    return bool(long_words) and all(w[0].isupper() for w in long_words) and len(words) >= 2


class PageHeadings:
    """Gives each page, in order, its heading path; carries numbered parts across pages."""

    def __init__(self) -> None:
        self._part = ""

    def page(self, text: str) -> tuple[str, ...]:
        """The heading path of the next page, given its text."""
        lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
        parts = [ln for ln in lines if _PART.match(ln) and is_heading(ln)]
        if len(parts) >= TOC_PARTS:
            return ()  # a table of contents: every part named, none in effect
        top = lines[:TOP_LINES]
        part = next((ln for ln in top if ln in parts), self._part)
        # Two: a statement's page often opens with the company's name, then the statement's.
        own = [ln for ln in top if is_heading(ln) and ln not in parts][:2]
        if parts:
            self._part = parts[-1]  # the part the next page continues
        return tuple(h for h in (part, *own) if h)


def outline_paths(entries: Sequence[OutlineEntry], pages: int) -> list[tuple[str, ...]]:
    """Each page's heading path (index 0 is page 1) from the outline's entries."""
    ordered = sorted(entries, key=lambda e: e.page)  # stable: same-page entries keep order
    paths: list[tuple[str, ...]] = []
    open_: list[str] = []
    i = 0
    for page in range(1, pages + 1):
        while i < len(ordered) and ordered[i].page <= page:
            entry = ordered[i]
            title = " ".join(entry.title.split())
            del open_[entry.level :]
            open_.extend([""] * (entry.level - len(open_)))
            open_.append(title)
            i += 1
        paths.append(tuple(h for h in open_ if h))
    return paths
