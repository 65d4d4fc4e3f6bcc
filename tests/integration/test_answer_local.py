"""The answer path on the real packaged SmolLM2 and MiniLM over a tiny real KB.

Two generations in all (CI has 2 cores): one streamed with the default schema, one through
`rag ask --schema` with an analyst schema. The model is tiny, so the checks are about the
contract (schema-valid output, citations of passages given), not about answer quality; but
a clearly answerable question must be answered, so a model (or a gate) that abstains on
everything fails. Beside it, probes the KB cannot answer must abstain: off-topic, and in the
KB's own domain naming what it does not hold. The extractive profile (the embedded default
for free text) is checked the same way on the real MiniLM.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from cli import app
from indexer.ingest import Ingestor
from rag.answer import (
    Answer,
    Answerer,
    AnswerEvent,
    AnswerRequest,
    AnswerSettings,
    DeltaEvent,
    PassagesEvent,
    StreamEvent,
)
from rag.answer.prompt import answer_schema
from rag.config import Settings, get_settings
from rag.generation.packaged_model import PACKAGED_NAME
from rag.generation.profiles import GeneratorProfile
from rag.generation.router import GeneratorRouter
from rag.generation.schema import validation_errors
from rag.workspace import Workspace

DOCS = {
    "tides.md": "# Tides\n\nThe moon's gravity pulls the oceans and causes two tides a day.\n",
    "copper.md": "# Copper\n\nCopper conducts electricity well, so electric wires are copper.\n",
    "ledger.md": "# Ledger\n\nA ledger is the book where a business records every transaction.\n",
}
PROFILE = GeneratorProfile(max_tokens=128, context_window=1024)
PROBES = [
    "How do volcanoes erupt lava?",  # another domain: the relevance gate
    "What causes the tides on Neptune in 2023?",  # this domain, a name and year it lacks
]
ANALYST = {
    "type": "object",
    "properties": {
        "metal": {"type": "string", "maxLength": 40},
        "conducts_electricity": {"type": "boolean"},
    },
    "required": ["metal", "conducts_electricity"],
    "additionalProperties": False,
}


@pytest.fixture(scope="module")
def model_cache(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    # Shared with test_local_generator: the GGUF is converted once per machine.
    cache = request.config.cache
    return cache.mkdir("rag-models") if cache is not None else tmp_path_factory.mktemp("models")


@pytest.fixture
def kb(workspace: Workspace, tmp_path: Path) -> str:
    docs = tmp_path / "docs"
    docs.mkdir()
    for name, text in DOCS.items():
        (docs / name).write_text(text)
    workspace.create("facts", domain="science")
    handle = workspace.open("facts")
    try:
        Ingestor.for_kb(handle, workspace.settings).ingest_paths([docs], progress=False)
    finally:
        handle.close()
    return "facts"


@pytest.fixture
def router(model_cache: Path) -> Iterator[GeneratorRouter]:
    profiles = {"local": PROFILE, "extractive": GeneratorProfile(backend="extractive")}
    r = GeneratorRouter(profiles, "local", {}, model_cache)
    yield r
    asyncio.run(r.aclose())


def test_streamed_default_answer_is_schema_valid_and_cites_passages_given(
    workspace: Workspace, kb: str, router: GeneratorRouter
) -> None:
    async def collect() -> list[StreamEvent]:
        handle = workspace.open(kb)
        try:
            request = AnswerRequest("What causes the tides?", k=3)
            return [
                e
                async for e in Answerer(router, AnswerSettings(min_relevance=0.2)).stream(
                    handle, request
                )
            ]
        finally:
            handle.close()

    first, *deltas, last = asyncio.run(collect())
    assert isinstance(first, PassagesEvent) and isinstance(last, AnswerEvent)
    passages, answer = first.passages, last.answer
    assert passages and passages[0].hit.doc_id.endswith("tides.md")
    text = "".join(d.text for d in deltas if isinstance(d, DeltaEvent))
    assert (
        validation_errors(json.loads(text, strict=False), answer_schema(None, len(passages))) == []
    )
    assert answer.model == PACKAGED_NAME and answer.attempts in (1, 2)
    assert answer.usage.completion_tokens <= 3 * PROFILE.max_tokens
    # Clearly answerable: an abstention fails here, it does not skip the grounding checks.
    assert answer.outcome == "answered", answer
    assert answer.citations and answer.confidence is not None and not answer.quoted
    assert {c.passage for c in answer.citations} <= set(range(1, len(passages) + 1))
    assert {c.chunk_id for c in answer.citations} <= {p.hit.chunk.id for p in passages}


def ask(workspace: Workspace, kb: str, router: GeneratorRouter, question: str, **kw: Any) -> Answer:
    async def run() -> Answer:
        handle = workspace.open(kb)
        try:
            answerer = Answerer(router, AnswerSettings(min_relevance=0.2))
            return await answerer.answer(handle, AnswerRequest(question, k=3, **kw))
        finally:
            handle.close()

    return asyncio.run(run())


@pytest.mark.parametrize("profile", ["local", "extractive"])
@pytest.mark.parametrize("question", PROBES)
def test_probes_the_kb_cannot_answer_abstain(
    workspace: Workspace, kb: str, router: GeneratorRouter, question: str, profile: str
) -> None:
    answer = ask(workspace, kb, router, question, profile=profile)
    assert (answer.outcome, answer.answerable, answer.citations) == (
        "no_relevant_passages",
        False,
        (),
    )


def test_the_extractive_profile_quotes_the_answer_on_the_real_embedder(
    workspace: Workspace, kb: str, router: GeneratorRouter
) -> None:
    answer = ask(workspace, kb, router, "What causes the tides?", profile="extractive")
    assert (answer.outcome, answer.quoted, answer.usage.completion_tokens) == ("answered", True, 0)
    tides = next(p for p in answer.passages if p.hit.doc_id.endswith("tides.md"))
    sentence = "The moon's gravity pulls the oceans and causes two tides a day."
    assert answer.answer.startswith(f"{sentence} [{tides.number}]")
    assert answer.citations[0].doc_id.endswith("tides.md")


def test_analyst_schema_through_the_cli(
    settings: Settings, kb: str, model_cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The CLI converts the packaged model under data_dir/cache: point it at the shared copy.
    models = settings.cache_dir / "models"
    models.mkdir(parents=True)
    (models / PACKAGED_NAME).symlink_to(model_cache / "models" / PACKAGED_NAME)
    monkeypatch.setenv("RAG_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("RAG_GENERATOR_PROFILES", json.dumps({"local": PROFILE.model_dump()}))
    monkeypatch.setenv("RAG_ANSWER_MIN_RELEVANCE", "0.2")
    get_settings.cache_clear()
    schema_file = tmp_path / "schema.json"
    schema_file.write_text(json.dumps(ANALYST))
    question = "Which metal are electric wires made of?"
    try:
        result = CliRunner().invoke(
            app, ["ask", kb, question, "--schema", str(schema_file), "-k", "2", "--json"]
        )
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    answer = json.loads(result.output)
    n = len(answer["passages"])
    assert 1 <= n <= 2 and answer["profile"] == "local"
    if answer["outcome"] == "answered":
        assert validation_errors(answer["data"], ANALYST) == []
        assert answer["citations"] and all(1 <= c["passage"] <= n for c in answer["citations"])
        assert {c["chunk_id"] for c in answer["citations"]} <= {
            p["chunk_id"] for p in answer["passages"]
        }
    else:
        assert answer["outcome"] == "model_abstained" and answer["data"] is None
