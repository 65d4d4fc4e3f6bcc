"""Search over a KB: dense, BM25, and hybrid (reciprocal rank fusion of the two)."""

from rag.retrieval.fusion import reciprocal_rank_fusion
from rag.retrieval.search import Retriever

__all__ = ["Retriever", "reciprocal_rank_fusion"]
