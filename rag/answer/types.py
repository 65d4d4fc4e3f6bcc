"""Value objects of the answer path: the request, the passages shown, citations, the Answer.

Streaming yields `PassagesEvent` first, then `DeltaEvent`s of generated JSON text, then one
`AnswerEvent` holding the validated `Answer`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from rag.generation.base import JSONSchema, Usage
from rag.stores.base import Filters
from rag.types import FusionKind, Hit, SearchMode

# Why an answer is what it is: the model answered from passages, nothing retrieved was
# relevant enough to ask the model, or the model said the passages do not hold the answer.
Outcome = Literal["answered", "no_relevant_passages", "model_abstained"]
NOT_IN_KB = "The knowledge base does not contain the answer to this question."


@dataclass(frozen=True)
class AnswerRequest:
    """A question and how to answer it; None means the KB's or the settings' default."""

    question: str
    mode: SearchMode = "hybrid"
    # Hybrid fusion and dense weight; None: the KB's.
    fusion: FusionKind | None = None
    fusion_weight: float | None = None
    k: int | None = None
    filters: Filters | None = None
    schema: JSONSchema | None = None  # an analyst's own schema for the answer's `data`
    profile: str | None = None
    max_tokens: int | None = None
    min_relevance: float | None = None
    # The retrieval query; defaults to the question. A chat follow-up ("and its mass?") is
    # retrieved with the turns it follows, while the model is asked the question as written.
    query: str | None = None


@dataclass(frozen=True)
class Passage:
    """A retrieved chunk as numbered in the prompt; `text` may be cut to fit the budget."""

    number: int
    hit: Hit
    relevance: float  # dense cosine of the query and the chunk, whatever mode found it
    text: str
    truncated: bool = False


@dataclass(frozen=True)
class Citation:
    """A passage the answer cites, mapped back to its chunk and document."""

    passage: int
    chunk_id: str
    doc_id: str
    title: str
    page: int | None
    text: str

    @classmethod
    def of(cls, passage: Passage) -> Citation:
        """The citation of a packed passage."""
        chunk = passage.hit.chunk
        return cls(passage.number, chunk.id, chunk.doc_id, chunk.title, chunk.page, passage.text)


@dataclass(frozen=True)
class Timings:
    """Seconds spent in each stage (generate includes a retry after truncation)."""

    retrieve: float = 0.0
    pack: float = 0.0
    generate: float = 0.0

    @property
    def total(self) -> float:
        """Seconds from the request to the answer."""
        return self.retrieve + self.pack + self.generate


@dataclass(frozen=True)
class Answer:
    """A grounded answer: text or analyst data, the citations behind it, and its cost."""

    question: str
    answer: str  # the answer text; an analyst answer's `data` as compact JSON
    answerable: bool
    outcome: Outcome
    confidence: float | None  # the model's own 0..1 estimate (default schema only)
    citations: tuple[Citation, ...]
    passages: tuple[Passage, ...]
    data: Any  # the analyst schema's object; None for the default schema or an abstention
    usage: Usage
    timings: Timings
    profile: str
    model: str
    attempts: int  # generations run: 0 when nothing was relevant, 2 after a length retry
    # True when `answer` is sentences quoted verbatim from the passages (the extractive
    # profile): nothing in it was written by a model.
    quoted: bool = False


@dataclass(frozen=True)
class PassagesEvent:
    """First stream event: the passages the model is given (empty when none was relevant)."""

    passages: tuple[Passage, ...]


@dataclass(frozen=True)
class DeltaEvent:
    """A piece of the JSON text being generated."""

    text: str


@dataclass(frozen=True)
class AnswerEvent:
    """Last stream event: the validated answer."""

    answer: Answer


StreamEvent = PassagesEvent | DeltaEvent | AnswerEvent
