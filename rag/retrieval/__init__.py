"""Search over a KB: dense, BM25, and hybrid (a fusion of the two rankings)."""

from rag.retrieval.fusion import FUSION_KINDS, Fusion, fuse, reciprocal_rank_fusion
from rag.retrieval.search import Retriever
from rag.types import FusionKind

__all__ = ["FUSION_KINDS", "Fusion", "FusionKind", "Retriever", "fuse", "reciprocal_rank_fusion"]
