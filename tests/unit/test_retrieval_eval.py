"""`rag eval retrieval`'s machinery on a tiny corpus: dev-set readers, units, the comparison."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evaluation.retrieval import FUSIONS, evaluate_retrieval
from evaluation.retrieval_sets import load_page_set, load_retrieval_set
from rag.config import Settings
from rag.embedding.fake import HashingEmbedder
from rag.errors import InvalidInputError
from rag.types import Chunk, Hit
from rag.workspace import Workspace

DOCS = {
    "tides": "The moon pulls the oceans and causes the tides twice a day.",
    "copper": "Copper conducts electricity and is drawn into wires.",
    "ledger": "A ledger records every transaction of a business.",
    "volcano": "Magma rises through the crust and erupts as lava.",
}
QUERIES = {
    "q1": "Assume that you are a geographer. What causes ocean tides?",
    "q2": "Which metal conducts electricity in wires?",
}
QRELS = {"q1": "tides", "q2": "copper"}


def beir_folder(root: Path) -> Path:
    folder = root / "tiny"
    (folder / "qrels").mkdir(parents=True)
    corpus = [{"_id": i, "title": i.title(), "text": t} for i, t in DOCS.items()]
    (folder / "corpus.jsonl").write_text("\n".join(json.dumps(d) for d in corpus))
    queries = [{"_id": q, "text": t} for q, t in QUERIES.items()]
    (folder / "queries.jsonl").write_text("\n".join(json.dumps(q) for q in queries))
    rows = ["query-id\tcorpus-id\tscore", *(f"{q}\t{d}\t1" for q, d in QRELS.items())]
    (folder / "qrels" / "test.tsv").write_text("\n".join(rows))
    return folder


def test_every_fusion_headers_and_focus_are_compared_in_one_run(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", chunk_tokens=48, chunk_overlap=4)
    ws = Workspace(settings, embedder=HashingEmbedder(dim=128))
    data = load_retrieval_set(beir_folder(tmp_path))
    report = evaluate_retrieval(
        ws, data, headers=(False, True), focus=(False, True), progress=False
    )
    # Two KBs (without and with headers), each searched as asked and focused.
    assert {c.chunk_headers for c in ws.list()} == {False, True}
    assert len(report.rows) == 2 * 2 * (2 + len(FUSIONS))
    assert [r.method for r in report.rows[:5]] == ["bm25", "dense", "rrf", "rrf w=0.3", "rrf w=0.7"]
    # The KB's own fusion (classic RRF by default) is the report's hybrid mode.
    rrf = next(r for r in report.rows if r.method == "rrf")
    assert report.modes["hybrid"] == rrf.metrics
    bm25 = next(r for r in report.rows if r.method == "bm25" and r.focus)
    assert bm25.metrics["hit@10"] == 1.0 and bm25.metrics["recall@100"] == 1.0


def test_page_units_and_page_set_errors(tmp_path: Path) -> None:
    pdfs = tmp_path / "pdfs"
    pdfs.mkdir()
    (pdfs / "A.pdf").write_bytes(b"%PDF")
    good = tmp_path / "set.jsonl"
    lines = [{"corpus": "pdfs"}, {"id": "a", "question": "q?", "file": "A.pdf", "pages": [3, 4]}]
    good.write_text("\n".join(json.dumps(x) for x in lines))
    data = load_page_set(good)
    assert data.qrels == {"a": {"A.pdf#3": 1, "A.pdf#4": 1}} and data.unit == "page"
    hit = Hit(Chunk(id="c", doc_id="filings/A.pdf", text="t", position=0, page=4), 1.0)
    assert data.unit_of(hit) == "A.pdf#4"
    missing = tmp_path / "missing.jsonl"
    lines[1]["file"] = "B.pdf"
    missing.write_text("\n".join(json.dumps(x) for x in lines))
    with pytest.raises(InvalidInputError, match=r"files not in .*: B\.pdf"):
        load_page_set(missing)
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"corpus": "pdfs"}) + "\n" + json.dumps({"id": "x"}))
    with pytest.raises(InvalidInputError, match=r"bad\.jsonl:2: bad page-set record"):
        load_page_set(bad)
    with pytest.raises(InvalidInputError, match="not a dev set"):
        load_retrieval_set(pdfs)


def test_reuse_scores_the_cached_kb_without_reading_the_corpus(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", chunk_tokens=48, chunk_overlap=4)
    ws = Workspace(settings, embedder=HashingEmbedder(dim=128))
    folder = beir_folder(tmp_path)
    data = load_retrieval_set(folder)
    with pytest.raises(InvalidInputError, match="no cached evaluation KB"):
        evaluate_retrieval(ws, data, reuse=True, progress=False)
    first = evaluate_retrieval(ws, data, progress=False)
    (folder / "corpus.jsonl").write_text("")  # a changed corpus is not looked at
    again = evaluate_retrieval(ws, data, reuse=True, progress=False)
    assert again.rows == first.rows
