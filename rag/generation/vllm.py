"""vLLM backend: the OpenAI-compatible chat API of a `vllm serve` server, JSON-schema constrained.

This module owns the vLLM wire format. The constraint travels as an OpenAI `response_format`
of type `json_schema` (strict); the older `guided_json` field is never sent, because current
vLLM ignores it and answers unconstrained text with a 200.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import aclosing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

import httpx
from httpx_sse import EventSource, SSEError
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    retry_if_result,
    stop_after_attempt,
    wait_exponential,
    wait_random_exponential,
)
from tenacity.stop import stop_base
from tokenizers import Tokenizer

from rag.errors import ConfigError, InvalidInputError
from rag.generation.base import FinishReason, Generation, JSONSchema, Message, Usage
from rag.generation.errors import GeneratorError, GeneratorUnavailableError
from rag.http_retry import response_of, wait_retry_after

CHAT_PATH = "/v1/chat/completions"
TOKENIZE_PATH = "/tokenize"
SCHEMA_NAME = "answer"
# Overload answers: the same request may succeed a moment later.
RETRYABLE_STATUS = frozenset({429, 503})
# Nothing reached the server, so a retry cannot run the generation twice.
CONNECT_ERRORS = (httpx.ConnectError, httpx.ConnectTimeout)
FINISH_REASONS: dict[str, FinishReason] = {"stop": "stop", "length": "length"}

Sleep = Callable[[float], Awaitable[None]]


class VLLMGenerator:
    """A `Generator` over one vLLM server (or a load balancer in front of several)."""

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key: str | None = None,
        adapter: str | None = None,
        timeout: float = 120.0,
        max_retries: int = 3,
        backoff: float = 0.5,
        client: httpx.AsyncClient | None = None,
        sync_client: httpx.Client | None = None,
        tokenizer_dir: Path | None = None,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ConfigError(f"vLLM base_url must be an http(s) URL, got {base_url!r}")
        if not model:
            raise ConfigError("vLLM model name is empty")
        if timeout <= 0 or max_retries < 0 or backoff < 0:
            raise ConfigError("vLLM timeout must be > 0, max_retries and backoff >= 0")
        # A LoRA adapter is addressed by its own name in the `model` field of each request.
        self.name = adapter or model
        self._model = model
        self._base = base_url.rstrip("/")
        self._headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._timeout = timeout
        self._max_retries = max_retries
        self._backoff = backoff
        self._sleep = sleep
        self._owns_client, self._owns_sync_client = client is None, sync_client is None
        self._client = client or httpx.AsyncClient(timeout=timeout)
        self._sync_client = sync_client
        self._tokenizer_dir = tokenizer_dir
        self._tokenizer: Tokenizer | None = None

    async def generate(
        self, messages: Sequence[Message], schema: JSONSchema, max_tokens: int
    ) -> Generation:
        """Generate JSON text valid against `schema` (unless cut by `max_tokens`)."""
        body = chat_body(self.name, messages, schema, max_tokens, stream=False)
        response = await self._post(CHAT_PATH, body, stream=False)
        try:
            payload = response.json()
        except ValueError as exc:
            raise GeneratorError(f"vLLM answered non-JSON: {response.text[:200]!r}") from exc
        return parse_completion(payload, self.name)

    async def stream(
        self, messages: Sequence[Message], schema: JSONSchema, max_tokens: int
    ) -> AsyncIterator[str | Generation]:
        """Yield text deltas as the server sends them, then the finished `Generation`."""
        body = chat_body(self.name, messages, schema, max_tokens, stream=True)
        response = await self._post(CHAT_PATH, body, stream=True)
        state = StreamState()
        try:
            async for payload in stream_payloads(response):
                delta = state.add(payload)
                if delta:
                    yield delta
        except SSEError as exc:  # before TransportError, which it subclasses
            raise GeneratorError(f"vLLM answered no event stream: {exc}") from exc
        except httpx.TimeoutException as exc:
            raise GeneratorUnavailableError(f"vLLM stream stalled for {self._timeout}s") from exc
        except httpx.TransportError as exc:
            raise GeneratorUnavailableError(f"vLLM stream broke: {exc!r}") from exc
        finally:
            await response.aclose()
        yield state.generation(self.name)

    def count_tokens(self, text: str) -> int:
        """Tokens of `text`: the local tokenizer folder when given, else the server's /tokenize."""
        if self._tokenizer_dir is not None:
            return len(self._local_tokenizer().encode(text, add_special_tokens=False).ids)
        return self._remote_count(text)

    async def aclose(self) -> None:
        """Close the HTTP clients this generator created (injected ones stay open)."""
        if self._owns_client:
            await self._client.aclose()
        if self._owns_sync_client and self._sync_client is not None:
            self._sync_client.close()

    async def _post(self, path: str, body: dict[str, Any], *, stream: bool) -> httpx.Response:
        request = self._client.build_request(
            "POST", self._base + path, json=body, headers=self._headers, timeout=self._timeout
        )
        # A new AsyncRetrying per call: one object's state is not safe to share between tasks.
        # Equal jitter: half the exponential step fixed, half random, so that many clients
        # refused at the same moment spread their retries without any retrying at once.
        half = self._backoff / 2
        backoff = wait_exponential(multiplier=half) + wait_random_exponential(multiplier=half)
        retrying = AsyncRetrying(
            retry=retry_if_exception_type(CONNECT_ERRORS) | retry_if_result(_overloaded),
            wait=wait_retry_after(backoff),
            stop=stop_after_attempt(self._max_retries + 1) | stop_if_wait_exceeds(self._timeout),
            sleep=self._sleep,
            retry_error_callback=self._give_up,
        )
        response: httpx.Response = await retrying(self._send, request, stream)
        return response

    async def _send(self, request: httpx.Request, stream: bool) -> httpx.Response:
        """One attempt: a success, or an overload answer (read and closed) to retry."""
        try:
            response = await self._client.send(request, stream=stream)
        except CONNECT_ERRORS:
            raise
        except httpx.TimeoutException as exc:
            raise GeneratorUnavailableError(f"vLLM timed out after {self._timeout}s") from exc
        except httpx.TransportError as exc:
            raise GeneratorUnavailableError(f"vLLM request failed: {exc!r}") from exc
        if response.is_success:
            return response
        await response.aread()
        await response.aclose()
        if not _overloaded(response):
            raise GeneratorError(_refusal(response))
        return response

    def _give_up(self, state: RetryCallState) -> NoReturn:
        response = response_of(state)
        if response is not None:
            raise GeneratorUnavailableError(_refusal(response))
        assert state.outcome is not None
        raise GeneratorUnavailableError(
            f"cannot reach vLLM at {self._base}"
        ) from state.outcome.exception()

    def _local_tokenizer(self) -> Tokenizer:
        if self._tokenizer is None:
            assert self._tokenizer_dir is not None
            path = self._tokenizer_dir / "tokenizer.json"
            try:
                self._tokenizer = Tokenizer.from_file(str(path))
            except Exception as exc:  # the tokenizers library raises bare Exception
                raise ConfigError(f"cannot load tokenizer {path}: {exc}") from exc
        return self._tokenizer

    def _remote_count(self, text: str) -> int:
        # Blocking by contract (count_tokens is sync); pass tokenizer_dir on hot paths.
        if self._sync_client is None:
            self._sync_client = httpx.Client(timeout=self._timeout)
        body = {"model": self._model, "prompt": text, "add_special_tokens": False}
        try:
            response = self._sync_client.post(
                self._base + TOKENIZE_PATH, json=body, headers=self._headers
            )
        except httpx.TransportError as exc:
            raise GeneratorUnavailableError(f"cannot reach vLLM at {self._base}") from exc
        if not response.is_success:
            raise GeneratorError(f"vLLM /tokenize answered {response.status_code}")
        count = response.json().get("count")
        if not isinstance(count, int):
            raise GeneratorError(f"vLLM /tokenize gave no count: {response.text[:200]}")
        return count


def chat_body(
    model: str, messages: Sequence[Message], schema: JSONSchema, max_tokens: int, *, stream: bool
) -> dict[str, Any]:
    """The chat-completions request body: greedy decoding, schema-constrained output."""
    if max_tokens < 1:
        raise InvalidInputError(f"max_tokens must be >= 1, got {max_tokens}")
    body: dict[str, Any] = {
        "model": model,
        "messages": [{"role": m.role, "content": m.content} for m in messages],
        "max_tokens": max_tokens,
        "temperature": 0,
        "response_format": {
            "type": "json_schema",
            "json_schema": {"name": SCHEMA_NAME, "schema": schema, "strict": True},
        },
    }
    if stream:
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
    return body


def parse_completion(payload: Any, model: str) -> Generation:
    """Turn a non-streaming chat-completions response into a `Generation`."""
    try:
        choice = payload["choices"][0]
        text = choice["message"]["content"] or ""
        usage = parse_usage(payload["usage"])
        finish = choice["finish_reason"]
    except (KeyError, IndexError, TypeError, ValueError) as exc:
        raise GeneratorError(f"malformed vLLM response: {exc!r}") from exc
    return make_generation(text, finish, usage, payload.get("model") or model)


def parse_usage(raw: Any) -> Usage:
    """The `usage` object of a response or of the last stream chunk."""
    return Usage(int(raw["prompt_tokens"]), int(raw["completion_tokens"]))


def make_generation(text: str, finish: Any, usage: Usage, model: str) -> Generation:
    """A `Generation`, with `data` parsed from `text` (None when it is not JSON)."""
    if finish not in FINISH_REASONS:
        raise GeneratorError(f"vLLM generation ended with finish_reason {finish!r}")
    try:
        data = json.loads(text)
    except ValueError:
        data = None  # a cut-off text is expected not to parse; callers check finish_reason
    return Generation(text, data, FINISH_REASONS[finish], usage, model)


class stop_if_wait_exceeds(stop_base):
    """Give up rather than wait longer than `limit` seconds before the next attempt."""

    def __init__(self, limit: float) -> None:
        self.limit = limit

    def __call__(self, retry_state: RetryCallState) -> bool:
        # Waiting past our own timeout would stall the caller longer than it agreed to.
        return retry_state.upcoming_sleep > self.limit


def _overloaded(response: httpx.Response) -> bool:
    return response.status_code in RETRYABLE_STATUS


def _refusal(response: httpx.Response) -> str:
    return f"vLLM answered {response.status_code}: {response.text[:300]}"


async def stream_payloads(response: httpx.Response) -> AsyncIterator[Any]:
    """Yield the JSON payload of each server-sent event, until `data: [DONE]`."""
    async with aclosing(EventSource(response).aiter_sse()) as events:
        async for event in events:
            if not event.data:  # an event of other fields only carries nothing for us
                continue
            if event.data == "[DONE]":
                return
            try:
                payload = json.loads(event.data)
            except ValueError as exc:
                raise GeneratorError(f"vLLM sent a bad stream event: {event.data[:200]!r}") from exc
            if isinstance(payload, dict) and "error" in payload:
                raise GeneratorError(f"vLLM stream failed: {payload['error']}")
            yield payload
    raise GeneratorError("vLLM stream ended without [DONE]")


@dataclass
class StreamState:
    """Accumulates chat-completion chunks into the final `Generation`."""

    parts: list[str] = field(default_factory=list)
    finish_reason: str | None = None
    usage: Usage | None = None
    model: str | None = None

    def add(self, chunk: Any) -> str:
        """Take one chunk; return its text delta ("" when it carries none)."""
        try:
            self.model = chunk.get("model") or self.model
            if chunk.get("usage"):
                self.usage = parse_usage(chunk["usage"])
            delta = ""
            for choice in chunk.get("choices") or []:
                delta += choice.get("delta", {}).get("content") or ""
                self.finish_reason = choice.get("finish_reason") or self.finish_reason
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            raise GeneratorError(f"malformed vLLM stream chunk: {exc!r}") from exc
        self.parts.append(delta)
        return delta

    def generation(self, model: str) -> Generation:
        """The `Generation` once the stream is done."""
        if self.usage is None:
            raise GeneratorError("vLLM stream carried no usage (stream_options.include_usage)")
        return make_generation(
            "".join(self.parts), self.finish_reason, self.usage, self.model or model
        )
