"""A deterministic hashing embedder: the test double of `Embedder` for fast unit tests.

Texts sharing words get similar vectors, so ranking tests mean something without a model.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

import numpy as np

from rag.embedding.base import Tokenizer, Vectors

_WORD = re.compile(r"\w+")


class WordTokenizer:
    """One token per word or punctuation mark; models a 2-special-token BERT budget."""

    special_tokens = 2

    def __init__(self, max_tokens: int = 64) -> None:
        self.max_tokens = max_tokens

    def token_spans(self, text: str) -> list[tuple[int, int]]:
        return [m.span() for m in re.finditer(r"\w+|[^\w\s]", text)]


class HashingEmbedder:
    """Bag of hashed lower-cased words, L2-normalised."""

    def __init__(self, dim: int = 64, max_tokens: int = 64, name: str = "hashing-test") -> None:
        self.dim = dim
        self.name = name
        self.tokenizer: Tokenizer = WordTokenizer(max_tokens)

    def embed(self, texts: Sequence[str]) -> Vectors:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in _WORD.findall(text.lower()):
                h = int.from_bytes(hashlib.blake2b(word.encode(), digest_size=8).digest(), "big")
                out[row, h % self.dim] += 1.0
            norm = float(np.linalg.norm(out[row]))
            out[row] = out[row] / norm if norm else 1.0 / np.sqrt(self.dim)
        return out
