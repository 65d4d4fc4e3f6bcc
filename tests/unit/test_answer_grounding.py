"""From generated JSON to an Answer: validation, citation mapping, abstention, the schema."""

from __future__ import annotations

import json
from typing import Any

import pytest

from api.schemas import AnswerOut
from rag.answer import NOT_IN_KB, AnswerInvalidError, Passage, Timings
from rag.answer.grounding import (
    RunInfo,
    abstention,
    checked_output,
    grounded_answer,
    map_citations,
)
from rag.answer.prompt import answer_schema
from rag.generation.base import Generation, Usage
from rag.generation.schema import validation_errors
from rag.types import Chunk, Hit

RUN = RunInfo("local", "model-x", Usage(100, 20), Timings(0.1, 0.01, 1.5), attempts=1)
PASSAGES = [
    Passage(
        1,
        Hit(Chunk("c1", "report", "Revenue was 5.", 0, "Annual report", 3), 0.9),
        0.8,
        "Revenue was 5.",
    ),
    Passage(2, Hit(Chunk("c2", "notes", "Costs fell.", 1, "", None), 0.5), 0.6, "Costs fell."),
]


def generation(data: Any) -> Generation:
    text = json.dumps(data)
    return Generation(text, data, "stop", Usage(100, 20), "model-x")


def test_citations_map_to_chunk_document_title_page_and_text() -> None:
    cited = map_citations([2, 1, 2], PASSAGES)
    assert [c.passage for c in cited] == [2, 1]  # cited order, repeats dropped
    first = cited[1]
    assert (first.chunk_id, first.doc_id, first.title, first.page) == (
        "c1",
        "report",
        "Annual report",
        3,
    )
    assert first.text == "Revenue was 5."


@pytest.mark.parametrize("bad", [0, 3, -1, True, "1", 1.0])
def test_a_citation_outside_the_passages_given_is_invalid(bad: Any) -> None:
    with pytest.raises(AnswerInvalidError, match=r"names no passage given \(1\.\.2\)"):
        map_citations([1, bad], PASSAGES)


def test_default_answer_keeps_text_confidence_and_citations() -> None:
    output = {"answer": " Revenue was 5. ", "citations": [1], "answerable": True, "confidence": 0.7}
    answer = grounded_answer("What was revenue?", output, PASSAGES, analyst=False, run=RUN)
    assert (answer.answer, answer.answerable, answer.outcome) == (
        "Revenue was 5.",
        True,
        "answered",
    )
    assert answer.confidence == 0.7 and answer.data is None
    assert [c.chunk_id for c in answer.citations] == ["c1"]
    assert (answer.profile, answer.model, answer.attempts, answer.usage) == (
        "local",
        "model-x",
        1,
        Usage(100, 20),
    )
    assert len(answer.passages) == 2


def test_analyst_answer_keeps_the_data_object() -> None:
    output = {"data": {"decision": "yes", "n": 2}, "citations": [2], "answerable": True}
    answer = grounded_answer("q", output, PASSAGES, analyst=True, run=RUN)
    assert answer.data == {"decision": "yes", "n": 2}
    assert answer.answer == '{"decision":"yes","n":2}'
    assert answer.confidence is None
    assert [c.doc_id for c in answer.citations] == ["notes"]


@pytest.mark.parametrize(
    "output",
    [
        {"answer": "Made up.", "citations": [1], "answerable": False, "confidence": 0.9},
        {"answer": "   ", "citations": [1], "answerable": True, "confidence": 0.9},
    ],
)
def test_model_abstention_becomes_the_not_in_kb_answer(output: dict[str, Any]) -> None:
    answer = grounded_answer("q", output, PASSAGES, analyst=False, run=RUN)
    assert (answer.answer, answer.answerable, answer.outcome) == (
        NOT_IN_KB,
        False,
        "model_abstained",
    )
    assert answer.citations == () and answer.data is None and answer.confidence is None
    assert len(answer.passages) == 2  # what the model read is still reported


def test_analyst_abstention_drops_the_invented_data() -> None:
    output = {"data": {"decision": "no"}, "citations": [1], "answerable": False}
    answer = grounded_answer("q", output, PASSAGES, analyst=True, run=RUN)
    assert answer.data is None and answer.answer == NOT_IN_KB


def test_abstention_without_passages() -> None:
    wire = AnswerOut.of(abstention("q", "no_relevant_passages", (), RUN)).model_dump()
    assert wire["outcome"] == "no_relevant_passages"
    assert wire["citations"] == [] and wire["passages"] == []


def test_output_is_validated_again_against_its_schema() -> None:
    schema = answer_schema(None, 2)
    good = {"answer": "a", "citations": [1], "answerable": True, "confidence": 0.5}
    assert checked_output(generation(good), schema) == good
    with pytest.raises(AnswerInvalidError, match="breaks its schema"):
        checked_output(generation(good | {"citations": [3]}), schema)
    with pytest.raises(AnswerInvalidError, match="breaks its schema"):
        checked_output(generation(good | {"confidence": 1.5}), schema)
    # Raw control characters in strings: the grammar admits them, strict JSON does not.
    text = '{"answer":"a\x0fb","citations":[1],"answerable":true,"confidence":0}'
    lenient = checked_output(Generation(text, None, "stop", Usage(1, 1), "m"), schema)
    assert lenient["answer"] == "a\x0fb"
    not_json = Generation('{"answer": "a", ', None, "stop", Usage(1, 1), "m")
    with pytest.raises(AnswerInvalidError, match="not JSON"):
        checked_output(not_json, schema)


def test_schema_cites_only_the_passages_given_and_at_least_one() -> None:
    schema = answer_schema(None, 3)
    citations = schema["properties"]["citations"]
    assert citations["items"]["enum"] == [1, 2, 3]
    assert citations["minItems"] == 1
    assert validation_errors(
        {"answer": "a", "citations": [], "answerable": False, "confidence": 0}, schema
    )
    with pytest.raises(ValueError):
        answer_schema(None, 0)


def test_analyst_schema_is_wrapped_with_citations() -> None:
    user = {
        "type": "object",
        "properties": {"decision": {"enum": ["yes", "no"]}},
        "required": ["decision"],
    }
    schema = answer_schema(user, 2)
    assert set(schema["properties"]) == {"data", "citations", "answerable"}
    assert schema["properties"]["citations"]["items"]["enum"] == [1, 2]
    ok = {"data": {"decision": "yes"}, "citations": [2], "answerable": True}
    assert validation_errors(ok, schema) == []
    assert validation_errors(ok | {"data": {"decision": "maybe"}}, schema)
