"""Embedding runtimes side by side: torch float32, ONNX Runtime float32, ONNX Runtime int8.

One run, one pool of SciFact texts, every runtime timed on the whole pool in turn, for a few
rounds with the order rotated, so load from other jobs on a shared machine falls on all three
alike; each runtime's time is its median round. Reports raw encode throughput (texts/s), the
cosine of each runtime's vectors against torch's, and dense nDCG@10 on SciFact test: every
abstract (title + text) embedded whole as one vector, every claim ranked against the pool by
exact inner product.

The full corpus (5,183 abstracts) costs about 15 minutes of torch alone on a free core, so by
default the pool is every abstract judged relevant to a test claim plus a seeded random sample of
the others, up to `--docs` (the nDCG of a subset pool is higher than on the full corpus; compare
runtimes with each other, not with published figures). `--docs 0` embeds the full corpus.

    nice -n 10 .venv/bin/python -m bench.embed_variants --docs 1000
"""

from __future__ import annotations

import argparse
import json
import random
import time
from pathlib import Path

import numpy as np

from bench.machine import machine_info
from bench.paths import cache_dir, require_data
from bench.report import Report, Table
from evaluation.beir import load_beir
from evaluation.metrics import mean, ndcg_at_k
from rag.embedding import Embedder, load_embedder
from rag.embedding.base import Vectors, embedding_text
from rag.embedding.variants import EmbedRuntime

RUNTIMES: tuple[EmbedRuntime, ...] = ("torch", "onnx", "onnx-int8")


def pool(folder: Path, size: int) -> tuple[list[str], list[str]]:
    """(doc ids, texts): the judged abstracts plus a seeded sample of the rest, up to `size`."""
    data = load_beir(folder)
    judged = {d for rel in data.qrels.values() for d in rel}
    docs: dict[str, str] = {}
    with data.corpus.open() as f:
        for line in f:
            row = json.loads(line)
            docs[str(row["_id"])] = embedding_text(row.get("title", ""), row["text"])
    if size <= 0 or size >= len(docs):
        return list(docs), list(docs.values())
    others = sorted(set(docs) - judged)
    chosen = sorted(judged) + random.Random(0).sample(others, max(0, size - len(judged)))
    return chosen, [docs[d] for d in chosen]


def in_rounds(
    models: dict[EmbedRuntime, Embedder], texts: list[str], rounds: int
) -> tuple[dict[EmbedRuntime, Vectors], dict[EmbedRuntime, float]]:
    """Every model's vectors for `texts` and its median seconds for the whole list.

    Each round, each runtime embeds the whole list in turn, starting with a different runtime
    each round. Not batch by batch: a thread pool spins for a while after its work, so a runtime
    timed right after torch shares the cores with torch's idle OpenMP threads (ONNX Runtime
    float32 ran 245 claims/s timed that way, 347 timed this way, in two idle runs).
    """
    vectors: dict[EmbedRuntime, Vectors] = {}
    seconds: dict[EmbedRuntime, list[float]] = {r: [] for r in models}
    order = list(models)
    for round_no in range(rounds):
        for runtime in order[round_no % len(order) :] + order[: round_no % len(order)]:
            t0 = time.perf_counter()
            vectors[runtime] = models[runtime].embed(texts)
            seconds[runtime].append(time.perf_counter() - t0)
    return vectors, {r: float(np.median(s)) for r, s in seconds.items()}


def ndcg10(
    doc_ids: list[str],
    docs: Vectors,
    queries: Vectors,
    qids: list[str],
    qrels: dict[str, dict[str, int]],
) -> float:
    """Mean nDCG@10 of exact inner-product ranking of `docs` for each query."""
    scores = queries @ docs.T
    top = np.argsort(-scores, axis=1, kind="stable")[:, :10]
    return mean(
        [
            ndcg_at_k([doc_ids[j] for j in row], qrels[q], 10)
            for q, row in zip(qids, top, strict=True)
        ]
    )


def main() -> None:
    """Embed the pool and the claims with each runtime, print throughput and quality."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=1000, help="pool size; 0 = full corpus")
    parser.add_argument("--batch", type=int, default=32, help="texts per embed call")
    parser.add_argument("--rounds", type=int, default=3, help="timed passes per runtime")
    parser.add_argument("--json", action="store_true", help="print JSON instead of tables")
    args = parser.parse_args()

    folder = require_data("scifact")
    data = load_beir(folder)
    doc_ids, texts = pool(folder, args.docs)
    qids = sorted(data.queries)
    claims = [data.queries[q] for q in qids]
    onnx = cache_dir("onnx")
    models = {
        r: load_embedder(runtime=r, cache_dir=onnx, device="cpu", batch_size=args.batch)
        for r in RUNTIMES
    }
    for model in models.values():
        model.embed(texts[: args.batch])  # untimed warm-up
    doc_vecs, doc_s = in_rounds(models, texts, args.rounds)
    query_vecs, query_s = in_rounds(models, claims, args.rounds)

    judged = len({d for rel in data.qrels.values() for d in rel})
    report = Report(
        "Embedding runtimes: torch float32 vs ONNX Runtime float32 vs ONNX Runtime int8",
        machine_info(),
        {
            "pool": f"{len(texts)} SciFact abstracts ({judged} judged + a seeded sample)",
            "queries": f"{len(claims)} SciFact test claims",
            "batch": args.batch,
            "timing": f"median of {args.rounds} rounds, each runtime in turn",
        },
    )
    table = Table(
        "Raw encode throughput and dense retrieval quality",
        [
            "runtime",
            "abstracts/s",
            "x torch",
            "claims/s",
            "x torch",
            "min cos vs torch",
            "mean cos vs torch",
            "nDCG@10",
            "vs torch",
        ],
    )
    base_ndcg = ndcg10(doc_ids, doc_vecs["torch"], query_vecs["torch"], qids, data.qrels)
    for r in RUNTIMES:
        cos = np.sum(doc_vecs[r] * doc_vecs["torch"], axis=1)
        score = ndcg10(doc_ids, doc_vecs[r], query_vecs[r], qids, data.qrels)
        table.rows.append(
            [
                r,
                len(texts) / doc_s[r],
                doc_s["torch"] / doc_s[r],
                len(claims) / query_s[r],
                query_s["torch"] / query_s[r],
                float(cos.min()),
                float(cos.mean()),
                round(score, 4),
                f"{score - base_ndcg:+.4f}",
            ]
        )
    report.tables.append(table)
    report.emit(args.json)


if __name__ == "__main__":
    main()
