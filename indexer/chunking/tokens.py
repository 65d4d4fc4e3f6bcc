"""One section's text with its model tokens, located once, measured in token indices."""

from __future__ import annotations

import re

from rag.embedding.base import Tokenizer

_SPACE = re.compile(r"\s")


class TokenView:
    """Answers "where may a chunk start or end" and "how many tokens is this range"."""

    def __init__(self, text: str, spans: list[tuple[int, int]], tokenizer: Tokenizer) -> None:
        self.text = text
        self.spans = spans
        self.n = len(spans)
        self._tokenizer = tokenizer

    def clean(self, i: int) -> bool:
        """True when a cut before token `i` falls on whitespace, not inside a word."""
        if i <= 0 or i >= self.n:
            return True
        return _SPACE.search(self.text, self.spans[i - 1][1], self.spans[i][0]) is not None

    def count(self, i: int, j: int) -> int:
        """Tokens the model sees for tokens i..j-1 cut out on their own."""
        if self.clean(i) and self.clean(j):
            # Word-level tokenizers tokenize whitespace-separated words independently,
            # so a range cut on whitespace keeps exactly its tokens.
            return j - i
        # Cut inside a word: a word piece standing alone may tokenize differently.
        return len(self._tokenizer.token_spans(self.substring(i, j)))

    def substring(self, i: int, j: int) -> str:
        """Exact source text from the start of token i to the end of token j-1."""
        return self.text[self.spans[i][0] : self.spans[j - 1][1]]
