"""The remote embedder against a real `rag serve` exposing /v1/embeddings: its vectors match
the in-process embedder's on the same texts (cosine >= 0.9999), batched over several requests."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
from serving import serving

from rag.embedding import Embedder
from rag.embedding.factory import load_remote_embedder
from rag.embedding.remote import RemoteEmbedder
from rag.embedding.sentence import PACKAGED_EMBEDDER

TEXTS = [
    "Statins lower LDL cholesterol.",
    "Revenue grew 12% year over year, driven by services.",
    "The court held that the contract was void.",
    "Hybrid search fuses BM25 and dense rankings with reciprocal rank fusion.",
    "a",
    "Ünïcödé text, emoji 🚀 and numbers 3.14159.",
    "A much longer passage " * 40,
]


def test_vectors_match_the_in_process_embedder(tmp_path: Path, minilm: Embedder) -> None:
    env = {
        **os.environ,
        "RAG_DATA_DIR": str(tmp_path / "data"),
        "HF_HUB_OFFLINE": "1",
        "RAG_API_RATE_REQUESTS": "1000000",
        "RAG_GENERATOR_PROFILES": json.dumps(
            {"remote": {"backend": "vllm", "endpoint": "http://127.0.0.1:9", "model": "none"}}
        ),
        "RAG_DEFAULT_PROFILE": "remote",
    }
    with serving(env, tmp_path / "serve.log") as (_, base):
        remote = load_remote_embedder(PACKAGED_EMBEDDER, f"{base}/v1", batch_size=3)
        assert isinstance(remote, RemoteEmbedder)
        try:
            got = remote.embed(TEXTS)
        finally:
            remote.client.close()

    want = minilm.embed(TEXTS)
    assert remote.name == minilm.name and remote.dim == minilm.dim == got.shape[1]
    cosines = np.sum(got * want, axis=1)
    assert cosines.min() >= 0.9999, cosines
    # Chunking counts the same tokens either way.
    assert remote.tokenizer.token_spans(TEXTS[1]) == minilm.tokenizer.token_spans(TEXTS[1])
    assert remote.tokenizer.max_tokens == minilm.tokenizer.max_tokens
