"""The extractive profile and the key-term gate, over a real local KB (hashing embedder)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from indexer.ingest import Ingestor
from rag.answer import (
    Answer,
    Answerer,
    AnswerEvent,
    AnswerRequest,
    AnswerSettings,
    DeltaEvent,
    Passage,
    PassagesEvent,
    StreamEvent,
)
from rag.answer.extractive import Sentence, fitting, select, split_sentences
from rag.answer.terms import content_words, key_terms, missing_terms
from rag.embedding.fake import HashingEmbedder
from rag.errors import InvalidInputError
from rag.generation.fake import ScriptedGenerator
from rag.generation.profiles import GeneratorProfile
from rag.generation.router import GeneratorRouter
from rag.kb import KBConfig, OpenKB
from rag.retrieval import Retriever
from rag.stores.factory import open_store
from rag.types import Chunk, Document, Hit, Section

REPORT = (
    "Acme Corp sells rockets and anvils. Acme's revenue in 2019 was $1,496.5 million, up "
    "from 2018. The company has offices in Springfield and Shelbyville. Acme's revenue in "
    "2019 was $1,496.5 million, up from 2018."
)
DOCS = [
    Document("acme", (Section(REPORT),), title="Acme annual report"),
    Document("tides", (Section("The moon pulls the oceans and causes the tides."),), title="Tides"),
]


@pytest.fixture
def kb(tmp_path: Path) -> Iterator[OpenKB]:
    embedder = HashingEmbedder(dim=256)
    config = KBConfig(name="facts", embedder=embedder.name, dim=embedder.dim, chunk_tokens=96)
    store = open_store(config, tmp_path / "facts")
    Ingestor(store, embedder, config).ingest_documents(DOCS, progress=False)
    yield OpenKB(config, tmp_path / "facts", store, embedder, Retriever(store, embedder))
    store.close()


@pytest.fixture
def generator() -> ScriptedGenerator:
    return ScriptedGenerator(name="small-model", answer="Generated.")


def answerer(tmp_path: Path, generator: ScriptedGenerator) -> Answerer:
    profiles = {
        "small": GeneratorProfile(model="small-model"),
        "quote": GeneratorProfile(backend="extractive"),
    }
    router = GeneratorRouter(
        profiles, "quote", {}, tmp_path, build=lambda p, c: generator, schema_profile="small"
    )
    return Answerer(router, AnswerSettings(k=3, min_relevance=0.1))


def ask(a: Answerer, kb: OpenKB, question: str, **kw: Any) -> Answer:
    return asyncio.run(a.answer(kb, AnswerRequest(question, **kw)))


def test_quotes_the_answering_sentence_verbatim_with_its_passage(
    kb: OpenKB, tmp_path: Path, generator: ScriptedGenerator
) -> None:
    answer = ask(answerer(tmp_path, generator), kb, "What was Acme's revenue in 2019?")
    assert (answer.outcome, answer.profile, answer.quoted) == ("answered", "quote", True)
    assert answer.answer.startswith("Acme's revenue in 2019 was $1,496.5 million, up from 2018. [")
    # The repeated sentence is a near-duplicate: quoted once.
    assert answer.answer.count("1,496.5") == 1
    acme = next(p for p in answer.passages if p.hit.chunk.doc_id == "acme")
    assert f"[{acme.number}]" in answer.answer
    assert [c.doc_id for c in answer.citations] == ["acme"]
    assert (answer.usage.prompt_tokens, answer.usage.completion_tokens, answer.attempts) == (
        0,
        0,
        0,
    )
    assert answer.model == f"extractive ({kb.embedder.name})"
    assert generator.calls == []  # nothing generated


def test_stream_sends_passages_one_json_delta_and_the_answer(
    kb: OpenKB, tmp_path: Path, generator: ScriptedGenerator
) -> None:
    async def collect() -> list[StreamEvent]:
        a = answerer(tmp_path, generator)
        request = AnswerRequest("What was Acme's revenue in 2019?")
        return [e async for e in a.stream(kb, request)]

    passages, delta, final = asyncio.run(collect())
    assert isinstance(passages, PassagesEvent) and isinstance(delta, DeltaEvent)
    assert isinstance(final, AnswerEvent) and final.answer.quoted
    body = json.loads(delta.text)
    assert body["answer"] == final.answer.answer and body["answerable"] is True
    assert body["citations"] == [c.passage for c in final.answer.citations]


def test_a_schema_sent_to_the_quoting_profile_is_refused_naming_who_can(
    kb: OpenKB, tmp_path: Path, generator: ScriptedGenerator
) -> None:
    schema = {"type": "object", "properties": {"x": {"type": "string"}}, "required": ["x"]}
    with pytest.raises(InvalidInputError, match=r"'quote' quotes passages.*: small$"):
        ask(answerer(tmp_path, generator), kb, "Acme revenue?", schema=schema, profile="quote")
    # Not named: the schema goes to the profile that fills schemas.
    answer = ask(answerer(tmp_path, generator), kb, "Acme revenue?", schema=schema)
    assert (answer.profile, answer.quoted, answer.data) == ("small", False, {"x": "grounded"})


@pytest.mark.parametrize("profile", ["quote", "small"])
@pytest.mark.parametrize(
    "question",
    [
        "What was Tesla's revenue in 2019?",  # a company the KB does not hold
        "What was Acme's revenue in 2023?",  # a year it does not hold
        "Was Acme's revenue $2,100.7 million?",  # a figure it does not hold
    ],
)
def test_questions_naming_what_no_passage_names_abstain_for_every_profile(
    kb: OpenKB, tmp_path: Path, generator: ScriptedGenerator, question: str, profile: str
) -> None:
    answer = ask(answerer(tmp_path, generator), kb, question, profile=profile)
    assert (answer.outcome, answer.answerable) == ("no_relevant_passages", False)
    assert generator.calls == []


def test_the_same_question_about_what_the_kb_holds_is_answered_by_the_generator(
    kb: OpenKB, tmp_path: Path, generator: ScriptedGenerator
) -> None:
    answer = ask(
        answerer(tmp_path, generator), kb, "What was Acme's revenue in 2019?", profile="small"
    )
    assert (answer.outcome, answer.quoted, answer.answer) == ("answered", False, "Generated.")


def test_key_terms_are_names_years_and_figures() -> None:
    assert key_terms("What was Tesla's automotive revenue in 2023?") == {"tesla", "2023"}
    assert key_terms("What was Pfizer\u2019s Comirnaty revenue?") == {"pfizer", "comirnaty"}
    assert key_terms("Does HIV infection lower CD4 counts?") == {"hiv", "cd4"}
    assert key_terms("What was the change from 1,496.5 to 1,500 in the 3 segments?") == {
        "1496.5",
        "1500",
    }
    assert key_terms("How does hybrid search work?") == set()
    assert key_terms("Is the Hawkins-Kennedy test useful?") == {"hawkins", "kennedy"}
    assert key_terms("Prompting Primary Care Providers About Risk: Does It Work in the ICU?") == {
        "icu"
    }
    assert key_terms("What is The revenue?") == set()  # capitalised function words are no names


def test_missing_terms_match_case_possessives_and_separators_but_not_longer_numbers() -> None:
    texts = ["TESLA's revenue for FY2019 was $1,496.5 million"]
    assert missing_terms({"tesla", "2019", "1496.5"}, texts) == []
    assert missing_terms({"496.5", "201", "esla"}, texts) == ["201", "496.5", "esla"]


def test_content_words_drop_function_words_and_stem_plurals() -> None:
    assert content_words("What are the revenues of the companies?") == {"revenue", "company"}


def _passage(number: int, text: str) -> Passage:
    chunk = Chunk(id=f"c{number}", doc_id="d", text=text, position=0, title="t")
    return Passage(number, Hit(chunk, 1.0), 1.0, text)


def test_sentences_split_at_ends_and_lines_and_drop_fragments() -> None:
    text = (
        "Results. The drug lowered LDL by 30%. It was safe in 2019 trials!\nRevenue | 10 | 12 | 14"
    )
    assert [s.text for s in split_sentences(_passage(2, text))] == [
        "The drug lowered LDL by 30%.",
        "It was safe in 2019 trials!",
        "Revenue | 10 | 12 | 14",
    ]


def test_sentences_cut_by_the_chunk_boundaries_are_left_out() -> None:
    text = "of the year before. Sales rose 6% in the quarter. Net income was $1,048 million and"
    assert [s.text for s in split_sentences(_passage(1, text))] == ["Sales rose 6% in the quarter."]


def test_select_skips_near_duplicates_and_weak_sentences() -> None:
    scores = [0.9, 0.89, 0.8, 0.2]
    similarity = np.array(
        [[1, 0.95, 0.1, 0], [0.95, 1, 0.1, 0], [0.1, 0.1, 1, 0], [0, 0, 0, 1]], dtype=np.float32
    )
    assert select(scores, similarity) == [0, 2]  # 1 repeats 0; 3 is under 75% of the best


def test_fitting_keeps_whole_sentences_within_the_cap() -> None:
    sentences = [Sentence(1, "a" * 50), Sentence(2, "b" * 50)]
    assert fitting(sentences, max_chars=60) == sentences[:1]
    assert fitting(sentences, max_chars=200) == sentences
    assert fitting([Sentence(1, "c" * 90)], max_chars=10) == [Sentence(1, "c" * 90)]
