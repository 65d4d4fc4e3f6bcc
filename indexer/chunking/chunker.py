"""Documents to chunks: per-section packing within the embedder's window, stable chunk ids."""

from __future__ import annotations

import hashlib
import re

from indexer.chunking.boundaries import find_boundaries, plan_units
from indexer.chunking.header import chunk_header
from indexer.chunking.packer import Packer
from indexer.chunking.tokens import TokenView
from rag.embedding.base import Tokenizer
from rag.types import Chunk, Document, Section

# The title is embedded with every chunk for context; a long one is cut so text keeps the room.
TITLE_TOKENS = 32
# A header (title and section headings) may take a little more: the heading is the context.
HEADER_TOKENS = 48
MIN_TOKENS = 16
DEFAULT_MAX_CHARS = 4000
_SPACE = re.compile(r"\s")


def chunk_document(
    doc: Document,
    tokenizer: Tokenizer,
    max_tokens: int,
    overlap: int,
    max_chars: int = DEFAULT_MAX_CHARS,
    *,
    headers: bool = False,
) -> list[Chunk]:
    """Splits `doc` into chunks of at most `max_tokens` tokens and `max_chars` characters.

    Each chunk's `title` is the document's title, or with `headers` its header (title and
    section headings, indexer/chunking/header.py); it is embedded before the chunk's text.
    """
    if max_tokens < MIN_TOKENS:
        raise ValueError(f"max_tokens must be at least {MIN_TOKENS}, got {max_tokens}")
    if not 0 <= overlap < max_tokens / 2:
        raise ValueError(f"overlap must be >= 0 and < max_tokens / 2, got {overlap}")
    window = tokenizer.max_tokens - tokenizer.special_tokens
    if window - MIN_TOKENS < MIN_TOKENS:
        raise ValueError(
            f"the tokenizer's window of {tokenizer.max_tokens} tokens leaves too little per chunk"
        )
    titled = _capped_title(doc.title, tokenizer, window, TITLE_TOKENS)
    chunks: list[Chunk] = []
    for section in doc.sections:
        if headers:
            header = chunk_header(doc.title, section)
            # Without headings the header is the title, capped as a title is.
            most = HEADER_TOKENS if section.heading_path else TITLE_TOKENS
            title, title_cost = _capped_title(header, tokenizer, window, most)
        else:
            title, title_cost = titled
        limit = min(max_tokens, window - title_cost)
        # A title can shrink the budget below 2 * overlap; the packer needs overlap < limit / 2.
        cut_overlap = min(overlap, (limit - 1) // 2)
        for text in _section_texts(section.text, tokenizer, limit, cut_overlap):
            for piece in _capped(text, max_chars):
                chunks.append(_chunk(doc, section, title, piece, len(chunks)))
    return chunks


def _capped_title(title: str, tokenizer: Tokenizer, window: int, most: int) -> tuple[str, int]:
    """The title cut to its first tokens at a token boundary, and what it costs with its newline."""
    title = title.strip()
    if not title:
        return "", 0
    # Tokenized with its newline: for some models the newline is a token of its own.
    spans = tokenizer.token_spans(title + "\n")
    words = sum(1 for _, end in spans if end <= len(title))
    keep = min(most, words, window - MIN_TOKENS - 1)
    if keep <= 0:
        return "", 0
    # Cut between words when one ends in the last half of the kept tokens: reads better.
    view = TokenView(title, spans[:words], tokenizer)
    keep = next((k for k in range(keep, keep // 2, -1) if view.clean(k)), keep)
    if keep == words:
        return title, len(spans)
    # A cut title is measured again: a word piece at its end may tokenize differently alone.
    capped = title[: spans[keep - 1][1]]
    return capped, len(tokenizer.token_spans(capped + "\n"))


def _section_texts(text: str, tokenizer: Tokenizer, limit: int, overlap: int) -> list[str]:
    """Chunk texts of one section: exact, stripped substrings of it."""
    spans = tokenizer.token_spans(text)
    if not spans:
        return []
    view = TokenView(text, spans, tokenizer)
    bounds = find_boundaries(text, spans)
    ranges = Packer(view, bounds.sentences, limit, overlap).pack(
        plan_units(bounds, len(spans), limit)
    )
    texts = (view.substring(i, j).strip() for i, j in ranges)
    return [t for t in texts if t]


def _capped(text: str, max_chars: int) -> list[str]:
    """`text` cut into pieces of at most `max_chars`, at whitespace where there is some."""
    # A word the tokenizer does not know is one token however long (a megabyte without a
    # space was one chunk), so the token budget alone does not bound a chunk's size.
    pieces: list[str] = []
    while len(text) > max_chars:
        spaces = [m.start() for m in _SPACE.finditer(text, max_chars // 2, max_chars + 1)]
        cut = spaces[-1] if spaces else max_chars
        pieces.append(text[:cut].strip())
        text = text[cut:].strip()
    pieces.append(text)
    return [p for p in pieces if p]


def _chunk(doc: Document, section: Section, title: str, text: str, position: int) -> Chunk:
    """A chunk whose id depends only on document, position and text, so re-runs agree."""
    key = f"{doc.id}\x1f{position}\x1f{text}".encode()
    return Chunk(
        id=hashlib.blake2b(key, digest_size=16).hexdigest(),
        doc_id=doc.id,
        text=text,
        position=position,
        title=title,
        page=section.page,
        heading_path=section.heading_path,
        metadata=dict(doc.metadata),
    )
