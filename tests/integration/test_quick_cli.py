"""`rag search` and `rag ask` on the ONNX runtime start without PyTorch, in a fresh interpreter."""

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


def _imported(done: subprocess.CompletedProcess[str]) -> set[str]:
    """Modules a `-X importtime` run imported: it writes "... | <module>" lines to stderr."""
    return {line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines()}


@pytest.fixture
def notes_env(tmp_path: Path) -> dict[str, str]:
    """The environment of a data directory holding KB `notes` (two files) on the ONNX runtime."""
    corpus = tmp_path / "notes"
    corpus.mkdir()
    (corpus / "otters.md").write_text("# Otters\n\nSea otters use stones to crack open shellfish.")
    (corpus / "rates.md").write_text("# Rates\n\nInterest rates rose in March.")
    env = {**os.environ, "RAG_DATA_DIR": str(tmp_path / "data"), "RAG_EMBED_RUNTIME": "onnx"}
    for args in (("kb", "create", "notes"), ("ingest", "notes", str(corpus))):
        done = _rag(env, *args)
        assert done.returncode == 0, done.stderr
    return env


@pytest.mark.slow
def test_search_on_onnx_imports_no_torch(notes_env: dict[str, str]) -> None:
    done = _rag(notes_env, "search", "notes", "which animal uses tools", "--json", importtime=True)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)[0]["doc_id"] == "notes/otters.md"
    imported = _imported(done)
    assert "onnxruntime" in imported
    assert not imported & set(HEAVY), sorted(imported & set(HEAVY))

    # The same command on the torch runtime does import it: the check above can fail.
    torch_env = {**notes_env, "RAG_EMBED_RUNTIME": "torch"}
    done = _rag(torch_env, "search", "notes", "otters", "--json", importtime=True)
    assert done.returncode == 0, done.stderr
    assert "torch" in _imported(done)


@pytest.mark.slow
def test_ask_on_the_default_profile_imports_no_torch(
    notes_env: dict[str, str], tmp_path: Path
) -> None:
    question = "which animal uses stones to crack shellfish"
    done = _rag(notes_env, "ask", "notes", question, "--json", importtime=True)
    assert done.returncode == 0, done.stderr
    # The default profile quotes the passages (no generation), so the answer is the sentence.
    answer = json.loads(done.stdout)
    assert answer["outcome"] == "answered"
    assert [c["doc_id"] for c in answer["citations"]] == ["notes/otters.md"]
    imported = _imported(done)
    assert "onnxruntime" in imported
    heavy = imported & {*HEAVY, "xgrammar"}
    assert not heavy, sorted(heavy)

    # The torch runtime imports torch on the same command: the check above can fail.
    torch_env = {**notes_env, "RAG_EMBED_RUNTIME": "torch"}
    done = _rag(torch_env, "ask", "notes", question, "--json", importtime=True)
    assert done.returncode == 0, done.stderr
    assert "torch" in _imported(done)

    # An analyst's schema is still compiled by xgrammar up front (which imports torch), and
    # one the grammar engine refuses is refused before any model is loaded.
    schema = tmp_path / "bad.json"
    prop = {"type": "string", "minLength": 3, "maxLength": 1}
    schema.write_text(json.dumps({"type": "object", "properties": {"x": prop}}))
    done = _rag(notes_env, "ask", "notes", question, "--schema", str(schema), importtime=True)
    assert done.returncode == 2
    assert "not supported by the grammar engine" in done.stderr
    assert {"xgrammar", "torch"} <= _imported(done)
