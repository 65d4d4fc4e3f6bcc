"""Token-aware chunking: splits documents into chunks the embedder sees whole, never truncated."""

from indexer.chunking.chunker import chunk_document

__all__ = ["chunk_document"]
