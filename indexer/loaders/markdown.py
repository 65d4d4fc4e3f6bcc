"""Markdown loader: one section per heading, keeping the path of headings above it."""

from __future__ import annotations

from pathlib import Path

from markdown_it import MarkdownIt
from markdown_it.token import Token

from indexer.loaders.decode import read_text
from indexer.loaders.limits import LoadLimits
from indexer.loaders.sections import SectionBuilder
from rag.types import Document

# Inline token types whose content is visible heading text (links and emphasis wrap these).
_INLINE_TEXT = {"text", "code_inline"}


def load_markdown(path: Path, doc_id: str, limits: LoadLimits) -> list[Document]:
    """Load a Markdown file; title: front-matter `title`, else the first H1, else the stem."""
    lines = read_text(path).split("\n")
    front_title, start = _front_matter(lines)
    lines = lines[start:]
    builder = SectionBuilder()
    first_h1 = ""
    body_start = 0
    # A parser rather than a regex, so `#` lines inside fenced code are not headings and
    # setext headings (underlined with === or ---) are.
    tokens = MarkdownIt("commonmark").parse("\n".join(lines))
    for i, token in enumerate(tokens):
        if token.type != "heading_open" or token.level != 0 or token.map is None:
            continue
        builder.add("\n".join(lines[body_start : token.map[0]]))
        level = int(token.tag[1])
        text = _inline_text(tokens[i + 1])
        builder.heading(level, text)
        if level == 1 and not first_h1:
            first_h1 = text
        body_start = token.map[1]
    builder.add("\n".join(lines[body_start:]))
    title = front_title or " ".join(first_h1.split()) or path.stem
    return [Document(id=doc_id, sections=builder.build(), title=title)]


def _inline_text(inline: Token) -> str:
    return "".join(c.content for c in inline.children or () if c.type in _INLINE_TEXT)


def _front_matter(lines: list[str]) -> tuple[str, int]:
    """YAML front matter's `title:` and the index of the first line after it."""
    # Without this, `title: x` followed by the closing `---` would parse as a setext heading.
    if not lines or lines[0].strip() != "---":
        return "", 0
    for end in range(1, len(lines)):
        if lines[end].strip() in ("---", "..."):
            break
    else:
        return "", 0
    title = ""
    for line in lines[1:end]:
        key, sep, value = line.partition(":")
        if sep and key.strip().lower() == "title":
            title = value.strip().strip("'\"")
    return title, end + 1
