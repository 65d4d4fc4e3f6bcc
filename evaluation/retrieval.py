"""Retrieval evaluation on a BEIR dataset: nDCG@10, Recall@10/100 and MRR@10 per search mode.

The corpus is ingested into a KB kept in the workspace, keyed by dataset and KB settings:
content hashes make a re-run skip the embedding work, and `fresh=True` starts from empty.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence

from pydantic import BaseModel, Field

from evaluation.beir import BeirDataset
from evaluation.metrics import mean, mrr_at_k, ndcg_at_k, recall_at_k
from indexer.ingest import Ingestor
from rag.retrieval import Retriever
from rag.types import EngineKind, IndexKind, SearchMode
from rag.workspace import Workspace

MODES: tuple[SearchMode, ...] = ("bm25", "dense", "hybrid")
DOC_DEPTH = 100  # Recall@100 needs a ranking of 100 documents
CHUNK_DEPTH = 300  # chunks fetched to fill DOC_DEPTH documents after de-duplication


class RetrievalReport(BaseModel):
    """Metrics per mode; its JSON (`model_dump`) leaves out the ingestion time."""

    dataset: str
    queries: int
    modes: dict[str, dict[str, float]] = Field(default_factory=dict)
    ingest_seconds: float = Field(default=0.0, exclude=True)


def eval_kb_name(data: BeirDataset, engine: str, index: str, tokens: int, overlap: int) -> str:
    """A KB name unique to the dataset file and the settings that shape its index."""
    key = f"{data.corpus.resolve()}|{engine}|{index}|{tokens}|{overlap}"
    digest = hashlib.blake2b(key.encode(), digest_size=5).hexdigest()
    return f"eval-{data.name.lower()[:20]}-{digest}"


def evaluate_retrieval(
    ws: Workspace,
    data: BeirDataset,
    *,
    engine: EngineKind = "local",
    index: IndexKind = "flat",
    modes: Sequence[SearchMode] = MODES,
    fresh: bool = False,
    progress: bool = True,
) -> RetrievalReport:
    """Ingest the corpus (or reuse the cached KB) and score every mode."""
    s = ws.settings
    name = eval_kb_name(data, engine, index, s.chunk_tokens, s.chunk_overlap)
    existing = {c.name for c in ws.list()}
    if fresh and name in existing:
        ws.drop(name)
        existing.discard(name)
    if name not in existing:
        ws.create(name, engine=engine, index=index)
    kb = ws.open(name)
    try:
        started = time.monotonic()
        Ingestor.for_kb(kb, s).ingest_paths([data.corpus], progress=progress)
        report = RetrievalReport(dataset=data.name, queries=len(data.queries))
        report.ingest_seconds = time.monotonic() - started
        for mode in modes:
            report.modes[mode] = score_mode(kb.retriever, data, mode)
        return report
    finally:
        kb.close()


def score_mode(retriever: Retriever, data: BeirDataset, mode: SearchMode) -> dict[str, float]:
    """Mean metrics over the judged queries; chunk hits are collapsed to documents."""
    ndcg, r10, r100, mrr = [], [], [], []
    for qid, text in data.queries.items():
        hits = retriever.search(text, mode, CHUNK_DEPTH)
        ranked = list(dict.fromkeys(h.doc_id for h in hits))[:DOC_DEPTH]
        judged = data.qrels[qid]
        ndcg.append(ndcg_at_k(ranked, judged, 10))
        r10.append(recall_at_k(ranked, judged, 10))
        r100.append(recall_at_k(ranked, judged, 100))
        mrr.append(mrr_at_k(ranked, judged, 10))
    return {
        "ndcg@10": round(mean(ndcg), 4),
        "recall@10": round(mean(r10), 4),
        "recall@100": round(mean(r100), 4),
        "mrr@10": round(mean(mrr), 4),
    }
