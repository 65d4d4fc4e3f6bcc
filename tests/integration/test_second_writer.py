"""A running `rag serve` and a `rag ingest` from the CLI write one KB: the server stays current.

Before the fix the server kept its own FAISS index from when it opened the KB, so it found none
of the CLI's documents by dense search until it restarted (issue 10, item 4).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import httpx
import pytest
from serving import RAG, serving

DOCS_BEFORE = {"granite.md": "# Granite\n\nGranite is an igneous rock quarried for buildings."}
DOCS_AFTER = {
    "copper.md": "# Copper\n\nCopper conducts electricity well, so wires are made of it.",
    "tides.md": "# Tides\n\nThe pull of the moon raises the ocean tides twice a day.",
}


def _folder(root: Path, docs: dict[str, str]) -> Path:
    root.mkdir()
    for name, text in docs.items():
        (root / name).write_text(text)
    return root


def _rag(env: dict[str, str], *args: str) -> None:
    done = subprocess.run([RAG, *args], env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr


def _dense(base: str, query: str) -> list[str]:
    body = {"query": query, "mode": "dense", "k": 3}
    reply = httpx.post(f"{base}/v1/kbs/facts/search", json=body, timeout=60)
    reply.raise_for_status()
    return [hit["doc_id"].rsplit("/", 1)[-1] for hit in reply.json()["data"]]


@pytest.mark.slow
def test_server_finds_documents_a_cli_ingest_added_on_the_next_request(tmp_path: Path) -> None:
    env = {**os.environ, "RAG_DATA_DIR": str(tmp_path / "data"), "HF_HUB_OFFLINE": "1"}
    _rag(env, "kb", "create", "facts")
    _rag(env, "ingest", "facts", str(_folder(tmp_path / "before", DOCS_BEFORE)))
    with serving(env, tmp_path / "serve.log") as (_, base):
        assert _dense(base, "what are wires made of") == ["granite.md"]  # the KB is now open
        _rag(env, "ingest", "facts", str(_folder(tmp_path / "after", DOCS_AFTER)))
        assert _dense(base, "what are wires made of")[0] == "copper.md"
        assert _dense(base, "why does the sea rise twice a day")[0] == "tides.md"
