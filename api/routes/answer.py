"""Grounded answers: one JSON object, or a stream of passages, deltas and the final answer."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from api.deps import KBRef, ReadKB, ServicesDep
from api.errors import ApiError, error_body, exception_body
from api.metrics import record_answer, record_answer_failure
from api.routes.search import FilterValue
from api.services import Services
from api.sse import HEADERS, ClosingStreamingResponse, aclose, event, primed
from rag.answer import AnswerRequest
from rag.answer.types import AnswerEvent, DeltaEvent, PassagesEvent, StreamEvent
from rag.errors import RagError
from rag.types import SearchMode

router = APIRouter(tags=["answers"])
log = logging.getLogger("api.answer")


class AnswerBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

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
    filters: dict[str, FilterValue] | None = Field(default=None, max_length=32)
    mode: SearchMode = "hybrid"
    k: int | None = Field(default=None, ge=1, le=50)
    profile: str | None = Field(default=None, max_length=64)
    max_tokens: int | None = Field(default=None, ge=16, le=8192)
    min_relevance: float | None = Field(default=None, ge=-1.0, le=1.0)
    stream: bool = False

    def request(self) -> AnswerRequest:
        return AnswerRequest(
            self.question,
            mode=self.mode,
            k=self.k,
            filters=self.filters,
            schema=self.schema_,
            profile=self.profile,
            max_tokens=self.max_tokens,
            min_relevance=self.min_relevance,
        )


@router.post(
    "/kbs/{kb}/answer",
    summary="Answer a question from a KB, with citations",
    response_description="the Answer object, or text/event-stream when `stream` is true",
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def answer(body: AnswerBody, kb: ReadKB, services: ServicesDep) -> Any:
    services.limiter.check_tokens(kb.principal.key_id)
    opened = await asyncio.to_thread(services.kbs.get, kb.stored)
    request = body.request()
    profile = services.router.resolve(opened.config.domain, body.profile)
    if body.stream:
        first, events = await primed(services.answerer.stream(opened, request))
        assert isinstance(first, PassagesEvent)
        return ClosingStreamingResponse(
            _sse(services, kb, body.mode, profile, events),
            media_type="text/event-stream",
            headers=HEADERS,
        )
    try:
        result = await services.answerer.answer(opened, request)
    except RagError as exc:
        record_answer_failure(services.metrics, profile, exc)
        raise
    record_answer(services.metrics, body.mode, result)
    services.limiter.charge_tokens(kb.principal.key_id, result.usage.completion_tokens)
    return result.as_json()


async def _sse(
    services: Services, kb: KBRef, mode: str, profile: str, events: AsyncIterator[StreamEvent]
) -> AsyncIterator[bytes]:
    try:
        async for item in events:
            if isinstance(item, PassagesEvent):
                yield event("passages", {"passages": [_passage(p) for p in item.passages]})
            elif isinstance(item, DeltaEvent):
                yield event("delta", {"text": item.text})
            elif isinstance(item, AnswerEvent):
                record_answer(services.metrics, mode, item.answer)
                services.limiter.charge_tokens(
                    kb.principal.key_id, item.answer.usage.completion_tokens
                )
                yield event("answer", item.answer.as_json())
    except (RagError, ApiError) as exc:
        record_answer_failure(services.metrics, profile, exc)
        yield event("error", exception_body(exc))
    except Exception:  # the stream has started: no status left to send, so say it inside
        log.exception("answer stream failed")
        yield event("error", error_body("internal error", "server_error", "internal"))
    finally:
        await aclose(events)


def _passage(p: Any) -> dict[str, Any]:
    chunk = p.hit.chunk
    return {
        "number": p.number,
        "chunk_id": chunk.id,
        "doc_id": chunk.doc_id,
        "title": chunk.title,
        "page": chunk.page,
        "text": p.text,
        "score": p.hit.score,
        "relevance": round(p.relevance, 4),
        "truncated": p.truncated,
    }
