"""The native HTTP API's wire format: every request and response body, described once.

Routes take these as bodies and declare them as `response_model`s, so /openapi.json describes
them; the Python client (`api.client`) validates the service's answers with the same classes;
`rag ask --json` prints `AnswerOut`. A domain object becomes its wire object through `of`.
The OpenAI-compatible API is another wire format, owned by `api.openai.schemas`.

Rounding is part of the format: a passage's relevance has 4 decimals, a job's timings 3.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    field_validator,
    model_validator,
)

from controlplane.keys import MAX_LABEL
from controlplane.principal import Scope
from indexer.jobs.model import FINAL_STATES, FileError, JobCounts, JobState, JobTimings
from rag.tenancy import public_name
from rag.types import EngineKind, FusionKind, IndexKind, SearchMode

if TYPE_CHECKING:  # for annotations only
    from collections.abc import Sequence

    from controlplane.keys import KeyInfo
    from indexer.jobs.model import Job
    from rag.answer.types import Answer, Passage
    from rag.kb import KBConfig
    from rag.types import Hit, StoredDocument

# SQLite stores integers in 64 bits: a larger one would overflow in the engine (a 500), so the
# boundary refuses it by name. Strict types keep `true` from passing as 1 and "5" as 5.
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


def _int64(value: str | int | float | bool) -> str | int | float | bool:
    wide = isinstance(value, int) and not isinstance(value, bool)
    if wide and not INT64_MIN <= int(value) <= INT64_MAX:
        raise ValueError(f"integer out of range: use -2^63 .. 2^63-1, got {value}")
    return value


FiniteFloat = Annotated[float, Field(strict=True, allow_inf_nan=False)]
# A metadata value, and a filter's.
Scalar = Annotated[StrictStr | StrictInt | FiniteFloat | StrictBool, AfterValidator(_int64)]
NAME_PATTERN = r"^[a-z0-9][a-z0-9_-]*$"
MAX_RECORDS = 10_000
_FORBID = ConfigDict(extra="forbid")  # request bodies: a misspelt field is an error
FUSION_HELP = (
    "how hybrid search fuses its dense and BM25 rankings: rrf (reciprocal rank fusion), "
    "minmax or tmm (a weighted sum of min-max or theoretical-min normalised scores); "
    "default: the KB's"
)
WEIGHT_HELP = "the dense ranking's weight in hybrid fusion, 0..1 (BM25 gets the rest)"

# --- errors -------------------------------------------------------------------------------


class ErrorDetail(BaseModel):
    """The OpenAI error object."""

    message: str = Field(examples=["no knowledge base named 'handbook'"])
    type: str = Field(examples=["not_found_error"])
    param: str | None = Field(description="the offending field, as `body.k`", examples=[None])
    code: str | None = Field(examples=["kb_not_found"])


class ErrorOut(BaseModel):
    """Every error answer; `request_id` is also the `X-Request-ID` header."""

    error: ErrorDetail
    request_id: str | None


ERROR_MEANINGS = {
    400: "the request cannot be carried out as given (`invalid_input`, `invalid_config`, ...)",
    401: "missing, unknown, revoked or expired credentials (`invalid_token`)",
    403: "the key lacks the scope (`insufficient_scope`) or may not use the KB",
    404: "no such knowledge base, document or job for this caller",
    409: "the knowledge base exists (`kb_exists`) or the job has finished (`job_finished`)",
    413: "the body is over the size limit",
    415: "the content type is neither multipart/form-data nor application/json",
    422: "a field is invalid; `param` names it (`invalid_field`)",
    429: "over the key's rate limit: the `Retry-After` header says when to try again",
    502: "the generator's output was unusable (`answer_unusable`, `generator_failed`)",
    503: "a backend (Elasticsearch, a vLLM server) or the generator is unavailable",
}
AUTH_ERRORS = (401, 403, 429)  # every authenticated route
KB_ERRORS = (*AUTH_ERRORS, 404, 422, 503)  # routes under /kbs/{kb}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for the error statuses a route can answer, all `ErrorOut`."""
    return {s: {"model": ErrorOut, "description": ERROR_MEANINGS[s]} for s in sorted(statuses)}


# --- operations ---------------------------------------------------------------------------


class HealthOut(BaseModel):
    status: Literal["ok"] = "ok"


class ReadyOut(BaseModel):
    status: Literal["ready", "not_ready"]
    checks: dict[str, str] = Field(
        description="each dependency's state: `ok` or `ready`, else what is wrong",
        examples=[{"embedder": "ok", "generator:local": "ready"}],
    )


# --- knowledge bases ----------------------------------------------------------------------


class KBCreate(BaseModel):
    """A new KB; omitted options take the service's defaults."""

    model_config = _FORBID

    name: str = Field(
        min_length=1,
        max_length=63,
        pattern=NAME_PATTERN,
        description="lower-case letters, digits, '-' or '_'; no '__'",
        examples=["handbook"],
    )
    engine: EngineKind = "local"
    index: IndexKind | None = Field(default=None, description="flat, hnsw or ivfpq")
    chunk_tokens: int | None = Field(strict=True, default=None, ge=16, le=256)
    chunk_overlap: int | None = Field(strict=True, default=None, ge=0, le=127)
    domain: str = Field(
        default="general",
        min_length=1,
        max_length=64,
        pattern=NAME_PATTERN,
        description="picks the generator profile (RAG_DOMAIN_PROFILES)",
        examples=["finance"],
    )
    fusion: FusionKind | None = Field(default=None, description=FUSION_HELP)
    fusion_weight: float | None = Field(
        default=None, ge=0.0, le=1.0, strict=True, description=WEIGHT_HELP
    )
    chunk_headers: bool | None = Field(
        default=None,
        description="index and embed each chunk under a header: document title and section",
    )


class KBOut(BaseModel):
    name: str
    engine: EngineKind
    index: IndexKind
    chunk_tokens: int
    chunk_overlap: int
    embedder: str
    dim: int
    domain: str
    fusion: FusionKind
    fusion_weight: float
    chunk_headers: bool
    created_at: str
    documents: int | None = Field(description="null while the KB cannot be opened")
    chunks: int | None

    @classmethod
    def of(cls, config: KBConfig, documents: int | None, chunks: int | None) -> KBOut:
        """A KB by its tenant's name for it; the counts are None when not looked up."""
        fields: dict[str, Any] = config.model_dump(exclude={"name", "tenant"})
        return cls(name=public_name(config), documents=documents, chunks=chunks, **fields)


class KBList(BaseModel):
    data: list[KBOut]


# --- documents ----------------------------------------------------------------------------


class RecordIn(BaseModel):
    """One document given as text; its metadata is flat (scalar values only)."""

    model_config = _FORBID

    id: str = Field(min_length=1, max_length=512, examples=["refunds"])
    text: str = Field(min_length=1, max_length=1_000_000, examples=["Refunds take 14 days."])
    title: str | None = Field(default=None, max_length=1000, examples=["Refunds"])
    metadata: dict[str, Scalar] | None = Field(
        default=None, max_length=64, examples=[{"year": 2024, "lang": "en"}]
    )

    @field_validator("id", "text")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value

    @field_validator("metadata")
    @classmethod
    def _finite(cls, value: dict[str, Scalar] | None) -> dict[str, Scalar] | None:
        for key, item in (value or {}).items():
            if isinstance(item, float) and not math.isfinite(item):
                raise ValueError(f"metadata {key!r} is not a finite number")
        return value


class RecordsIn(BaseModel):
    """JSON records to ingest; ids must be unique within one request."""

    model_config = _FORBID

    documents: list[RecordIn] = Field(min_length=1, max_length=MAX_RECORDS)

    @model_validator(mode="after")
    def _unique_ids(self) -> RecordsIn:
        seen: set[str] = set()
        for record in self.documents:
            if record.id in seen:
                raise ValueError(f"document id {record.id!r} appears twice")
            seen.add(record.id)
        return self


class DocumentOut(BaseModel):
    id: str
    title: str
    source: str = Field(description="'upload:<file name>' for uploaded files")
    metadata: dict[str, Any]
    chunk_count: int
    content_hash: str

    @classmethod
    def of(cls, doc: StoredDocument) -> DocumentOut:
        return cls(
            id=doc.id,
            title=doc.title,
            source=doc.source,
            metadata=dict(doc.metadata),
            chunk_count=doc.chunk_count,
            content_hash=doc.content_hash,
        )


class DocumentPage(BaseModel):
    """One page of a KB's documents; `total` counts all of them."""

    data: list[DocumentOut]
    offset: int
    limit: int
    total: int


class DeleteWhere(BaseModel):
    model_config = _FORBID

    where: dict[str, Scalar] = Field(
        min_length=1,
        max_length=32,
        description="metadata equality filters, ANDed; every matching document is deleted",
        examples=[{"year": 2023}],
    )


class Deleted(BaseModel):
    deleted: int


# --- ingestion jobs -----------------------------------------------------------------------


class JobOut(BaseModel):
    """An ingestion job; poll `GET /v1/jobs/{id}` until `state` is final."""

    id: str
    kb: str = Field(description="the knowledge base, by the caller's name for it")
    state: JobState
    created_at: str
    started_at: str | None
    finished_at: str | None
    counts: JobCounts
    errors: list[FileError]
    timings: JobTimings
    message: str | None
    resumed: int = Field(description="times a service restart found the job unfinished")

    @property
    def done(self) -> bool:
        """Whether the job has reached a final state."""
        return self.state in FINAL_STATES

    @classmethod
    def of(cls, job: Job) -> JobOut:
        """The job as its tenant sees it: the KB by the tenant's name, timings in ms steps."""
        timings = {stage: round(s, 3) for stage, s in job.timings.model_dump().items()}
        shown = job.model_dump(include=set(cls.model_fields) - {"kb", "timings"})
        return cls.model_validate({**shown, "kb": job.kb_name, "timings": timings})


class JobList(BaseModel):
    data: list[JobOut]


# --- search -------------------------------------------------------------------------------


class SearchBody(BaseModel):
    model_config = _FORBID

    query: str = Field(min_length=1, max_length=4000, examples=["how does hybrid search work"])
    mode: SearchMode = "hybrid"
    k: int = Field(strict=True, default=10, ge=1, le=100)
    filters: dict[str, Scalar] | None = Field(
        default=None,
        max_length=32,
        description="metadata equality filters, ANDed",
        examples=[{"year": 2023}],
    )
    fusion: FusionKind | None = Field(default=None, description=FUSION_HELP)
    fusion_weight: float | None = Field(
        default=None, ge=0.0, le=1.0, strict=True, description=WEIGHT_HELP
    )


class HitOut(BaseModel):
    """A search result: a chunk, its document and its score."""

    score: float
    chunk_id: str
    doc_id: str
    text: str
    title: str
    page: int | None
    heading_path: list[str]
    metadata: dict[str, Any]

    @classmethod
    def of(cls, hit: Hit) -> HitOut:
        c = hit.chunk
        return cls(
            score=hit.score,
            chunk_id=c.id,
            doc_id=c.doc_id,
            text=c.text,
            title=c.title,
            page=c.page,
            heading_path=list(c.heading_path),
            metadata=dict(c.metadata),
        )


class SearchOut(BaseModel):
    data: list[HitOut]
    mode: SearchMode
    k: int


# --- answers ------------------------------------------------------------------------------


class AnswerBody(BaseModel):
    model_config = _FORBID

    question: str = Field(min_length=1, max_length=4000, examples=["What is the refund policy?"])
    schema_: dict[str, Any] | None = Field(
        default=None,
        alias="schema",
        description="a JSON schema (type object) for the answer's `data`",
        examples=[
            {
                "type": "object",
                "properties": {"amount": {"type": "number"}},
                "required": ["amount"],
            }
        ],
    )
    filters: dict[str, Scalar] | None = Field(default=None, max_length=32)
    mode: SearchMode = "hybrid"
    fusion: FusionKind | None = Field(default=None, description=FUSION_HELP)
    fusion_weight: float | None = Field(
        default=None, ge=0.0, le=1.0, strict=True, description=WEIGHT_HELP
    )
    k: int | None = Field(strict=True, default=None, ge=1, le=50)
    profile: str | None = Field(default=None, max_length=64)
    max_tokens: int | None = Field(strict=True, default=None, ge=16, le=8192)
    min_relevance: float | None = Field(default=None, ge=-1.0, le=1.0, strict=True)
    stream: bool = False


class CitationOut(BaseModel):
    """A passage the answer cites, mapped back to its chunk and document."""

    passage: int = Field(description="the passage's `number`", examples=[1])
    chunk_id: str
    doc_id: str
    title: str
    page: int | None
    text: str = Field(description="the passage as the model saw it")


class PassageOut(BaseModel):
    """A retrieved passage as numbered in the prompt."""

    number: int
    chunk_id: str
    doc_id: str
    title: str
    page: int | None
    # Only the stream's `passages` event carries the text; an answer's citations do.
    text: str | None = Field(
        default=None,
        exclude_if=lambda text: text is None,
        description="the text the model saw (in the stream's `passages` event only)",
    )
    score: float = Field(description="the score of the retrieval mode that found it")
    relevance: float = Field(description="dense cosine of question and passage, 4 decimals")
    truncated: bool = Field(description="cut to fit the prompt's budget")

    @classmethod
    def of(cls, p: Passage, *, with_text: bool = False) -> PassageOut:
        chunk = p.hit.chunk
        return cls(
            number=p.number,
            chunk_id=chunk.id,
            doc_id=chunk.doc_id,
            title=chunk.title,
            page=chunk.page,
            text=p.text if with_text else None,
            score=p.hit.score,
            relevance=round(p.relevance, 4),
            truncated=p.truncated,
        )


class UsageOut(BaseModel):
    """Tokens of the prompt and of the generated answer (all attempts)."""

    prompt_tokens: int
    completion_tokens: int


class AnswerTimings(BaseModel):
    """Seconds per stage; `generate` includes a retry after a truncated output."""

    retrieve: float
    pack: float
    generate: float
    total: float


# rag.answer.types.Outcome, spelt out: importing rag.answer loads the generation stack (torch),
# which the client must not pay for (a test keeps the two equal).
Outcome = Literal["answered", "no_relevant_passages", "model_abstained"]


class AnswerOut(BaseModel):
    """A grounded answer: text or analyst data, the citations behind it, and its cost."""

    question: str
    answer: str = Field(description="the answer text; with a `schema`, `data` as compact JSON")
    answerable: bool
    outcome: Outcome
    confidence: float | None = Field(description="the model's own 0..1 estimate")
    data: Any = Field(description="the object of the request's `schema`, else null")
    citations: list[CitationOut]
    passages: list[PassageOut]
    usage: UsageOut
    timings: AnswerTimings
    profile: str = Field(description="the profile that produced the answer")
    model: str = Field(description="its model; `extractive (<embedder>)` when quoted")
    attempts: int = Field(description="generations run: 0 when no passage was relevant")
    quoted: bool = Field(
        default=False,
        description="true when `answer` is sentences quoted verbatim from the cited passages "
        "(the extractive profile): quoted, not written by a model",
    )

    @classmethod
    def of(cls, answer: Answer) -> AnswerOut:
        return cls(
            question=answer.question,
            answer=answer.answer,
            answerable=answer.answerable,
            outcome=answer.outcome,
            confidence=answer.confidence,
            data=answer.data,
            # The domain's citations, usage and timings have the wire's field names.
            citations=[
                CitationOut.model_validate(c, from_attributes=True) for c in answer.citations
            ],
            passages=[PassageOut.of(p) for p in answer.passages],
            usage=UsageOut.model_validate(answer.usage, from_attributes=True),
            timings=AnswerTimings.model_validate(answer.timings, from_attributes=True),
            profile=answer.profile,
            model=answer.model,
            attempts=answer.attempts,
            quoted=answer.quoted,
        )


class PassagesOut(BaseModel):
    """The data of a stream's first event, `passages`: what the model is given."""

    passages: list[PassageOut]

    @classmethod
    def of(cls, passages: Sequence[Passage]) -> PassagesOut:
        return cls(passages=[PassageOut.of(p, with_text=True) for p in passages])


class DeltaOut(BaseModel):
    """The data of a `delta` event: a piece of the JSON text being generated."""

    text: str


# --- OAuth --------------------------------------------------------------------------------


class TokenResponse(BaseModel):
    """RFC 6749 5.1 access-token response."""

    access_token: str = Field(description="a signed JWT; send it as `Authorization: Bearer`")
    token_type: Literal["Bearer"] = "Bearer"
    expires_in: int = Field(description="seconds until the token expires", examples=[900])
    scope: str = Field(description="the token's scopes, space-separated", examples=["read write"])


# --- API keys -------------------------------------------------------------------------------


class KeyCreate(BaseModel):
    """A new key for the caller's tenant."""

    model_config = _FORBID

    scopes: list[Scope] = Field(
        min_length=1,
        max_length=3,
        description="read, write or admin (each implies the ones before); at most the caller's",
        examples=[["write"]],
    )
    kbs: list[str] | None = Field(
        default=None,
        min_length=1,
        max_length=256,
        description="the KBs the key may use; null for every KB of the tenant",
        examples=[["handbook"]],
    )
    name: str = Field(default="", max_length=MAX_LABEL, examples=["nightly ingest"])


class KeyOut(BaseModel):
    """A key without its secret: the objects `rag keys list --json` prints."""

    key_id: str
    tenant: str
    scopes: list[Scope]
    kbs: list[str] | None = Field(description="null: every KB of the tenant")
    name: str
    created_at: str
    revoked_at: str | None

    @classmethod
    def of(cls, info: KeyInfo) -> KeyOut:
        return cls.model_validate(info.model_dump())


class KeyCreated(KeyOut):
    key: str = Field(description="the whole API key: shown this once, only its hash is kept")


class KeyList(BaseModel):
    data: list[KeyOut]
