"""Server-sent events: framing, and a stream whose first item is produced before the headers.

Pulling the first item before the response starts lets errors of the preparation (bad
schema, unknown profile, KB failure) reach the client as ordinary HTTP errors; only failures
after the stream has started travel inside it.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any, TypeVar

import anyio
from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

T = TypeVar("T")

HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def event(name: str | None, data: Any) -> bytes:
    """One SSE frame; `data` is JSON-encoded unless it is already a string."""
    payload = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False)
    head = f"event: {name}\n" if name else ""
    return f"{head}data: {payload}\n\n".encode()


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
        await close()


class ClosingStreamingResponse(StreamingResponse):
    """A stream that closes its generator however the response ends.

    Starlette stops iterating when the client disconnects but leaves the generator
    suspended, to be closed whenever it is garbage-collected; closing it here stops the
    generation at once.
    """

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            with anyio.CancelScope(shield=True):
                await aclose(self.body_iterator)
