"""`POST /v1/chat/completions`: grounded answers in the OpenAI chat format, streamed or not.

The last user message is the question the model is asked; retrieval uses it joined with the
user turns it follows up on (`condense`). The answer path generates a JSON object; the reply
is its `answer` text with `[n]` citation markers (or, under `response_format` json_schema,
its `data` object as JSON), and the cited passages travel in an extra `citations` field.

An abstention is a normal completion whose content is the NOT_IN_KB text; under json_schema
it is an OpenAI refusal (content null, `refusal` set), which `client.chat.completions.parse`
reports as such instead of failing to parse. A stream sends the answer's words as the model
writes them, before the answer is validated; when the validated outcome turns out to be an
abstention after words were sent, a last delta says so ("\\n\\n" + NOT_IN_KB, or a
`refusal` delta under json_schema).

A quoted answer (the extractive profile) opens with a line saying so, before its sentences,
so a chat user reads it as quotations; `answered_by` names the profile and model of every
completion (on a stream's last chunk).
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter
from sse_starlette import ServerSentEvent

from api.deps import Reader, ServicesDep
from api.errors import ApiError, error_body, exception_body
from api.metrics import record_answer, record_answer_failure
from api.openai.condense import condense
from api.openai.extract import FieldStream, TrimmedText
from api.openai.models import invalid, resolve_model
from api.openai.schemas import (
    AnsweredBy,
    AssistantMessage,
    ChatCompletion,
    ChatCompletionChunk,
    ChatCompletionRequest,
    ChatMessage,
    Choice,
    ChunkChoice,
    CitationObject,
    CompletionUsage,
    Delta,
    ResponseFormat,
)
from api.services import Services
from api.sse import aclose, event, event_stream, primed
from rag.answer import NOT_IN_KB, Answer, AnswerEvent, AnswerRequest, DeltaEvent, StreamEvent
from rag.answer.errors import AnswerError
from rag.errors import RagError
from rag.generation.base import JSONSchema

router = APIRouter(tags=["openai"])
log = logging.getLogger("api.openai")

MAX_QUESTION_CHARS = 4000  # as the native answer route: longer is not a question
DONE = event(None, "[DONE]")


def quoted_note(profile: str) -> str:
    """The line that opens a quoted answer: what follows was quoted, not written."""
    return f"Quoted from the knowledge base (profile {profile}; no model wrote this):\n\n"


def refuse_unsupported(body: ChatCompletionRequest) -> None:
    """400 for parameters that would change the result and cannot be honoured."""
    if body.n is not None and body.n != 1:
        raise invalid(f"n={body.n} is not supported: one grounded answer per request", "n")
    for name in ("tools", "functions"):
        if getattr(body, name):
            raise invalid(f"'{name}' is not supported: answers come from the KB only", name)
    if body.logprobs:
        raise invalid("logprobs are not supported", "logprobs")
    if body.top_logprobs:
        raise invalid("top_logprobs are not supported", "top_logprobs")


def message_text(message: ChatMessage, index: int) -> str:
    """The text of a message: a string, or its text parts joined; other parts are refused."""
    if message.content is None or isinstance(message.content, str):
        return message.content or ""
    texts = []
    for j, part in enumerate(message.content):
        if part.type == "text":
            texts.append(part.text or "")
        elif part.type != "refusal":  # an earlier assistant refusal: nothing to read
            raise invalid(
                f"content parts of type {part.type!r} are not supported: send text",
                f"messages[{index}].content[{j}]",
            )
    return "\n".join(texts)


def conversation(messages: Sequence[ChatMessage]) -> tuple[str, str]:
    """The question (the last user message) and the retrieval query for it."""
    # Every message is checked for unsupported parts; only the user turns' text is used.
    texts = [message_text(m, i) for i, m in enumerate(messages)]
    users = [text for m, text in zip(messages, texts, strict=True) if m.role == "user"]
    if not users or not users[-1].strip():
        raise invalid("the conversation has no user message to answer", "messages", "no_question")
    question = users[-1].strip()
    if len(question) > MAX_QUESTION_CHARS:
        raise invalid(
            f"the last user message is longer than {MAX_QUESTION_CHARS} characters",
            "messages",
            "question_too_long",
        )
    return question, condense(users)


def response_schema(fmt: ResponseFormat | None) -> JSONSchema | None:
    """The analyst schema a `response_format` asks for; None for plain text."""
    if fmt is None or fmt.type == "text":
        return None
    if fmt.type == "json_object":
        raise invalid(
            "response_format 'json_object' is not supported: grounding needs a schema; "
            "send 'json_schema' with one",
            "response_format.type",
        )
    if fmt.json_schema is None or fmt.json_schema.schema_ is None:
        raise invalid(
            "response_format 'json_schema' needs json_schema.schema",
            "response_format.json_schema.schema",
            "missing_schema",
        )
    return fmt.json_schema.schema_


def citation_markers(text: str, answer: Answer) -> str:
    """` [1][3]` for the cited passages the text does not already mark; "" when none."""
    missing = "".join(f"[{c.passage}]" for c in answer.citations if f"[{c.passage}]" not in text)
    return f" {missing}" if missing else ""


def citations(answer: Answer) -> list[CitationObject]:
    return [
        CitationObject(
            index=c.passage,
            doc_id=c.doc_id,
            chunk_id=c.chunk_id,
            title=c.title,
            page=c.page,
            text=c.text,
        )
        for c in answer.citations
    ]


def answered_by(answer: Answer) -> AnsweredBy:
    return AnsweredBy(profile=answer.profile, model=answer.model, quoted=answer.quoted)


def usage(answer: Answer) -> CompletionUsage:
    u = answer.usage
    return CompletionUsage(
        prompt_tokens=u.prompt_tokens,
        completion_tokens=u.completion_tokens,
        total_tokens=u.prompt_tokens + u.completion_tokens,
    )


@dataclass
class Reply:
    """One completion's identity and format, shared by every chunk of a stream."""

    model: str
    structured: bool  # response_format json_schema
    id: str = field(default_factory=lambda: f"chatcmpl-{uuid.uuid4().hex}")
    created: int = field(default_factory=lambda: int(time.time()))

    def completion(self, answer: Answer) -> ChatCompletion:
        if not answer.answerable:
            message = (
                AssistantMessage(content=None, refusal=NOT_IN_KB)
                if self.structured
                else AssistantMessage(content=NOT_IN_KB)
            )
        elif self.structured:
            message = AssistantMessage(content=answer.answer)  # the data, as compact JSON
        else:
            note = quoted_note(answer.profile) if answer.quoted else ""
            message = AssistantMessage(
                content=note + answer.answer + citation_markers(answer.answer, answer)
            )
        return ChatCompletion(
            id=self.id,
            created=self.created,
            model=self.model,
            choices=[Choice(message=message)],
            usage=usage(answer),
            citations=citations(answer),
            answered_by=answered_by(answer),
        )

    def chunk(
        self,
        delta: Delta | None,
        *,
        finish: bool = False,
        usage: CompletionUsage | None = None,
        cited: list[CitationObject] | None = None,
        by: AnsweredBy | None = None,
    ) -> ServerSentEvent:
        """One `data:` event; `delta` None makes the usage chunk (no choices)."""
        choices = (
            []
            if delta is None
            else [ChunkChoice(delta=delta, finish_reason="stop" if finish else None)]
        )
        chunk = ChatCompletionChunk(
            id=self.id,
            created=self.created,
            model=self.model,
            choices=choices,
            usage=usage,
            citations=cited,
            answered_by=by,
        )
        return event(None, chunk.model_dump(mode="json"))


class StreamedText:
    """What of the generated JSON a client sees: the answer's words, or the raw data."""

    def __init__(self, structured: bool) -> None:
        self.structured = structured
        self._field = FieldStream("data", "raw") if structured else FieldStream("answer")
        self._trim = None if structured else TrimmedText()
        self.sent = ""

    def feed(self, generated: str) -> str:
        text = self._field.feed(generated)
        if self._trim is not None:
            text = self._trim.feed(text)
        self.sent += text
        return text

    def ending(self, answer: Answer) -> Delta:
        """The last delta: what the validated answer adds to (or says about) what was sent."""
        if not answer.answerable:
            if self.structured:
                return Delta(refusal=NOT_IN_KB)
            return Delta(content=f"\n\n{NOT_IN_KB}" if self.sent else NOT_IN_KB)
        text = answer.answer
        markers = "" if self.structured else citation_markers(text, answer)
        if not text.startswith(self.sent):  # cannot happen with a consistent stream; be whole
            log.warning("streamed answer text differs from the validated answer")
            # Data sent cannot be taken back; text can be followed by the whole answer.
            return Delta(content=None if self.structured else f"\n\n{text}{markers}")
        rest = text[len(self.sent) :] + markers
        return Delta(content=rest or None)


@router.post(
    "/chat/completions",
    response_model=ChatCompletion,
    summary="Chat with a KB (OpenAI-compatible)",
    description=(
        "Grounded answers from the KB that `model` names, cited inline as `[n]` and listed "
        "in `citations`. Decoding is greedy: `temperature`, `top_p`, `seed` and the "
        "penalties are accepted and ignored; `n` > 1, `tools`, `functions` and `logprobs` "
        "are refused (400). System messages do not change the grounded prompt."
    ),
    responses={
        200: {
            "description": "a chat.completion, or with `stream` a text/event-stream of "
            "`data: <chat.completion.chunk>` lines ending with `data: [DONE]`",
            "content": {"text/event-stream": {"schema": {"type": "string"}}},
        },
        404: {"description": "no such model (`model_not_found`)"},
    },
)
async def chat_completions(
    body: ChatCompletionRequest, principal: Reader, services: ServicesDep
) -> Any:
    refuse_unsupported(body)
    question, query = conversation(body.messages)
    schema = response_schema(body.response_format)
    kb, profile = await resolve_model(services, principal, body.model)
    services.limiter.check_tokens(principal.key_id)
    opened = await asyncio.to_thread(services.kbs.get, kb.stored)
    max_tokens = body.max_tokens if body.max_tokens is not None else body.max_completion_tokens
    request = AnswerRequest(
        question,
        schema=schema,
        profile=profile,
        max_tokens=max_tokens,
        query=query,
        fusion=body.fusion,
        fusion_weight=body.fusion_weight,
    )
    profile_name = services.router.resolve(opened.config.domain, profile, schema is not None)
    reply = Reply(body.model, structured=schema is not None)
    if body.stream:
        # The passages event comes after retrieval and packing: their errors are HTTP errors.
        _, events = await primed(services.answerer.stream(opened, request))
        include_usage = body.stream_options is not None and body.stream_options.include_usage
        run = StreamRun(services, principal.key_id, request, profile_name, reply, include_usage)
        return event_stream(_chunks(run, events))
    try:
        answer = await services.answerer.answer(opened, request)
    except RagError as exc:
        record_answer_failure(services.metrics, profile_name, exc)
        raise
    record_answer(services.metrics, request.mode, answer)
    services.limiter.charge_tokens(principal.key_id, answer.usage.completion_tokens)
    return reply.completion(answer)


@dataclass(frozen=True)
class StreamRun:
    """What a stream needs besides its events: where to charge and record, how to reply."""

    services: Services
    key_id: str
    request: AnswerRequest
    profile: str  # the resolved generator profile, for the failure metric
    reply: Reply
    include_usage: bool


async def _chunks(
    run: StreamRun, events: AsyncIterator[StreamEvent]
) -> AsyncIterator[ServerSentEvent]:
    services, reply = run.services, run.reply
    text = StreamedText(reply.structured)
    # A quoting profile streams only answers (its abstentions have no delta): say it is quoted.
    note = "" if services.router.fills_schemas(run.profile) else quoted_note(run.profile)
    try:
        yield reply.chunk(Delta(role="assistant", content=""))
        answer: Answer | None = None
        async for item in events:
            if isinstance(item, DeltaEvent):
                piece = text.feed(item.text)
                if piece:
                    yield reply.chunk(Delta(content=note + piece))
                    note = ""
            elif isinstance(item, AnswerEvent):
                answer = item.answer
        if answer is None:
            raise AnswerError("the answer stream ended without an answer")
        record_answer(services.metrics, run.request.mode, answer)
        services.limiter.charge_tokens(run.key_id, answer.usage.completion_tokens)
        yield reply.chunk(
            text.ending(answer), finish=True, cited=citations(answer), by=answered_by(answer)
        )
        if run.include_usage:
            yield reply.chunk(None, usage=usage(answer))
    except (RagError, ApiError) as exc:
        record_answer_failure(services.metrics, run.profile, exc)
        yield event(None, exception_body(exc))
    except Exception:  # the stream has started: no status left to send, so say it inside
        log.exception("chat completion stream failed")
        yield event(None, error_body("internal error", "server_error", "internal"))
    finally:
        await aclose(events)  # stops the generation
    yield DONE
