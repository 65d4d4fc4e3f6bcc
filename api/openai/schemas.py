"""The OpenAI wire format: request and response bodies of /v1/models, chat and embeddings.

Requests accept unknown fields (`extra="allow"`): chat frontends send many (`user`,
`metadata`, `stream_options` variants, vendor extras) and refusing them would break them.
Parameters that would change the result and that this service cannot honour (`n` > 1,
`tools`, `logprobs`) are refused by the routes with a 400 that names them; sampling
parameters are accepted and ignored because decoding is greedy.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from rag.types import FusionKind

MAX_MESSAGES = 512
MAX_CONTENT_CHARS = 100_000
MAX_EMBEDDING_INPUTS = 2048

_ACCEPT_EXTRA = ConfigDict(extra="allow")


# --- models -------------------------------------------------------------------------------


class ModelObject(BaseModel):
    id: str = Field(description="`kb:<name>` or `kb:<name>@<profile>`", examples=["kb:handbook"])
    object: Literal["model"] = "model"
    created: int = Field(description="when the KB was created, Unix seconds")
    owned_by: str = Field(description="the tenant that owns the KB", examples=["acme"])


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelObject]


# --- chat: request --------------------------------------------------------------------------


class ContentPart(BaseModel):
    """A part of a message's content; only `text` parts are read."""

    model_config = _ACCEPT_EXTRA

    type: str = Field(
        max_length=64,
        description="`text`; image, audio and file parts are refused with 400",
        examples=["text"],
    )
    text: str | None = Field(default=None, max_length=MAX_CONTENT_CHARS)


class ChatMessage(BaseModel):
    model_config = _ACCEPT_EXTRA

    role: Literal["system", "developer", "user", "assistant"] = Field(
        description="system and developer messages are read but do not change the grounded "
        "prompt; assistant messages are earlier replies",
        examples=["user"],
    )
    content: str | list[ContentPart] | None = Field(
        default=None,
        description='a string, or a list of `{"type": "text", "text": ...}` parts',
        examples=["What causes the tides?"],
    )
    name: str | None = Field(default=None, max_length=256)


class StreamOptions(BaseModel):
    model_config = _ACCEPT_EXTRA

    include_usage: bool = Field(
        default=False, description="send a last chunk with `usage` and no choices"
    )


class JSONSchemaFormat(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)

    name: str = Field(
        max_length=64, pattern=r"^[A-Za-z0-9_-]+$", examples=["Refund"], description="a label"
    )
    description: str | None = Field(default=None, max_length=4000)
    schema_: dict[str, Any] | None = Field(
        default=None,
        alias="schema",
        description="a JSON schema of type object; the answer's content is one such object",
        examples=[
            {
                "type": "object",
                "properties": {"days": {"type": "integer"}},
                "required": ["days"],
                "additionalProperties": False,
            }
        ],
    )
    strict: bool | None = Field(
        default=None, description="always enforced: generation is constrained by a grammar"
    )


class ResponseFormat(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)

    type: Literal["text", "json_object", "json_schema"] = Field(
        description="`json_object` is refused: grounding needs a schema",
        examples=["json_schema"],
    )
    json_schema: JSONSchemaFormat | None = None


class ChatCompletionRequest(BaseModel):
    """An OpenAI chat completion request; `model` names a KB."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [
                {
                    "model": "kb:handbook",
                    "messages": [
                        {"role": "user", "content": "How many days of leave do I get?"},
                        {"role": "assistant", "content": "25 days a year [1]."},
                        {"role": "user", "content": "And can I carry them over?"},
                    ],
                    "stream": False,
                }
            ]
        },
    )

    model: str = Field(
        max_length=200,
        description="`kb:<name>` (the KB's default generator profile) or "
        "`kb:<name>@<profile>`; see GET /v1/models",
        examples=["kb:handbook"],
    )
    messages: list[ChatMessage] = Field(
        min_length=1,
        max_length=MAX_MESSAGES,
        description="the whole conversation; the last user message is the question, and a "
        "follow-up is retrieved together with the user turns before it",
    )
    stream: bool | None = Field(default=False, description="server-sent `chat.completion.chunk`s")
    stream_options: StreamOptions | None = None
    response_format: ResponseFormat | None = Field(
        default=None,
        description="`json_schema` makes the content one JSON object of that schema, "
        "grounded in the KB, with the citations in `citations`",
    )
    max_tokens: int | None = Field(
        default=None, strict=True, ge=16, le=8192, description="the answer's generation budget"
    )
    max_completion_tokens: int | None = Field(
        default=None, strict=True, ge=16, le=8192, description="same as `max_tokens` (which wins)"
    )
    n: int | None = Field(default=None, strict=True, description="only 1 is supported")
    tools: list[Any] | None = Field(default=None, description="not supported (400)")
    functions: list[Any] | None = Field(default=None, description="not supported (400)")
    logprobs: bool | None = Field(default=None, description="not supported (400 when true)")
    top_logprobs: int | None = Field(default=None, description="not supported (400)")
    temperature: float | None = Field(
        default=None, ge=0, le=2, description="accepted and ignored: decoding is greedy"
    )
    top_p: float | None = Field(
        default=None, ge=0, le=1, description="accepted and ignored: decoding is greedy"
    )
    seed: int | None = Field(default=None, description="accepted and ignored: decoding is greedy")
    presence_penalty: float | None = Field(default=None, description="accepted and ignored")
    frequency_penalty: float | None = Field(default=None, description="accepted and ignored")
    user: str | None = Field(default=None, max_length=512, description="accepted and ignored")
    # Extensions of this service, as the native answer route's: how hybrid retrieval fuses.
    fusion: FusionKind | None = Field(
        default=None,
        description="hybrid fusion: rrf, minmax or tmm (an extension; default: the KB's)",
    )
    fusion_weight: float | None = Field(
        default=None, ge=0.0, le=1.0, description="the dense ranking's weight (an extension)"
    )


# --- chat: response -------------------------------------------------------------------------


class CitationObject(BaseModel):
    index: int = Field(description="the `[n]` the content cites", examples=[1])
    doc_id: str = Field(examples=["leave-policy"])
    chunk_id: str
    title: str = Field(examples=["Leave policy"])
    page: int | None = Field(examples=[3])
    text: str = Field(description="the passage as the model saw it")


class CompletionUsage(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class AssistantMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str | None = Field(
        description="the answer with `[n]` citations; with `json_schema`, the JSON object; "
        "null when the answer is a refusal under `json_schema`"
    )
    refusal: str | None = Field(
        default=None,
        description="with `json_schema`, the knowledge base's 'not in the KB' text when it "
        "does not hold the answer",
    )


class Choice(BaseModel):
    index: int = 0
    message: AssistantMessage
    finish_reason: Literal["stop"] = "stop"
    logprobs: None = None


class AnsweredBy(BaseModel):
    """What produced a completion: the profile, its model, and whether the text is quoted."""

    profile: str
    model: str = Field(description="the generator's model; `extractive (<embedder>)` when quoted")
    quoted: bool = Field(
        description="true when the content is sentences quoted verbatim from the cited "
        "passages (the extractive profile), not text a model wrote"
    )


class ChatCompletion(BaseModel):
    id: str = Field(examples=["chatcmpl-0f9c2b7e"])
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str = Field(examples=["kb:handbook"])
    choices: list[Choice]
    usage: CompletionUsage
    citations: list[CitationObject] = Field(
        description="the passages the answer cites; empty for an abstention"
    )
    answered_by: AnsweredBy
    system_fingerprint: None = None


def _unset(value: Any) -> bool:
    return value is None


class Delta(BaseModel):
    """What a chunk adds: only what changed, `{"content": "The"}`, no nulls for the rest."""

    role: Literal["assistant"] | None = Field(default=None, exclude_if=_unset)
    content: str | None = Field(default=None, exclude_if=_unset)
    refusal: str | None = Field(default=None, exclude_if=_unset)


class ChunkChoice(BaseModel):
    index: int = 0
    delta: Delta
    finish_reason: Literal["stop"] | None = None
    logprobs: None = None


class ChatCompletionChunk(BaseModel):
    """One streamed chunk; `usage` is always present (null until the usage chunk)."""

    id: str
    object: Literal["chat.completion.chunk"] = "chat.completion.chunk"
    created: int
    model: str
    choices: list[ChunkChoice]
    usage: CompletionUsage | None = None
    citations: list[CitationObject] | None = Field(
        default=None, exclude_if=_unset, description="on the last chunk only"
    )
    answered_by: AnsweredBy | None = Field(
        default=None, exclude_if=_unset, description="on the last chunk only"
    )
    system_fingerprint: None = None


# --- embeddings -----------------------------------------------------------------------------


class EmbeddingRequest(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={"examples": [{"model": "kb:handbook", "input": ["leave policy"]}]},
    )

    model: str = Field(
        max_length=200,
        description="`kb:<name>` (that KB's embedder) or the embedder's name",
        examples=["kb:handbook", "all-MiniLM-L6-v2"],
    )
    input: str | list[str] | list[int] | list[list[int]] = Field(
        description=f"a string or up to {MAX_EMBEDDING_INPUTS} strings, none empty; "
        "token-id arrays are refused (400)",
        examples=["What is the leave policy?"],
    )
    encoding_format: Literal["float", "base64"] = Field(
        default="float", description="`base64`: little-endian float32, as OpenAI sends"
    )
    dimensions: int | None = Field(
        default=None, description="must equal the embedder's dimension when given"
    )
    user: str | None = Field(default=None, max_length=512, description="accepted and ignored")


class EmbeddingObject(BaseModel):
    object: Literal["embedding"] = "embedding"
    index: int
    embedding: list[float] | str = Field(description="floats, or base64 of float32 values")


class EmbeddingUsage(BaseModel):
    prompt_tokens: int = Field(description="tokens the embedder read (after its truncation)")
    total_tokens: int


class EmbeddingList(BaseModel):
    object: Literal["list"] = "list"
    data: list[EmbeddingObject]
    model: str
    usage: EmbeddingUsage
