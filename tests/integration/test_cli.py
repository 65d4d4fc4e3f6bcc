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


def test_kb_drop_with_its_server_down_removes_the_kb_and_names_what_stays(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RAG_ES_URL", "http://127.0.0.1:1")  # a closed port
    get_settings.cache_clear()
    code, out = rag("kb", "create", "esk", "--engine", "elasticsearch")
    assert code != 0 and "unreachable" in out.lower()
    assert rag("kb", "show", "esk")[0] != 0  # refused: nothing registered
    # A KB created while the server answered, which has since gone away.
    from rag.kb import KBConfig, Registry

    settings = get_settings()
    config = KBConfig(name="esk", engine="elasticsearch", embedder=settings.embedder, dim=384)
    Registry(settings.kb_root).create(config)
    code, out = rag("kb", "drop", "esk", "--yes")
    assert code == 0, out
    assert "dropped esk" in out and "rag-esk" in out and "still hold" in out
    assert rag("kb", "show", "esk")[0] != 0


def test_where_values_past_int64_are_text_not_a_crash(data_dir: Path, tmp_path: Path) -> None:
    corpus = tmp_path / "notes"
    corpus.mkdir()
    record = {"id": "a", "text": "tides and the moon", "metadata": {"year": 2020}}
    (corpus / "a.jsonl").write_text(json.dumps(record) + "\n")
    assert rag("kb", "create", "notes")[0] == 0
    assert rag("ingest", "notes", str(corpus))[0] == 0
    huge = "year=100000000000000000000000000000"
    code, out = rag("search", "notes", "tides", "--where", huge)
    assert code == 0, out
    code, out = rag("delete", "notes", "--where", huge)
    assert code == 0 and "deleted 0 document(s)" in out, out
    code, out = rag("search", "notes", "tides", "--where", "year=2020")
    assert code == 0 and "tides" in out, out


def test_ingest_exits_0_when_every_file_loads(data_dir: Path, tmp_path: Path) -> None:
    (tmp_path / "ok.md").write_text("# Ok\n\nThis one loads.")
    assert rag("kb", "create", "notes")[0] == 0
    code, out, err = rag_streams("ingest", "notes", str(tmp_path / "ok.md"))
    assert code == 0, err
    assert out.startswith("1 added")
