"""Value objects the client returns: thin, frozen views of the API's JSON objects.

Each keeps the whole JSON object in `raw` (left out of repr and equality), so a field the
server adds later is readable before this module names it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

JSON = dict[str, Any]
JobState = Literal["queued", "running", "succeeded", "failed", "cancelled"]
TERMINAL_STATES: frozenset[str] = frozenset({"succeeded", "failed", "cancelled"})


@dataclass(frozen=True)
class KB:
    """A knowledge base: its config, and document and chunk counts."""

    name: str
    engine: str | None
    index: str | None
    embedder: str | None
    dim: int | None
    domain: str | None
    chunk_tokens: int | None
    chunk_overlap: int | None
    created_at: str | None
    documents: int | None
    chunks: int | None
    raw: JSON = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, d: JSON) -> KB:
        names = ("engine", "index", "embedder", "dim", "domain", "chunk_tokens", "chunk_overlap")
        more = ("created_at", "documents", "chunks")
        return cls(name=d["name"], **{n: d.get(n) for n in names + more}, raw=d)


@dataclass(frozen=True)
class Document:
    """A stored document (its chunks are not included)."""

    id: str
    title: str | None
    source: str | None
    metadata: JSON
    chunk_count: int | None
    content_hash: str | None
    raw: JSON = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, d: JSON) -> Document:
        return cls(
            id=d["id"],
            title=d.get("title"),
            source=d.get("source"),
            metadata=d.get("metadata") or {},
            chunk_count=d.get("chunk_count"),
            content_hash=d.get("content_hash"),
            raw=d,
        )


@dataclass(frozen=True)
class DocumentPage:
    """One page of a KB's documents; `total` counts all of them."""

    data: tuple[Document, ...]
    offset: int
    limit: int
    total: int

    @classmethod
    def from_json(cls, d: JSON) -> DocumentPage:
        docs = tuple(Document.from_json(x) for x in d["data"])
        return cls(docs, int(d.get("offset", 0)), int(d.get("limit", len(docs))), int(d["total"]))


@dataclass(frozen=True)
class Job:
    """An ingestion job: state, per-stage counts, per-file errors and stage timings."""

    id: str
    kb: str
    state: JobState
    created_at: str | None
    started_at: str | None
    finished_at: str | None
    counts: dict[str, int]
    errors: tuple[JSON, ...]
    timings: dict[str, float]
    message: str | None
    raw: JSON = field(repr=False, compare=False)

    @property
    def done(self) -> bool:
        """Whether the job has reached a final state."""
        return self.state in TERMINAL_STATES

    @classmethod
    def from_json(cls, d: JSON) -> Job:
        return cls(
            id=d["id"],
            kb=d["kb"],
            state=d["state"],
            created_at=d.get("created_at"),
            started_at=d.get("started_at"),
            finished_at=d.get("finished_at"),
            counts=dict(d.get("counts") or {}),
            errors=tuple(d.get("errors") or ()),
            timings=dict(d.get("timings") or {}),
            message=d.get("message"),
            raw=d,
        )


@dataclass(frozen=True)
class Hit:
    """A search result: a chunk, its document and its score."""

    score: float
    chunk_id: str
    doc_id: str
    text: str
    title: str | None
    page: int | None
    heading_path: tuple[str, ...]
    metadata: JSON
    raw: JSON = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, d: JSON) -> Hit:
        return cls(
            score=float(d["score"]),
            chunk_id=d["chunk_id"],
            doc_id=d["doc_id"],
            text=d.get("text", ""),
            title=d.get("title"),
            page=d.get("page"),
            heading_path=tuple(d.get("heading_path") or ()),
            metadata=d.get("metadata") or {},
            raw=d,
        )


@dataclass(frozen=True)
class Answer:
    """A grounded answer; `citations` and `passages` stay the server's JSON objects."""

    answer: str
    answerable: bool
    outcome: str
    confidence: float | None
    data: Any
    citations: tuple[JSON, ...]
    passages: tuple[JSON, ...]
    usage: JSON
    timings: JSON
    profile: str | None
    model: str | None
    raw: JSON = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, d: JSON) -> Answer:
        return cls(
            answer=d["answer"],
            answerable=bool(d["answerable"]),
            outcome=d.get("outcome", ""),
            confidence=d.get("confidence"),
            data=d.get("data"),
            citations=tuple(d.get("citations") or ()),
            passages=tuple(d.get("passages") or ()),
            usage=d.get("usage") or {},
            timings=d.get("timings") or {},
            profile=d.get("profile"),
            model=d.get("model"),
            raw=d,
        )


@dataclass(frozen=True)
class Token:
    """An OAuth2 access token from /v1/oauth/token."""

    access_token: str
    token_type: str
    expires_in: int | None
    scope: str | None
    raw: JSON = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, d: JSON) -> Token:
        return cls(
            access_token=d["access_token"],
            token_type=d.get("token_type", "bearer"),
            expires_in=d.get("expires_in"),
            scope=d.get("scope"),
            raw=d,
        )


@dataclass(frozen=True)
class PassagesEvent:
    """First event of a streamed answer: the passages given to the model."""

    passages: tuple[JSON, ...]


@dataclass(frozen=True)
class DeltaEvent:
    """A piece of the generated JSON text."""

    text: str


@dataclass(frozen=True)
class AnswerEvent:
    """Last event of a streamed answer: the validated answer."""

    answer: Answer


StreamEvent = PassagesEvent | DeltaEvent | AnswerEvent
