"""A scripted generator: the test double of `Generator`, for tests of what sits on top of it.

It replays queued replies (JSON text and a finish reason), records every request, and counts
one token per whitespace-separated word, so token budgets in tests are easy to reason about.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

from rag.generation.base import FinishReason, Generation, JSONSchema, Message, Usage
from rag.generation.errors import GeneratorError

_TOKEN = re.compile(r"\S+")


@dataclass(frozen=True)
class Reply:
    """One scripted generation: the text to return and why it ended."""

    text: str
    finish_reason: FinishReason = "stop"


@dataclass(frozen=True)
class Call:
    """One request the generator received."""

    messages: tuple[Message, ...]
    schema: JSONSchema
    max_tokens: int


class ScriptedGenerator:
    """Returns its replies in order, one per `generate` or `stream` call."""

    def __init__(self, replies: Sequence[Reply | str] = (), name: str = "scripted") -> None:
        self.name = name
        self.replies = [r if isinstance(r, Reply) else Reply(r) for r in replies]
        self.calls: list[Call] = []

    def count_tokens(self, text: str) -> int:
        """One token per whitespace-separated word."""
        return len(_TOKEN.findall(text))

    async def generate(
        self, messages: Sequence[Message], schema: JSONSchema, max_tokens: int
    ) -> Generation:
        """The next scripted reply as a `Generation`."""
        return self._next(messages, schema, max_tokens)

    async def stream(
        self, messages: Sequence[Message], schema: JSONSchema, max_tokens: int
    ) -> AsyncIterator[str | Generation]:
        """The next scripted reply in deltas of up to 4 characters, then the `Generation`."""
        generation = self._next(messages, schema, max_tokens)
        for start in range(0, len(generation.text), 4):
            yield generation.text[start : start + 4]
        yield generation

    def _next(self, messages: Sequence[Message], schema: JSONSchema, max_tokens: int) -> Generation:
        self.calls.append(Call(tuple(messages), schema, max_tokens))
        if not self.replies:
            raise GeneratorError("the scripted generator has no reply left")
        reply = self.replies.pop(0)
        try:
            data = json.loads(reply.text)
        except ValueError:
            data = None
        prompt = sum(self.count_tokens(m.content) for m in messages)
        usage = Usage(prompt, max(1, self.count_tokens(reply.text)))
        return Generation(reply.text, data, reply.finish_reason, usage, self.name)
