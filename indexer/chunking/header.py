"""A chunk's header: the words that say whose document it is and where in it.

A chunk deep in a 10-K ("Total net sales 260,174 ...") does not say it is Apple's, nor that
it is the income statement; its header does: "APPLE 2019 10K > Item 8. Financial Statements
> CONSOLIDATED STATEMENTS OF OPERATIONS". The header is indexed with the chunk (the stores'
`title` field, searched by BM25 on both engines) and embedded before its text; the text the
user sees stays the source text.
"""

from __future__ import annotations

import re

from rag.types import Section

SEPARATOR = " > "
# Only the innermost headings: the outer ones of a deep path repeat on every chunk and
# crowd the token budget that the chunk's own text needs.
MAX_HEADINGS = 3
_FILE_NAME_TITLE = re.compile(r"^\S*[_]\S*$")


def chunk_header(title: str, section: Section) -> str:
    """The document title, then the section's innermost headings, joined by ' > '."""
    parts = [readable_title(title)]
    for heading in section.heading_path[-MAX_HEADINGS:]:
        heading = " ".join(heading.split())
        # A heading that repeats the title or its parent says nothing new.
        if heading and heading.lower() not in (p.lower() for p in parts):
            parts.append(heading)
    return SEPARATOR.join(p for p in parts if p)


def readable_title(title: str) -> str:
    """A title that is a file name ("APPLE_2019_10K") with its underscores as spaces.

    Tokenizers keep `APPLE_2019_10K` as one word (Elasticsearch's standard tokenizer does),
    so a search for "Apple" would not match it.
    """
    title = " ".join(title.split())
    return title.replace("_", " ") if _FILE_NAME_TITLE.match(title) else title
