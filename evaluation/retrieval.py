"""Retrieval evaluation: nDCG@10, Recall@10/100, MRR@10 and hit@10 per mode and per fusion.

The corpus is ingested into a KB kept in the workspace, keyed by corpus and KB settings:
content hashes make a re-run skip the embedding work, and `fresh=True` starts from empty.
Each query's dense and BM25 rankings are fetched once, as hybrid search fetches them, and
fused offline in every way compared (rag/retrieval/fusion.py): the table costs one search
per mode, not one per variant. With `focus`, questions are also searched by their
informative part (rag/retrieval/query.py); with `headers`, KBs with and without chunk headers
are compared in the same run.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence

from pydantic import BaseModel, Field

from evaluation.metrics import mean, mrr_at_k, ndcg_at_k, recall_at_k
from evaluation.retrieval_sets import RetrievalSet
from indexer.ingest import Ingestor
from rag.errors import InvalidInputError
from rag.kb import OpenKB
from rag.retrieval import Fusion, Retriever, fuse
from rag.retrieval.query import informative_query
from rag.types import EngineKind, Hit, IndexKind, SearchMode
from rag.workspace import Workspace

MODES: tuple[SearchMode, ...] = ("bm25", "dense", "hybrid")
DOC_DEPTH = 100  # Recall@100 needs a ranking of 100 units
CHUNK_DEPTH = 300  # chunks fetched to fill DOC_DEPTH units after de-duplication
# The fusions compared: classic RRF, then each kind with the dense side weighted .3/.5/.7.
FUSIONS: tuple[Fusion, ...] = (
    Fusion("rrf", 0.5),
    Fusion("rrf", 0.3),
    Fusion("rrf", 0.7),
    Fusion("minmax", 0.3),
    Fusion("minmax", 0.5),
    Fusion("minmax", 0.7),
    Fusion("tmm", 0.3),
    Fusion("tmm", 0.5),
    Fusion("tmm", 0.7),
)


class Row(BaseModel):
    """One line of the comparison: KB headers, query form, method, metrics."""

    headers: bool
    focus: bool
    method: str  # bm25, dense, or a fusion's label
    metrics: dict[str, float]


class RetrievalReport(BaseModel):
    """Metrics per mode (hybrid: the KB's fusion) and the full comparison in `rows`.

    Its JSON (`model_dump`) leaves out the ingestion time.
    """

    dataset: str
    queries: int
    modes: dict[str, dict[str, float]] = Field(default_factory=dict)
    rows: list[Row] = Field(default_factory=list)
    ingest_seconds: float = Field(default=0.0, exclude=True)


def eval_kb_name(
    data: RetrievalSet, engine: str, index: str, tokens: int, overlap: int, headers: bool
) -> str:
    """A KB name unique to the corpus and the settings that shape its index."""
    # KBs without headers keep the name they had before headers existed (their cache).
    key = f"{data.key}|{engine}|{index}|{tokens}|{overlap}" + ("|headers" if headers else "")
    digest = hashlib.blake2b(key.encode(), digest_size=5).hexdigest()
    prefix = "".join(c for c in data.name.lower() if c.isalnum() or c in "-_")[:20]
    return f"eval-{prefix}-{digest}"


def evaluate_retrieval(
    ws: Workspace,
    data: RetrievalSet,
    *,
    engine: EngineKind = "local",
    index: IndexKind = "flat",
    headers: Sequence[bool] = (True,),
    focus: Sequence[bool] = (False,),
    fusions: Sequence[Fusion] = FUSIONS,
    fresh: bool = False,
    reuse: bool = False,
    progress: bool = True,
) -> RetrievalReport:
    """Ingest the corpus (or reuse the cached KB) once per header setting; score everything.

    With `reuse`, a cached KB is scored as it is, without checking the corpus for changes: a
    loader change that alters documents' hashes (a new metadata key) would otherwise embed
    the whole corpus again though no chunk text changed.
    """
    report = RetrievalReport(dataset=data.name, queries=len(data.queries))
    for with_headers in headers:
        kb = _eval_kb(ws, data, engine, index, with_headers, fresh, reuse)
        try:
            started = time.monotonic()
            if not reuse:
                _ingest(ws, kb, data, progress)
            report.ingest_seconds += time.monotonic() - started
            asked: dict[str, tuple[list[Hit], list[Hit]]] = {}
            for focused in focus:
                lists = rankings(kb.retriever, data, focused, asked)
                asked = asked or lists
                for mode in ("bm25", "dense"):
                    ranked = {q: (d if mode == "dense" else b) for q, (d, b) in lists.items()}
                    metrics = score(data, ranked)
                    report.rows.append(
                        Row(headers=with_headers, focus=focused, method=mode, metrics=metrics)
                    )
                    report.modes.setdefault(mode, metrics)
                for fusion in fusions:
                    fused = {
                        q: fuse(d, b, fusion, kb.retriever.rrf_k) for q, (d, b) in lists.items()
                    }
                    metrics = score(data, fused)
                    row = Row(
                        headers=with_headers, focus=focused, method=fusion.label, metrics=metrics
                    )
                    report.rows.append(row)
                    if fusion == kb.retriever.fusion:
                        report.modes.setdefault("hybrid", metrics)
                if "hybrid" not in report.modes:  # the KB's fusion is not among those compared
                    fused = {
                        q: fuse(d, b, kb.retriever.fusion, kb.retriever.rrf_k)
                        for q, (d, b) in lists.items()
                    }
                    report.modes["hybrid"] = score(data, fused)
        finally:
            kb.close()
    return report


def rankings(
    retriever: Retriever,
    data: RetrievalSet,
    focused: bool,
    asked: dict[str, tuple[list[Hit], list[Hit]]] | None = None,
) -> dict[str, tuple[list[Hit], list[Hit]]]:
    """Each query's dense and BM25 rankings, as hybrid search fetches them for CHUNK_DEPTH.

    `asked` holds the rankings of the questions as asked: a focused query that is the same
    text reuses them.
    """
    lists = {}
    for qid, text in data.queries.items():
        query = informative_query(text) if focused else text
        if asked and query == text:
            lists[qid] = asked[qid]
        else:
            lists[qid] = retriever.candidates(query, CHUNK_DEPTH)
    return lists


def score(data: RetrievalSet, ranked: dict[str, list[Hit]]) -> dict[str, float]:
    """Mean metrics over the judged queries; chunk hits are collapsed to judged units."""
    ndcg, r10, r100, mrr, hit10 = [], [], [], [], []
    for qid, hits in ranked.items():
        units = list(dict.fromkeys(data.unit_of(h) for h in hits))[:DOC_DEPTH]
        judged = data.qrels[qid]
        ndcg.append(ndcg_at_k(units, judged, 10))
        r10.append(recall_at_k(units, judged, 10))
        r100.append(recall_at_k(units, judged, 100))
        mrr.append(mrr_at_k(units, judged, 10))
        hit10.append(float(mrr[-1] > 0))
    return {
        "ndcg@10": round(mean(ndcg), 4),
        "recall@10": round(mean(r10), 4),
        "recall@100": round(mean(r100), 4),
        "mrr@10": round(mean(mrr), 4),
        "hit@10": round(mean(hit10), 4),
    }


def _eval_kb(
    ws: Workspace,
    data: RetrievalSet,
    engine: EngineKind,
    index: IndexKind,
    headers: bool,
    fresh: bool,
    reuse: bool,
) -> OpenKB:
    s = ws.settings
    name = eval_kb_name(data, engine, index, s.chunk_tokens, s.chunk_overlap, headers)
    existing = {c.name for c in ws.list()}
    if reuse and name not in existing:
        raise InvalidInputError(f"no cached evaluation KB {name!r} to reuse: run without --reuse")
    if fresh and name in existing:
        ws.drop(name)
        existing.discard(name)
    if name not in existing:
        ws.create(name, engine=engine, index=index, chunk_headers=headers)
    return ws.open(name)


def _ingest(ws: Workspace, kb: OpenKB, data: RetrievalSet, progress: bool) -> None:
    ingestor = Ingestor.for_kb(kb, ws.settings)
    if data.documents is not None:
        ingestor.ingest_documents(data.documents(), progress=progress)
    if data.paths:
        ingestor.ingest_paths(list(data.paths), include=list(data.include), progress=progress)
