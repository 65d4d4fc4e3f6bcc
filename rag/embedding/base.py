"""The embedder seam: what chunking and retrieval need from a model."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np
import numpy.typing as npt

Vectors = npt.NDArray[np.float32]


class Tokenizer(Protocol):
    """Counts and locates the model's own tokens, so chunks never exceed what it can see."""

    # Tokens the model adds around every input ([CLS] and [SEP] for BERT).
    special_tokens: int
    # Longest input, specials included; anything longer would be silently truncated.
    max_tokens: int

    def token_spans(self, text: str) -> list[tuple[int, int]]:
        """Character (start, end) of every token of `text`, specials excluded."""
        ...


class Embedder(Protocol):
    """Turns texts into L2-normalised float32 vectors of a fixed dimension."""

    name: str
    dim: int
    tokenizer: Tokenizer

    def embed(self, texts: Sequence[str]) -> Vectors:
        """One row per text, each of unit length."""
        ...


def embedding_text(title: str, text: str) -> str:
    """What the embedder sees for a chunk: its (capped) title, a newline, then its text.

    Ingestion embeds chunks this way and the relevance gate re-embeds a chunk the same way,
    so both live beside the embedder seam.
    """
    return f"{title}\n{text}" if title else text
