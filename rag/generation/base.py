"""The generator seam: chat messages + a JSON schema in, schema-constrained JSON text out."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

Role = Literal["system", "user", "assistant"]
FinishReason = Literal["stop", "length"]
JSONSchema = dict[str, Any]


@dataclass(frozen=True)
class Message:
    role: Role
    content: str


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int
    completion_tokens: int


@dataclass(frozen=True)
class Generation:
    """A finished generation. `data` is the parsed JSON, None when the text did not parse."""

    text: str
    data: Any
    finish_reason: FinishReason
    usage: Usage
    model: str


class Generator(Protocol):
    """Both backends (local transformers+xgrammar, vLLM HTTP) keep this contract."""

    name: str

    async def generate(
        self, messages: Sequence[Message], schema: JSONSchema, max_tokens: int
    ) -> Generation:
        """Generate JSON text valid against `schema` (unless cut by `max_tokens`)."""
        ...

    def stream(
        self, messages: Sequence[Message], schema: JSONSchema, max_tokens: int
    ) -> AsyncIterator[str | Generation]:
        """Yield text deltas, then the finished `Generation` last."""
        ...

    def count_tokens(self, text: str) -> int:
        """Tokens of `text` in this generator's own tokenizer (for context packing)."""
        ...
