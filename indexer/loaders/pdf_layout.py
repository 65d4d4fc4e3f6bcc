"""Text of one PDF page in reading lines, rebuilt from pdfium's character boxes.

pdfium's own text (`get_text_range`) follows the content stream, so a table cell that wraps
puts its row's numbers after the wrapped text, on a line of their own. Grouping the page's
characters into lines by their vertical position and ordering each line left to right keeps
a table row's label and its numbers on one line, as a reader sees it, at about 100 pages a
second: no table finder needed (bench/pdf_ingest.py measures it against the old one).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c

# A character joins a line when they overlap vertically by more than this share of the
# smaller height: superscript footnote marks join their line, the next line does not.
_OVERLAP = 0.5
# Lines compared with each new character: characters arrive sorted by top, so only the
# lowest few lines can still overlap it.
_RECENT_LINES = 4
# A horizontal gap wider than this share of the character height is a word break, for PDFs
# that position words without space characters.
_WORD_GAP = 0.15


@dataclass
class _Char:
    top: float
    bottom: float
    left: float
    right: float
    text: str
    space_after: bool = False


@dataclass
class _Line:
    top: float
    bottom: float
    chars: list[_Char] = field(default_factory=list)

    def overlap(self, char: _Char) -> float:
        """Shared height as a share of the smaller one; 0 when apart."""
        shared = min(self.top, char.top) - max(self.bottom, char.bottom)
        return max(0.0, shared) / min(self.top - self.bottom, char.top - char.bottom)

    def add(self, char: _Char) -> None:
        # The band stays the first character's: a band that grew with each character, or
        # took a taller one's, would swallow the next line of a two-line table label once
        # a column beside it sits on other baselines.
        self.chars.append(char)

    def text(self) -> str:
        parts: list[str] = []
        previous: _Char | None = None
        for char in sorted(self.chars, key=lambda c: c.left):
            if previous is not None and (
                previous.space_after
                or char.left - previous.right > _WORD_GAP * (char.top - char.bottom)
            ):
                parts.append(" ")
            parts.append(char.text)
            previous = char
        return " ".join("".join(parts).split())


def page_text(page: pdfium.PdfPage) -> str:
    """The page's text, one visual line per line, words left to right."""
    textpage = page.get_textpage()
    try:
        chars = _chars(textpage)
    finally:
        textpage.close()
    lines: list[_Line] = []
    for char in sorted(chars, key=lambda c: -c.top):
        best = max(lines[-_RECENT_LINES:], key=lambda ln: ln.overlap(char), default=None)
        if best is None or best.overlap(char) <= _OVERLAP:
            lines.append(_Line(char.top, char.bottom, [char]))
        else:
            best.add(char)
    return "\n".join(text for line in lines if (text := line.text()))


def _chars(textpage: pdfium.PdfTextPage) -> list[_Char]:
    """The page's visible characters with their boxes; spaces mark the character before them."""
    raw = textpage.raw
    box = pdfium_c.FS_RECTF()
    chars: list[_Char] = []
    # One ctypes call per character and value: pypdfium2's helpers return whole-page text
    # or rectangles of runs, neither of which says where each character sits.
    for i in range(pdfium_c.FPDFText_CountChars(raw)):
        text = chr(pdfium_c.FPDFText_GetUnicode(raw, i))
        if text.isspace() or not text.isprintable():
            # Generated spaces and line ends carry no position worth keeping, only a break.
            if chars:
                chars[-1].space_after = True
            continue
        pdfium_c.FPDFText_GetLooseCharBox(raw, i, box)
        if box.top <= box.bottom:
            continue  # a glyph without extent cannot be placed on a line
        chars.append(_Char(box.top, box.bottom, box.left, box.right, text))
    return chars
