"""The answer path end to end over a real local KB, with a scripted generator.

The KB is real (SQLite + FAISS in tmp_path) with the hashing embedder; the generator is the
scripted test double, so every branch (gate, abstention, retry, stream) is reachable.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from api.schemas import AnswerOut
from indexer.ingest import Ingestor
from rag.answer import (
    NOT_IN_KB,
    Answer,
    Answerer,
    AnswerError,
    AnswerEvent,
    AnswerInvalidError,
    AnswerRequest,
    AnswerSettings,
    AnswerTruncatedError,
    DeltaEvent,
    PassagesEvent,
    StreamEvent,
)
from rag.answer.service import TEMPLATE_SLACK
from rag.embedding.fake import HashingEmbedder
from rag.errors import ConfigError, InvalidInputError
from rag.generation.fake import Reply, ScriptedGenerator
from rag.generation.profiles import GeneratorProfile
from rag.generation.router import GeneratorRouter
from rag.kb import KBConfig, OpenKB
from rag.retrieval import Retriever
from rag.stores.factory import open_store
from rag.types import Document, Section

DOCS = [
    Document(
        "tides",
        (Section("The moon pulls the oceans and causes the tides twice a day.", page=3),),
        title="Tides",
    ),
    Document(
        "copper", (Section("Copper conducts electricity and is drawn into wires."),), title="Copper"
    ),
    Document(
        "ledger", (Section("A ledger records every transaction of a business."),), title="Ledger"
    ),
]
QUESTION = "What causes the tides of the oceans?"
OFF_TOPIC = "How do volcanoes erupt lava?"


def reply(answer: str = "The moon.", citations: list[int] | None = None, **extra: Any) -> str:
    data = {"answer": answer, "citations": citations or [1], "answerable": True, "confidence": 0.8}
    return json.dumps(data | extra)


@pytest.fixture
def kb(tmp_path: Path) -> Iterator[OpenKB]:
    embedder = HashingEmbedder(dim=256)  # wide enough that unrelated words rarely collide
    config = KBConfig(
        name="facts",
        embedder=embedder.name,
        dim=embedder.dim,
        domain="science",
        chunk_tokens=48,
        chunk_overlap=4,
    )
    store = open_store(config, tmp_path / "facts")
    Ingestor(store, embedder, config).ingest_documents(DOCS, progress=False)
    yield OpenKB(config, tmp_path / "facts", store, embedder, Retriever(store, embedder))
    store.close()


class Fakes:
    """One scripted generator per profile, looked up by the profile's model name."""

    def __init__(self) -> None:
        self.by_model: dict[str, ScriptedGenerator] = {}
        self.builds = 0

    def build(self, profile: GeneratorProfile, cache_dir: Path) -> ScriptedGenerator:
        self.builds += 1
        return self.by_model.setdefault(profile.model, ScriptedGenerator(name=profile.model))

    def script(self, model: str, *replies: Reply | str) -> ScriptedGenerator:
        gen = self.by_model.setdefault(model, ScriptedGenerator(name=model))
        gen.replies.extend(r if isinstance(r, Reply) else Reply(r) for r in replies)
        return gen


@pytest.fixture
def fakes() -> Fakes:
    return Fakes()


def answerer(
    fakes: Fakes, tmp_path: Path, context_window: int = 1024, max_tokens: int = 64
) -> Answerer:
    profiles = {
        "small": GeneratorProfile(
            model="small-model", context_window=context_window, max_tokens=max_tokens
        ),
        "big": GeneratorProfile(model="big-model"),
    }
    router = GeneratorRouter(profiles, "small", {"finance": "big"}, tmp_path, build=fakes.build)
    return Answerer(router, AnswerSettings(k=3, min_relevance=0.2))


def ask(a: Answerer, kb: OpenKB, question: str = QUESTION, **kw: Any) -> Answer:
    return asyncio.run(a.answer(kb, AnswerRequest(question, **kw)))


def stream(a: Answerer, kb: OpenKB, question: str = QUESTION, **kw: Any) -> list[StreamEvent]:
    async def collect() -> list[StreamEvent]:
        return [event async for event in a.stream(kb, AnswerRequest(question, **kw))]

    return asyncio.run(collect())


def test_answer_cites_the_relevant_passage(kb: OpenKB, fakes: Fakes, tmp_path: Path) -> None:
    gen = fakes.script("small-model", reply(citations=[1]))
    answer = ask(answerer(fakes, tmp_path), kb)
    assert (answer.outcome, answer.answer, answer.profile, answer.attempts) == (
        "answered",
        "The moon.",
        "small",
        1,
    )
    assert [(c.passage, c.doc_id, c.title, c.page) for c in answer.citations] == [
        (1, "tides", "Tides", 3)
    ]
    assert answer.passages[0].hit.doc_id == "tides"
    assert all(p.relevance >= 0.2 for p in answer.passages)
    (call,) = gen.calls
    n = len(answer.passages)
    assert call.schema["properties"]["citations"]["items"]["enum"] == list(range(1, n + 1))
    assert call.schema["properties"]["answer"]["maxLength"] == 64  # one char per token budgeted
    assert call.messages[1].content.startswith("Passages:\n\n[1] Tides (page 3)\n")
    assert call.messages[1].content.endswith(f"Question: {QUESTION}")
    assert answer.timings.retrieve > 0 and answer.timings.generate >= 0


@pytest.mark.parametrize("mode", ["dense", "bm25", "hybrid"])
def test_nothing_relevant_is_not_in_the_kb_without_asking_the_model(
    kb: OpenKB, fakes: Fakes, tmp_path: Path, mode: str
) -> None:
    gen = fakes.script("small-model")
    answer = ask(answerer(fakes, tmp_path), kb, OFF_TOPIC, mode=mode)
    assert (answer.outcome, answer.answer, answer.answerable) == (
        "no_relevant_passages",
        NOT_IN_KB,
        False,
    )
    assert answer.passages == () and answer.citations == () and answer.attempts == 0
    assert gen.calls == []


@pytest.mark.parametrize("mode", ["dense", "bm25", "hybrid"])
def test_the_query_is_embedded_once_per_answer(
    kb: OpenKB, fakes: Fakes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    embedded: list[list[str]] = []
    embed = kb.embedder.embed

    def counted(texts: list[str]) -> Any:
        embedded.append(list(texts))
        return embed(texts)

    monkeypatch.setattr(kb.embedder, "embed", counted)
    prep = answerer(fakes, tmp_path).prepare(kb, AnswerRequest(QUESTION, mode=mode))
    assert embedded == [[QUESTION]]  # search and the relevance gate share one embedding
    assert prep.passages[0].hit.doc_id == "tides"


def test_a_threshold_above_every_score_gates_everything(
    kb: OpenKB, fakes: Fakes, tmp_path: Path
) -> None:
    answer = ask(answerer(fakes, tmp_path), kb, min_relevance=0.99)
    assert answer.outcome == "no_relevant_passages"


def test_model_saying_not_answerable_gives_the_structured_answer(
    kb: OpenKB, fakes: Fakes, tmp_path: Path
) -> None:
    fakes.script("small-model", reply("Invented text.", answerable=False))
    answer = ask(answerer(fakes, tmp_path), kb)
    assert (answer.outcome, answer.answer, answer.citations) == ("model_abstained", NOT_IN_KB, ())
    assert "Invented" not in AnswerOut.of(answer).model_dump_json()


def test_length_is_retried_once_with_twice_the_budget(
    kb: OpenKB, fakes: Fakes, tmp_path: Path
) -> None:
    gen = fakes.script("small-model", Reply('{"answer":"The mo', "length"), reply())
    answer = ask(answerer(fakes, tmp_path), kb)
    assert answer.outcome == "answered" and answer.attempts == 2
    assert [c.max_tokens for c in gen.calls] == [64, 128]
    assert answer.usage.completion_tokens == 2 + gen.count_tokens(reply())  # both are paid for
    prompt = sum(gen.count_tokens(m.content) for m in gen.calls[1].messages)
    assert prompt + TEMPLATE_SLACK + 128 <= 1024  # the retry still fits the context


def test_still_truncated_after_the_retry_is_a_typed_error(
    kb: OpenKB, fakes: Fakes, tmp_path: Path
) -> None:
    gen = fakes.script(
        "small-model", Reply('{"answer":"a', "length"), Reply('{"answer":"ab', "length")
    )
    with pytest.raises(AnswerTruncatedError, match="did not fit in 128 tokens"):
        ask(answerer(fakes, tmp_path), kb)
    assert len(gen.calls) == 2


def test_a_request_budget_overrides_the_profile(kb: OpenKB, fakes: Fakes, tmp_path: Path) -> None:
    gen = fakes.script("small-model", reply())
    ask(answerer(fakes, tmp_path), kb, max_tokens=40)
    assert gen.calls[0].max_tokens == 40
    with pytest.raises(InvalidInputError, match="no room for passages"):
        ask(answerer(fakes, tmp_path), kb, max_tokens=500)


def test_passages_are_packed_into_a_small_context(kb: OpenKB, fakes: Fakes, tmp_path: Path) -> None:
    gen = fakes.script("small-model", reply())
    a = answerer(fakes, tmp_path, context_window=256, max_tokens=32)
    answer = ask(
        a,
        kb,
        "the oceans and the tides and a business and copper wires",
        mode="bm25",
        min_relevance=-1,
    )
    (call,) = gen.calls
    prompt = sum(gen.count_tokens(m.content) for m in call.messages) + TEMPLATE_SLACK
    assert prompt + 2 * 32 <= 256
    assert 1 <= len(answer.passages) <= 3


def test_invalid_output_is_an_error_not_an_answer(kb: OpenKB, fakes: Fakes, tmp_path: Path) -> None:
    fakes.script("small-model", '{"answer": 5}', "not json at all")
    a = answerer(fakes, tmp_path)
    with pytest.raises(AnswerInvalidError, match="breaks its schema"):
        ask(a, kb)
    with pytest.raises(AnswerInvalidError, match="not JSON"):
        ask(a, kb)


def test_analyst_schema_answer_carries_data(kb: OpenKB, fakes: Fakes, tmp_path: Path) -> None:
    schema = {"type": "object", "properties": {"cause": {"type": "string"}}, "required": ["cause"]}
    gen = fakes.script(
        "small-model", json.dumps({"data": {"cause": "moon"}, "citations": [1], "answerable": True})
    )
    answer = ask(answerer(fakes, tmp_path), kb, schema=schema)
    assert answer.data == {"cause": "moon"} and answer.citations[0].doc_id == "tides"
    wrapped = gen.calls[0].schema
    assert wrapped["properties"]["data"]["properties"]["cause"]["maxLength"] > 0  # bounded
    assert '"cause"' in gen.calls[0].messages[0].content  # the model is shown the schema


def test_unsupported_analyst_schema_is_refused_before_any_work(
    kb: OpenKB, fakes: Fakes, tmp_path: Path
) -> None:
    schema = {"type": "object", "properties": {"x": {"type": "string", "not": {"const": "a"}}}}
    with pytest.raises(InvalidInputError, match="'not'"):
        ask(answerer(fakes, tmp_path), kb, schema=schema)
    assert fakes.builds == 0


def test_kb_domain_picks_the_profile_and_a_request_overrides_it(
    kb: OpenKB, fakes: Fakes, tmp_path: Path
) -> None:
    a = answerer(fakes, tmp_path)
    finance = OpenKB(
        kb.config.model_copy(update={"domain": "finance"}),
        kb.folder,
        kb.store,
        kb.embedder,
        kb.retriever,
    )
    big = fakes.script("big-model", reply())
    small = fakes.script("small-model", reply(), reply())
    assert ask(a, finance).profile == "big"
    assert ask(a, finance, profile="small").profile == "small"
    assert ask(a, kb).profile == "small"  # "science" maps to no profile: the default
    assert (len(big.calls), len(small.calls)) == (1, 2)
    assert fakes.builds == 2  # one generator per profile, reused
    with pytest.raises(ConfigError, match="known profiles: big, small"):
        ask(a, kb, profile="gpu")


def test_stream_sends_passages_then_deltas_then_the_answer(
    kb: OpenKB, fakes: Fakes, tmp_path: Path
) -> None:
    text = reply("The moon pulls the oceans.")
    fakes.script("small-model", text)
    events = stream(answerer(fakes, tmp_path), kb)
    first, *deltas, last = events
    assert isinstance(first, PassagesEvent) and first.passages[0].hit.doc_id == "tides"
    assert all(isinstance(d, DeltaEvent) for d in deltas) and len(deltas) > 1
    assert "".join(d.text for d in deltas if isinstance(d, DeltaEvent)) == text
    assert isinstance(last, AnswerEvent) and last.answer.answer == "The moon pulls the oceans."


def test_stream_retry_sends_only_the_continuation(kb: OpenKB, fakes: Fakes, tmp_path: Path) -> None:
    full = reply("The moon pulls the oceans.")
    fakes.script("small-model", Reply(full[:20], "length"), full)
    events = stream(answerer(fakes, tmp_path), kb)
    sent = "".join(e.text for e in events if isinstance(e, DeltaEvent))
    assert sent == full  # the truncated prefix is not sent twice
    last = events[-1]
    assert isinstance(last, AnswerEvent) and last.answer.attempts == 2


def test_stream_retry_that_diverges_is_an_error(kb: OpenKB, fakes: Fakes, tmp_path: Path) -> None:
    fakes.script("small-model", Reply('{"answer":"The sun', "length"), reply("The moon."))
    with pytest.raises(AnswerError, match="diverged"):
        stream(answerer(fakes, tmp_path), kb)


def test_stream_of_an_off_topic_question(kb: OpenKB, fakes: Fakes, tmp_path: Path) -> None:
    events = stream(answerer(fakes, tmp_path), kb, OFF_TOPIC)
    assert events[0] == PassagesEvent(())
    assert isinstance(events[1], AnswerEvent) and events[1].answer.outcome == "no_relevant_passages"
    assert len(events) == 2


def test_a_focused_answer_searches_the_question_without_its_instructions(
    kb: OpenKB, fakes: Fakes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    embedded: list[list[str]] = []
    embed = kb.embedder.embed

    def counted(texts: list[str]) -> Any:
        embedded.append(list(texts))
        return embed(texts)

    monkeypatch.setattr(kb.embedder, "embed", counted)
    wrapped = f"Assume that you are an oceanographer. {QUESTION} Answer in one sentence."
    plain = answerer(fakes, tmp_path)
    focused = Answerer(plain.router, AnswerSettings(k=3, min_relevance=0.2, focus_query=True))
    prep = focused.prepare(kb, AnswerRequest(wrapped))
    assert embedded == [[QUESTION]]
    assert prep.messages[1].content.endswith(f"Question: {wrapped}")  # the model sees it all
    plain.prepare(kb, AnswerRequest(wrapped))
    assert embedded[-1] == [wrapped]  # off by default: the question is searched as written
