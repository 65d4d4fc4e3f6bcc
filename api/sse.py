"""Server-sent events (sse-starlette), and a stream whose first item comes before the headers.

Pulling the first item before the response starts lets errors of the preparation (bad
schema, unknown profile, KB failure) reach the client as ordinary HTTP errors; only failures
after the stream has started travel inside it.

`EventSourceResponse` closes the event generator however the response ends, the client
going away included; the generators' own `finally` then closes the answer stream, and so
stops the generation at once. The settings keep the bytes this API has always sent: "\\n" line
ends (the library's default is "\\r\\n") and no keep-alive comments.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any, TypeVar

import anyio
from sse_starlette import EventSourceResponse, ServerSentEvent

T = TypeVar("T")

SEP = "\n"
# sse-starlette also sets `X-Accel-Buffering: no` (nginx would otherwise hold the events back).
HEADERS = {"Cache-Control": "no-cache"}
# On SIGTERM, sse-starlette cancels event streams at once; uvicorn itself waits 30 s for
# responses in flight (cli/serve.py). The grace lets an answer being generated finish first.
SHUTDOWN_GRACE_S = 25.0


def event(name: str | None, data: Any) -> ServerSentEvent:
    """One event; `data` is JSON-encoded unless it is already a string."""
    payload = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False)
    return ServerSentEvent(payload, event=name, sep=SEP)


def event_stream(events: AsyncIterator[ServerSentEvent]) -> EventSourceResponse:
    """The `text/event-stream` response that sends `events`."""
    return EventSourceResponse(
        events, headers=HEADERS, ping=0, sep=SEP, shutdown_grace_period=SHUTDOWN_GRACE_S
    )


async def primed(items: AsyncIterator[T]) -> tuple[T, AsyncIterator[T]]:
    """The first item of `items` (errors raise here), and the stream again from its start."""
    first = await anext(items)

    async def again() -> AsyncIterator[T]:
        try:
            yield first
            async for item in items:
                yield item
        finally:
            await aclose(items)

    return first, again()


async def aclose(items: Any) -> None:
    """Close an async generator (and so the generation behind it), if it can be closed."""
    close = getattr(items, "aclose", None)
    if close is not None:
        # Shielded: a response cancelled because the client went away must still wait for
        # the generator to let go, or the generation would run on until collected.
        with anyio.CancelScope(shield=True):
            await close()
