"""From generated JSON to an `Answer`: validate again, map citations, or abstain.

The grammar already forced the schema; validating again in Python catches a backend that did
not (an old vLLM ignoring the constraint, a proxy rewriting output). Anything that fails is
an `AnswerInvalidError`: an unusable answer is never passed on as if it were one.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rag.answer.errors import AnswerInvalidError
from rag.answer.types import NOT_IN_KB, Answer, Citation, Outcome, Passage, Timings
from rag.generation.base import Generation, JSONSchema, Usage
from rag.generation.schema import validation_errors


@dataclass(frozen=True)
class RunInfo:
    """What an answer cost and who produced it."""

    profile: str
    model: str
    usage: Usage
    timings: Timings
    attempts: int


def checked_output(generation: Generation, schema: JSONSchema) -> dict[str, Any]:
    """The generated object, or `AnswerInvalidError` when it is not JSON or breaks `schema`."""
    data = generation.data
    if data is None:
        # xgrammar's JSON string rule lets raw control characters (U+0000-U+001F but \n, \r)
        # through, which strict JSON forbids, so the backends' strict parse gives None for
        # grammar-valid text (seen from vLLM). Lenient parsing accepts them; re-serialising
        # the answer escapes them.
        try:
            data = json.loads(generation.text, strict=False)
        except ValueError:
            raise AnswerInvalidError(
                f"the generator returned text that is not JSON: {generation.text[:200]!r}"
            ) from None
    errors = validation_errors(data, schema)
    if errors:
        raise AnswerInvalidError("the generated answer breaks its schema: " + "; ".join(errors[:3]))
    if not isinstance(data, dict):
        raise AnswerInvalidError("the generated answer is not a JSON object")
    return data


def map_citations(numbers: Sequence[Any], passages: Sequence[Passage]) -> tuple[Citation, ...]:
    """Cited passage numbers as citations, in the order cited, each once."""
    by_number = {p.number: p for p in passages}
    cited: dict[int, Citation] = {}
    for number in numbers:
        if isinstance(number, bool) or not isinstance(number, int) or number not in by_number:
            raise AnswerInvalidError(
                f"citation {number!r} names no passage given (1..{len(passages)})"
            )
        # The grammar cannot enforce uniqueItems, so a repeat is dropped, not an error.
        cited.setdefault(number, Citation.of(by_number[number]))
    return tuple(cited.values())


def abstention(
    question: str, outcome: Outcome, passages: Sequence[Passage], run: RunInfo
) -> Answer:
    """The structured "not in the knowledge base" answer; nothing the model wrote survives."""
    return Answer(
        question=question,
        answer=NOT_IN_KB,
        answerable=False,
        outcome=outcome,
        confidence=None,
        citations=(),
        passages=tuple(passages),
        data=None,
        usage=run.usage,
        timings=run.timings,
        profile=run.profile,
        model=run.model,
        attempts=run.attempts,
    )


def grounded_answer(
    question: str, output: dict[str, Any], passages: Sequence[Passage], analyst: bool, run: RunInfo
) -> Answer:
    """The answer a validated output stands for: a cited answer, or an abstention."""
    if not output["answerable"]:
        return abstention(question, "model_abstained", passages, run)
    citations = map_citations(output["citations"], passages)
    if analyst:
        data: Any = output["data"]
        text = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
        confidence = None
    else:
        data, text, confidence = None, str(output["answer"]).strip(), float(output["confidence"])
        if not text:  # "answerable" but nothing said: as good as an abstention
            return abstention(question, "model_abstained", passages, run)
    return Answer(
        question=question,
        answer=text,
        answerable=True,
        outcome="answered",
        confidence=confidence,
        citations=citations,
        passages=tuple(passages),
        data=data,
        usage=run.usage,
        timings=run.timings,
        profile=run.profile,
        model=run.model,
        attempts=run.attempts,
    )
