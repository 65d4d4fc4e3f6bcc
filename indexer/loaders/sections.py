"""Builds heading-scoped sections for formats with headings (Markdown, HTML, DOCX)."""

from __future__ import annotations

from rag.types import Section


class SectionBuilder:
    """Collects text under the current heading path; a new heading closes the open section.

    A section's text starts with its own heading line, so the heading's words stay searchable
    even where a chunker ignores `heading_path`. A heading with no body of its own yields no
    section: it lives on in the heading paths of the sections below it.
    """

    def __init__(self) -> None:
        self._stack: list[tuple[int, str]] = []
        self._heading = ""
        self._blocks: list[str] = []
        self._sections: list[Section] = []

    def heading(self, level: int, text: str) -> None:
        """Start a section under a heading of `level` (1 = top); deeper open headings close."""
        self._flush()
        text = " ".join(text.split())
        if not text:
            return
        while self._stack and self._stack[-1][0] >= level:
            self._stack.pop()
        self._stack.append((level, text))
        self._heading = text

    def add(self, text: str) -> None:
        """Append a block of body text to the open section."""
        if text.strip():
            self._blocks.append(text.strip("\n"))

    def build(self) -> tuple[Section, ...]:
        """Close the open section and return all sections in document order."""
        self._flush()
        return tuple(self._sections)

    def _flush(self) -> None:
        body = "\n\n".join(self._blocks).strip()
        if body:
            text = f"{self._heading}\n\n{body}" if self._heading else body
            path = tuple(t for _, t in self._stack)
            self._sections.append(Section(text=text, heading_path=path))
        self._blocks = []
        self._heading = ""
