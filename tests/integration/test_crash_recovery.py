"""kill -9 a real `rag ingest` part-way: the KB must open, answer, and complete on re-run."""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rag.config import Settings
from rag.workspace import Workspace

pytestmark = pytest.mark.slow

TOPICS = ["glacier", "reactor", "orchard", "comet", "harbor", "violin", "desert", "enzyme"]
N_DOCS = 120


def make_corpus(folder: Path) -> None:
    rng = random.Random(7)
    words = [
        "the",
        "a",
        "of",
        "river",
        "stone",
        "light",
        "market",
        "winter",
        "signal",
        "garden",
        "engine",
        "field",
    ]
    folder.mkdir()
    for i in range(N_DOCS):
        topic = TOPICS[i % len(TOPICS)]
        body = " ".join(rng.choice(words) for _ in range(60))
        (folder / f"doc{i:03d}.txt").write_text(f"Report {i} on the {topic} number {i}. {body}.")


def chunk_count(db: Path) -> int:
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1) as conn:
            return int(conn.execute("SELECT count(*) FROM chunks").fetchone()[0])
    except sqlite3.OperationalError:  # schema not created yet
        return 0


def rag(env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "cli", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.parametrize("kill_at_chunks", [1, N_DOCS // 2])
def test_kill_9_during_ingest_then_rerun_completes(tmp_path: Path, kill_at_chunks: int) -> None:
    corpus = tmp_path / "corpus"
    make_corpus(corpus)
    data = tmp_path / "data"
    env = os.environ | {
        "RAG_DATA_DIR": str(data),
        "RAG_INGEST_BATCH_CHUNKS": "8",
        "RAG_INGEST_FLUSH_SECONDS": "0.5",
        "HF_HUB_OFFLINE": "1",
    }
    created = rag(env, "kb", "create", "crash", "--index", "hnsw")
    assert created.communicate(timeout=120) and created.returncode == 0
    db = data / "kbs" / "crash" / "kb.sqlite"

    proc = rag(env, "ingest", "crash", str(corpus))
    deadline = time.monotonic() + 240
    while chunk_count(db) < kill_at_chunks:
        assert proc.poll() is None, f"ingest ended before the kill: {proc.communicate()}"
        assert time.monotonic() < deadline, "ingest made no progress"
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)  # reaps it and closes its pipes
    assert proc.returncode == -signal.SIGKILL

    settings = Settings(data_dir=data)
    kb = Workspace(settings).open("crash")
    stored = {d.id for d in kb.store.documents()}
    assert 0 < len(stored) < N_DOCS
    for mode in ("dense", "bm25", "hybrid"):
        hits = kb.retriever.search("glacier report", mode, 20)
        assert hits, mode
        assert {h.doc_id for h in hits} <= stored, mode
    some = sorted(stored)[0]
    text = (tmp_path / some).read_text()
    assert kb.retriever.search(text, "dense", 1)[0].doc_id == some  # its vector survived
    kb.close()

    rerun = rag(env, "ingest", "crash", str(corpus), "--json")
    out, err = rerun.communicate(timeout=600)
    assert rerun.returncode == 0, err
    result = json.loads(out)
    assert result["added"] == N_DOCS - len(stored)
    assert result["unchanged"] == len(stored)

    kb = Workspace(settings).open("crash")
    assert kb.store.stats().documents == N_DOCS
    for i in (0, N_DOCS // 2, N_DOCS - 1):
        doc = f"corpus/doc{i:03d}.txt"
        top = kb.retriever.search((corpus / f"doc{i:03d}.txt").read_text(), "dense", 1)
        assert top[0].doc_id == doc
    kb.close()
