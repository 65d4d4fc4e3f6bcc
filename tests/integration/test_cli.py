"""The `rag` command line as a user drives it: create, ingest, search, delete, errors."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli import app
from rag.config import get_settings
from rag.embedding import Embedder

runner = CliRunner()


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, minilm: Embedder) -> Iterator[Path]:
    monkeypatch.setenv("RAG_DATA_DIR", str(tmp_path / "data"))
    get_settings.cache_clear()
    yield tmp_path / "data"
    get_settings.cache_clear()


def rag(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


def rag_streams(*args: str) -> tuple[int, str, str]:
    """Exit code, stdout and stderr apart (ingest logs progress on stderr)."""
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_create_ingest_search_delete(data_dir: Path, tmp_path: Path) -> None:
    corpus = tmp_path / "notes"
    corpus.mkdir()
    (corpus / "otters.md").write_text("# Otters\n\nSea otters use stones to crack open shellfish.")
    (corpus / "rates.csv").write_text("id,region,text\nr1,emea,Interest rates rose in March\n")

    assert rag("kb", "create", "notes", "--index", "hnsw")[0] == 0
    code, out, err = rag_streams("ingest", "notes", str(corpus), "--json")
    assert code == 0, err
    assert json.loads(out)["added"] == 2

    code, out = rag("search", "notes", "which animal uses tools", "--mode", "dense", "--json")
    assert code == 0, out
    assert json.loads(out)[0]["doc_id"] == "notes/otters.md"

    code, out = rag("search", "notes", "rates", "--where", "region=emea", "--json")
    assert [h["doc_id"] for h in json.loads(out)] == ["notes/rates.csv#r1"]
    code, out = rag("search", "notes", "rates", "--where", "region=apac", "--json")
    assert json.loads(out) == []

    assert rag("delete", "notes", "--where", "region=emea") == (0, "deleted 1 document(s)\n")
    code, out = rag("kb", "show", "notes", "--json")
    assert json.loads(out)["documents"] == 1
    code, out = rag("kb", "list")
    assert out.startswith("notes\tlocal\thnsw")
    assert rag("kb", "drop", "notes", "--yes")[0] == 0
    assert rag("kb", "list")[1] == ""


def test_errors_are_one_clear_line_and_exit_2(data_dir: Path, tmp_path: Path) -> None:
    code, out = rag("search", "nope", "anything")
    assert code == 2
    assert "no knowledge base named 'nope'" in out

    assert rag("kb", "create", "ok")[0] == 0
    code, out = rag("kb", "create", "ok")
    assert (code, "already exists" in out) == (2, True)
    code, out = rag("kb", "create", "Bad Name")
    assert code == 2 and "invalid KB name" in out
    code, out = rag("kb", "create", "tiny", "--chunk-tokens", "32", "--overlap", "20")
    assert code == 2 and "chunk_overlap" in out
    code, out = rag("ingest", "ok", str(tmp_path / "missing"))
    assert code == 2 and "no such file or folder" in out
    code, out = rag("delete", "ok")
    assert code == 2 and "--doc ID" in out
    code, out = rag("search", "ok", "x", "--where", "novalue")
    assert code == 2 and "key=value" in out
    code, out = rag("search", "ok", "   ")
    assert code == 2 and "query is empty" in out


def test_reindex_is_for_elasticsearch_kbs_only(data_dir: Path) -> None:
    assert rag("kb", "create", "notes")[0] == 0
    code, out = rag("kb", "reindex", "notes")
    assert code == 2
    assert "only Elasticsearch KBs" in out


def test_ingest_names_each_failure_by_file_and_line(data_dir: Path, tmp_path: Path) -> None:
    corpus = tmp_path / "notes"
    corpus.mkdir()
    (corpus / "ok.md").write_text("# Ok\n\nThis one loads.")
    (corpus / "c.jsonl").write_text('{"id": "a", "text": "kept"}\n{oops\n')
    (corpus / "empty.txt").write_text("")
    bad_line = "invalid JSON: Expecting property name enclosed in double quotes at column 2"
    assert rag("kb", "create", "notes")[0] == 0

    code, out, err = rag_streams("ingest", "notes", str(corpus))
    assert code == 1, err  # some files failed: a script can tell
    assert out.startswith("2 added, 0 updated, 0 unchanged")  # ok.md and a line of c.jsonl
    assert err.splitlines()[-2:] == [
        f"  failed: {corpus / 'c.jsonl'}:2: {bad_line}",
        f"  failed: {corpus / 'empty.txt'}: empty file",
    ]
    # Not a terminal: one plain progress line per file, from the first file on.
    assert f"failed {corpus / 'empty.txt'}: empty file" in err
    assert f"parsed {corpus / 'ok.md'}: 1 document(s)" in err
    code, out, err = rag_streams("ingest", "notes", str(corpus), "--json")
    assert code == 1, err
    assert json.loads(out)["failures"] == [
        {"path": f"{corpus / 'c.jsonl'}:2", "reason": bad_line},
        {"path": str(corpus / "empty.txt"), "reason": "empty file"},
    ]


def test_ingest_exits_0_when_every_file_loads(data_dir: Path, tmp_path: Path) -> None:
    (tmp_path / "ok.md").write_text("# Ok\n\nThis one loads.")
    assert rag("kb", "create", "notes")[0] == 0
    code, out, err = rag_streams("ingest", "notes", str(tmp_path / "ok.md"))
    assert code == 0, err
    assert out.startswith("1 added")
