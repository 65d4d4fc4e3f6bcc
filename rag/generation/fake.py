"""A scripted generator: the test double of `Generator`, for tests of what sits on top of it.

It replays queued replies (JSON text and a finish reason) and records every request. With no
reply queued it either fails or, given an `answer`, answers from passage 1 with an object valid
against whatever schema it was asked for (the default answer or an analyst's `data`). It counts
one token per whitespace-separated word, so token budgets in tests are easy to reason about.
Streams send deltas of `delta_chars` characters, `delay` seconds apart, and record how many
deltas went out and whether the consumer closed the stream.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

from rag.generation.base import FinishReason, Generation, JSONSchema, Message, Usage
from rag.generation.errors import GeneratorError
from rag.generation.schema_cycles import finish_order

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

    def __init__(
        self,
        replies: Sequence[Reply | str] = (),
        name: str = "scripted",
        *,
        answer: str | None = None,
        delta_chars: int = 4,
        delay: float = 0.0,
    ) -> None:
        if delta_chars < 1:
            raise ValueError("delta_chars must be at least 1")
        self.name = name
        self.replies: list[Reply | str] = list(replies)  # a text is a Reply that stops
        self.answer = answer  # None: a call with no reply queued is an error
        self.delta_chars = delta_chars
        self.delay = delay
        self.calls: list[Call] = []
        self.produced = 0  # stream deltas sent, over all calls
        self.closed = False  # whether the last stream was closed (finished or abandoned)

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
        """The next scripted reply in deltas of `delta_chars` characters, then the `Generation`."""
        generation = self._next(messages, schema, max_tokens)
        self.closed = False
        try:
            for start in range(0, len(generation.text), self.delta_chars):
                if self.delay:
                    await asyncio.sleep(self.delay)
                self.produced += 1
                yield generation.text[start : start + self.delta_chars]
            yield generation
        finally:
            self.closed = True

    def _next(self, messages: Sequence[Message], schema: JSONSchema, max_tokens: int) -> Generation:
        self.calls.append(Call(tuple(messages), schema, max_tokens))
        if self.replies:
            queued = self.replies.pop(0)
            reply = queued if isinstance(queued, Reply) else Reply(queued)
        elif self.answer is not None:
            reply = Reply(json.dumps(answering(schema, self.answer), separators=(",", ":")))
        else:
            raise GeneratorError("the scripted generator has no reply left")
        try:
            data = json.loads(reply.text)
        except ValueError:
            data = None
        prompt = sum(self.count_tokens(m.content) for m in messages)
        usage = Usage(prompt, max(1, self.count_tokens(reply.text)))
        return Generation(reply.text, data, reply.finish_reason, usage, self.name)


def answering(schema: JSONSchema, answer: str) -> dict[str, Any]:
    """An answer citing passage 1 that is valid against the answer path's schema."""
    props = schema["properties"]
    if "data" in props:  # an analyst's schema, wrapped under `data`
        return {"data": instance(props["data"], schema), "citations": [1], "answerable": True}
    return {"answer": answer, "citations": [1], "answerable": True, "confidence": 0.9}


# Past this depth a recursive schema gets its smallest value: required properties only, no
# optional array items, and of anyOf the branch `finish_order` found finishable first.
_SHALLOW = 3


def instance(
    schema: JSONSchema,
    root: JSONSchema | None = None,
    depth: int = 0,
    order: dict[int, int] | None = None,
) -> Any:
    """A small value valid against a simple schema (objects, scalars, enums, arrays, local
    `$ref`s resolved in `root`, anyOf)."""
    root = root or schema
    order = finish_order(root) if order is None else order
    if "$ref" in schema:
        return instance(_resolve(root, schema["$ref"]), root, depth + 1, order)
    if "enum" in schema:
        return schema["enum"][0]
    if "const" in schema:
        return schema["const"]
    if "anyOf" in schema:
        branches = schema["anyOf"]
        if depth > _SHALLOW:
            branches = sorted(branches, key=lambda b: order.get(id(b), len(order)))
        return instance(branches[0], root, depth + 1, order)
    kind = schema.get("type")
    if kind == "object":
        required = set(schema.get("required", ()))
        return {
            k: instance(v, root, depth + 1, order)
            for k, v in schema.get("properties", {}).items()
            if depth <= _SHALLOW or k in required
        }
    if kind == "array":
        least = schema.get("minItems", 0)
        count = max(1, least) if depth <= _SHALLOW else least
        return [instance(schema.get("items", {}), root, depth + 1, order) for _ in range(count)]
    if kind == "integer":
        return int(schema.get("minimum", 1))
    if kind == "number":
        return float(schema.get("minimum", 1.5))
    if kind == "boolean":
        return True
    if kind == "null":
        return None
    return "grounded"


def _resolve(root: JSONSchema, ref: str) -> JSONSchema:
    target: Any = root
    for part in ref.removeprefix("#").split("/")[1:]:
        target = target[part.replace("~1", "/").replace("~0", "~")]
    return target  # type: ignore[no-any-return]
