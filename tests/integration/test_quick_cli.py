"""`rag search` on the ONNX runtime starts without PyTorch, in a fresh interpreter."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

HEAVY = ("torch", "transformers", "sentence_transformers")


def _rag(
    env: dict[str, str], *args: str, importtime: bool = False
) -> subprocess.CompletedProcess[str]:
    flags = ["-X", "importtime"] if importtime else []
    return subprocess.run(
        [sys.executable, *flags, "-m", "cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


@pytest.mark.slow
def test_search_on_onnx_imports_no_torch(tmp_path: Path) -> None:
    corpus = tmp_path / "notes"
    corpus.mkdir()
    (corpus / "otters.md").write_text("# Otters\n\nSea otters use stones to crack open shellfish.")
    (corpus / "rates.md").write_text("# Rates\n\nInterest rates rose in March.")
    env = {**os.environ, "RAG_DATA_DIR": str(tmp_path / "data"), "RAG_EMBED_RUNTIME": "onnx"}
    for args in (("kb", "create", "notes"), ("ingest", "notes", str(corpus))):
        done = _rag(env, *args)
        assert done.returncode == 0, done.stderr

    done = _rag(env, "search", "notes", "which animal uses tools", "--json", importtime=True)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)[0]["doc_id"] == "notes/otters.md"
    # -X importtime writes one line per imported module to stderr: "... | <module>".
    imported = {line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines()}
    assert "onnxruntime" in imported
    assert not imported & set(HEAVY), sorted(imported & set(HEAVY))

    # The same command on the torch runtime does import it: the check above can fail.
    torch_env = {**env, "RAG_EMBED_RUNTIME": "torch"}
    done = _rag(torch_env, "search", "notes", "otters", "--json", importtime=True)
    assert done.returncode == 0, done.stderr
    assert "torch" in {line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines()}
