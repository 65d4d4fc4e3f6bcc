"""Grounded answers: one JSON object, or a stream of passages, deltas and the final answer."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter
from sse_starlette import ServerSentEvent

from api.deps import KBRef, ReadKB, ServicesDep
from api.errors import ApiError, error_body, exception_body
from api.metrics import record_answer, record_answer_failure
from api.schemas import KB_ERRORS, AnswerBody, AnswerOut, DeltaOut, PassagesOut, error_responses
from api.services import Services
from api.sse import aclose, event, event_stream, primed
from rag.answer import AnswerRequest
from rag.answer.types import AnswerEvent, DeltaEvent, PassagesEvent, StreamEvent
from rag.errors import RagError

router = APIRouter(tags=["answers"])
log = logging.getLogger("api.answer")

_STREAM = {
    "schema": {
        "type": "string",
        "description": "with `stream: true`, server-sent events: `passages` (PassagesOut), "
        "then `delta`s (DeltaOut: pieces of the JSON being generated), then one `answer` "
        "(AnswerOut); a failure after the stream has started is an `error` event (ErrorOut)",
    }
}


def answer_request(body: AnswerBody) -> AnswerRequest:
    """The domain request of an answer body."""
    return AnswerRequest(
        body.question,
        mode=body.mode,
        fusion=body.fusion,
        fusion_weight=body.fusion_weight,
        k=body.k,
        filters=body.filters,
        schema=body.schema_,
        profile=body.profile,
        max_tokens=body.max_tokens,
        min_relevance=body.min_relevance,
    )


@router.post(
    "/kbs/{kb}/answer",
    response_model=AnswerOut,
    summary="Answer a question from a KB, with citations",
    response_description="the answer, or a text/event-stream when `stream` is true",
    responses={
        200: {"content": {"text/event-stream": _STREAM}},
        **error_responses(*KB_ERRORS, 400, 413, 502),
    },
)
async def answer(body: AnswerBody, kb: ReadKB, services: ServicesDep) -> Any:
    services.limiter.check_tokens(kb.principal.key_id)
    opened = await asyncio.to_thread(services.kbs.get, kb.stored)
    request = answer_request(body)
    profile = services.router.resolve(opened.config.domain, body.profile, body.schema_ is not None)
    if body.stream:
        first, events = await primed(services.answerer.stream(opened, request))
        assert isinstance(first, PassagesEvent)
        return event_stream(_sse(services, kb, body.mode, profile, events))
    try:
        result = await services.answerer.answer(opened, request)
    except RagError as exc:
        record_answer_failure(services.metrics, profile, exc)
        raise
    record_answer(services.metrics, body.mode, result)
    services.limiter.charge_tokens(kb.principal.key_id, result.usage.completion_tokens)
    return AnswerOut.of(result)


async def _sse(
    services: Services, kb: KBRef, mode: str, profile: str, events: AsyncIterator[StreamEvent]
) -> AsyncIterator[ServerSentEvent]:
    try:
        async for item in events:
            if isinstance(item, PassagesEvent):
                yield event("passages", PassagesOut.of(item.passages).model_dump(mode="json"))
            elif isinstance(item, DeltaEvent):
                yield event("delta", DeltaOut(text=item.text).model_dump())
            elif isinstance(item, AnswerEvent):
                record_answer(services.metrics, mode, item.answer)
                services.limiter.charge_tokens(
                    kb.principal.key_id, item.answer.usage.completion_tokens
                )
                yield event("answer", AnswerOut.of(item.answer).model_dump(mode="json"))
    except (RagError, ApiError) as exc:
        record_answer_failure(services.metrics, profile, exc)
        yield event("error", exception_body(exc))
    except Exception:  # the stream has started: no status left to send, so say it inside
        log.exception("answer stream failed")
        yield event("error", error_body("internal error", "server_error", "internal"))
    finally:
        await aclose(events)
