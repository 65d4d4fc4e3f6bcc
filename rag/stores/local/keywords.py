"""Free text to a safe FTS5 query: word tokens minus stopwords, each quoted, ORed.

Users type anything (quotes, `AND`, `*`, brackets, emoji). Only word tokens survive, and each
is a quoted string, so FTS5 operators in the input are plain words and no input can produce an
FTS5 syntax error.
"""

from __future__ import annotations

import re

# Lucene's classic English stopword set (EnglishAnalyzer.ENGLISH_STOP_WORDS_SET), 33 words.
# fmt: off
STOPWORDS = frozenset((
    "a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "if", "in", "into", "is", "it",
    "no", "not", "of", "on", "or", "such", "that", "the", "their", "then", "there", "these",
    "they", "this", "to", "was", "will", "with",
))
# fmt: on
# More terms than this add nothing to a ranking and make FTS5 slow on pasted documents.
MAX_TERMS = 64

_WORD = re.compile(r"\w+")


def fts_query(text: str) -> str | None:
    """The FTS5 MATCH expression for `text`, or None when it has no searchable word."""
    terms: list[str] = []
    for word in _WORD.findall(text.lower()):
        if word not in STOPWORDS and word not in terms:
            terms.append(word)
            if len(terms) == MAX_TERMS:
                break
    if not terms:
        return None
    return " OR ".join('"' + term.replace('"', '""') + '"' for term in terms)
