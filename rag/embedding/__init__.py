"""Text embedders: the packaged sentence-transformers model by default, a hashing fake for tests."""

from rag.embedding.base import Embedder, Tokenizer
from rag.embedding.factory import load_embedder

__all__ = ["Embedder", "Tokenizer", "load_embedder"]
