"""`rag ask` paths that need no generation: refused schemas, unknown profiles, abstention."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli import app
from rag.config import Settings, get_settings
from rag.embedding import Embedder

runner = CliRunner()


@pytest.fixture
def kb(
    tmp_path: Path, settings: Settings, minilm: Embedder, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    monkeypatch.setenv("RAG_DATA_DIR", str(settings.data_dir))
    get_settings.cache_clear()
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "tides.md").write_text(
        "# Tides\n\nThe moon's gravity pulls the oceans, causing two tides a day.\n"
    )
    (docs / "copper.md").write_text(
        "# Copper\n\nCopper conducts electricity and is drawn into wires.\n"
    )
    assert runner.invoke(app, ["kb", "create", "facts"]).exit_code == 0
    assert runner.invoke(app, ["ingest", "facts", str(docs)]).exit_code == 0
    yield "facts"
    get_settings.cache_clear()


def write(path: Path, schema: object) -> str:
    path.write_text(json.dumps(schema))
    return str(path)


def test_unsupported_schema_keyword_is_named_with_exit_code_2(kb: str, tmp_path: Path) -> None:
    schema = {"type": "object", "properties": {"n": {"type": "integer", "multipleOf": 5}}}
    result = runner.invoke(
        app, ["ask", kb, "What causes tides?", "--schema", write(tmp_path / "s.json", schema)]
    )
    assert result.exit_code == 2
    assert "unsupported JSON schema keyword 'multipleOf' at #/properties/n" in result.output


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "is not JSON"),
        ("[1, 2]", "must hold a JSON object"),
        (None, "cannot read schema file"),
    ],
)
def test_unreadable_schema_files_are_clear_errors(
    kb: str, tmp_path: Path, content: str | None, message: str
) -> None:
    path = tmp_path / "schema.json"
    if content is not None:
        path.write_text(content)
    result = runner.invoke(app, ["ask", kb, "What causes tides?", "--schema", str(path)])
    assert result.exit_code == 2
    assert message in result.output


def test_unknown_profile_names_the_known_ones(kb: str) -> None:
    result = runner.invoke(app, ["ask", kb, "What causes tides?", "--profile", "gpu"])
    assert result.exit_code == 2
    assert (
        "unknown generator profile 'gpu'" in result.output
        and "known profiles: extractive, local" in result.output
    )


def test_off_topic_question_is_not_in_the_kb(kb: str) -> None:
    result = runner.invoke(
        app, ["ask", kb, "Which team won the 1998 football world cup?", "--json"]
    )
    assert result.exit_code == 0, result.output
    answer = json.loads(result.output)
    assert answer["outcome"] == "no_relevant_passages" and answer["answerable"] is False
    assert answer["citations"] == [] and answer["attempts"] == 0
    text = runner.invoke(app, ["ask", kb, "Which team won the 1998 football world cup?"])
    assert text.output.startswith("The knowledge base does not contain the answer")
    assert "no relevant passages" in text.output


def test_free_text_is_quoted_by_default_and_says_so(kb: str) -> None:
    result = runner.invoke(app, ["ask", kb, "What causes the tides?"])
    assert result.exit_code == 0, result.output
    first, _, facts = result.output.split("\n")[:3]
    assert first.startswith("The moon's gravity pulls the oceans, causing two tides a day. [")
    assert "quoted verbatim from the sources, not written by a model" in facts
    assert "profile extractive (extractive (all-MiniLM-L6-v2))" in facts
