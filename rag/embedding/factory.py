"""Builds the configured embedder; one loaded model per process and name."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from rag.embedding.base import Embedder
from rag.embedding.sentence import (
    PACKAGED_EMBEDDER,
    SentenceTransformerEmbedder,
    packaged_model_dir,
)


@lru_cache(maxsize=4)
def load_embedder(spec: str = PACKAGED_EMBEDDER, batch_size: int = 64) -> Embedder:
    """`packaged:all-MiniLM-L6-v2` or a path to a sentence-transformers folder."""
    if spec == PACKAGED_EMBEDDER:
        return SentenceTransformerEmbedder(packaged_model_dir(), "all-MiniLM-L6-v2", batch_size)
    path = Path(spec).expanduser()
    return SentenceTransformerEmbedder(path, path.name, batch_size)
