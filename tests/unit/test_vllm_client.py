"""The vLLM client's wire format, retries and SSE parsing, against `httpx.MockTransport`."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from tokenizers import Tokenizer
from tokenizers.models import WordLevel
from tokenizers.pre_tokenizers import Whitespace

from rag.errors import ConfigError, InvalidInputError
from rag.generation.base import Generation, Message
from rag.generation.errors import GeneratorError, GeneratorUnavailableError
from rag.generation.vllm import VLLMGenerator

BASE = "http://vllm.test:8000"
SCHEMA = {
    "type": "object",
    "properties": {"answer": {"type": "string", "maxLength": 20}},
    "required": ["answer"],
    "additionalProperties": False,
}
MESSAGES = [Message("system", "Answer in JSON."), Message("user", "Hi?")]
Handler = Callable[[httpx.Request], httpx.Response]


def completion(text: str, finish: str = "stop") -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "model": "tiny-moe",
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": finish}
        ],
        "usage": {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18},
    }


class Server:
    """Replays canned responses in order and records every request it gets."""

    def __init__(self, *responses: httpx.Response | Exception) -> None:
        self.responses = list(responses)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        response = self.responses.pop(0)
        if isinstance(response, Exception):
            raise response
        return response

    def bodies(self) -> list[Any]:
        return [json.loads(r.content) for r in self.requests]


class Sleeps(list[float]):
    """Records back-off delays instead of waiting them out."""

    async def __call__(self, seconds: float) -> None:
        self.append(seconds)


def make(server: Handler, sleeps: Sleeps | None = None, **kwargs: Any) -> VLLMGenerator:
    client = httpx.AsyncClient(transport=httpx.MockTransport(server))
    return VLLMGenerator(
        BASE, "tiny-moe", client=client, sleep=Sleeps() if sleeps is None else sleeps, **kwargs
    )


def generate(gen: VLLMGenerator, max_tokens: int = 32) -> Generation:
    return asyncio.run(gen.generate(MESSAGES, SCHEMA, max_tokens))


def collect(gen: VLLMGenerator, max_tokens: int = 32) -> list[str | Generation]:
    async def run() -> list[str | Generation]:
        return [item async for item in gen.stream(MESSAGES, SCHEMA, max_tokens)]

    return asyncio.run(run())


def test_generate_sends_the_exact_openai_body_and_parses_the_answer() -> None:
    server = Server(httpx.Response(200, json=completion('{"answer":"yes"}')))
    result = generate(make(server, api_key="sk-test"), max_tokens=48)

    [request] = server.requests
    assert request.method == "POST"
    assert str(request.url) == f"{BASE}/v1/chat/completions"
    assert request.headers["Authorization"] == "Bearer sk-test"
    assert json.loads(request.content) == {
        "model": "tiny-moe",
        "messages": [
            {"role": "system", "content": "Answer in JSON."},
            {"role": "user", "content": "Hi?"},
        ],
        "max_tokens": 48,
        "temperature": 0,
        "response_format": {
            "type": "json_schema",
            "json_schema": {"name": "answer", "schema": SCHEMA, "strict": True},
        },
    }
    assert result.text == '{"answer":"yes"}'
    assert result.data == {"answer": "yes"}
    assert result.finish_reason == "stop"
    assert (result.usage.prompt_tokens, result.usage.completion_tokens) == (11, 7)
    assert result.model == "tiny-moe"


def test_adapter_name_is_the_requested_model_and_no_key_sends_no_auth() -> None:
    server = Server(httpx.Response(200, json=completion("{}")))
    gen = make(server, adapter="finance-lora")
    generate(gen)
    assert gen.name == "finance-lora"
    assert server.bodies()[0]["model"] == "finance-lora"
    assert "Authorization" not in server.requests[0].headers


def test_length_cut_keeps_the_text_and_leaves_data_empty() -> None:
    server = Server(httpx.Response(200, json=completion('{"answer":"ye', finish="length")))
    result = generate(make(server))
    assert (result.finish_reason, result.text, result.data) == ("length", '{"answer":"ye', None)


def test_429_waits_as_long_as_retry_after_says_then_succeeds() -> None:
    server = Server(
        httpx.Response(429, headers={"Retry-After": "2"}, text="slow down"),
        httpx.Response(200, json=completion('{"answer":"ok"}')),
    )
    sleeps = Sleeps()
    assert generate(make(server, sleeps)).data == {"answer": "ok"}
    assert sleeps == [2.0]
    assert len(server.requests) == 2
    assert server.bodies()[0] == server.bodies()[1]


def test_503_backs_off_exponentially_with_jitter() -> None:
    server = Server(
        httpx.Response(503),
        httpx.Response(503),
        httpx.Response(200, json=completion("{}")),
    )
    sleeps = Sleeps()
    generate(make(server, sleeps, backoff=1.0))
    assert len(sleeps) == 2
    assert 0.5 <= sleeps[0] <= 1.0
    assert 1.0 <= sleeps[1] <= 2.0


def test_gives_up_after_max_retries_with_unavailable_error() -> None:
    server = Server(*[httpx.Response(503, text="overloaded") for _ in range(3)])
    sleeps = Sleeps()
    with pytest.raises(GeneratorUnavailableError, match="503: overloaded"):
        generate(make(server, sleeps, max_retries=2))
    assert len(server.requests) == 3
    assert len(sleeps) == 2


def test_retry_after_beyond_the_timeout_gives_up_at_once() -> None:
    server = Server(httpx.Response(429, headers={"Retry-After": "600"}))
    sleeps = Sleeps()
    with pytest.raises(GeneratorUnavailableError):
        generate(make(server, sleeps, timeout=30.0))
    assert sleeps == []


def test_client_errors_are_not_retried() -> None:
    server = Server(httpx.Response(400, json={"error": {"message": "bad schema"}}))
    with pytest.raises(GeneratorError, match=r"400.*bad schema") as info:
        generate(make(server))
    assert not isinstance(info.value, GeneratorUnavailableError)
    assert len(server.requests) == 1


def test_connect_errors_are_retried_then_reported_as_unavailable() -> None:
    refused = httpx.ConnectError("connection refused")
    server = Server(refused, httpx.Response(200, json=completion("{}")))
    assert generate(make(server)).data == {}
    server = Server(refused, refused)
    with pytest.raises(GeneratorUnavailableError, match="cannot reach"):
        generate(make(server, max_retries=1))


def test_read_timeout_is_unavailable_and_not_retried() -> None:
    server = Server(httpx.ReadTimeout("too slow"))
    with pytest.raises(GeneratorUnavailableError, match="timed out"):
        generate(make(server))
    assert len(server.requests) == 1


def test_malformed_response_and_unknown_finish_reason_are_generator_errors() -> None:
    with pytest.raises(GeneratorError, match="malformed"):
        generate(make(Server(httpx.Response(200, json={"choices": []}))))
    with pytest.raises(GeneratorError, match="abort"):
        generate(make(Server(httpx.Response(200, json=completion("{}", finish="abort")))))


def sse(*events: str) -> httpx.Response:
    body = "".join(f"{event}\n\n" for event in events)
    return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=body.encode())


def chunk(content: str | None, finish: str | None = None) -> str:
    delta = {} if content is None else {"content": content}
    choice = {"index": 0, "delta": delta, "finish_reason": finish}
    return "data: " + json.dumps({"model": "tiny-moe", "choices": [choice], "usage": None})


USAGE_CHUNK = "data: " + json.dumps(
    {"model": "tiny-moe", "choices": [], "usage": {"prompt_tokens": 9, "completion_tokens": 3}}
)


def test_stream_yields_deltas_then_the_generation_with_usage() -> None:
    server = Server(
        sse(
            ": keep-alive comment",
            'data: {"model":"tiny-moe","choices":[{"index":0,"delta":{"role":"assistant"}}]}',
            chunk('{"answer"'),
            chunk(':"hi"'),
            chunk("}", finish="stop"),
            USAGE_CHUNK,
            "data: [DONE]",
            "data: this is never read",
        )
    )
    items = collect(make(server), max_tokens=16)

    body = server.bodies()[0]
    assert body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}
    assert body["response_format"]["json_schema"]["strict"] is True
    assert items[:-1] == ['{"answer"', ':"hi"', "}"]
    final = items[-1]
    assert isinstance(final, Generation)
    assert final.text == '{"answer":"hi"}'
    assert final.data == {"answer": "hi"}
    assert final.finish_reason == "stop"
    assert (final.usage.prompt_tokens, final.usage.completion_tokens) == (9, 3)


def test_stream_without_done_is_an_error() -> None:
    server = Server(sse(chunk("{"), chunk("}", finish="stop"), USAGE_CHUNK))
    with pytest.raises(GeneratorError, match=r"without \[DONE\]"):
        collect(make(server))


def test_stream_error_event_and_missing_usage_are_errors() -> None:
    server = Server(sse(chunk("{"), 'data: {"error": {"message": "engine died"}}'))
    with pytest.raises(GeneratorError, match="engine died"):
        collect(make(server))
    server = Server(sse(chunk("{}", finish="stop"), "data: [DONE]"))
    with pytest.raises(GeneratorError, match="usage"):
        collect(make(server))


def test_stream_retries_a_503_before_the_first_byte() -> None:
    server = Server(
        httpx.Response(503), sse(chunk("{}", finish="stop"), USAGE_CHUNK, "data: [DONE]")
    )
    sleeps = Sleeps()
    items = collect(make(server, sleeps))
    assert isinstance(items[-1], Generation) and items[-1].data == {}
    assert len(sleeps) == 1


def test_count_tokens_asks_the_server_tokenize_endpoint() -> None:
    server = Server(httpx.Response(200, json={"count": 5, "tokens": [1, 2, 3, 4, 5]}))
    with httpx.Client(transport=httpx.MockTransport(server)) as sync_client:
        gen = make(Server(), sync_client=sync_client, adapter="lora-a")
        assert gen.count_tokens("a few words here") == 5
    [request] = server.requests
    assert str(request.url) == f"{BASE}/tokenize"
    # The base model's tokenizer serves every adapter.
    assert json.loads(request.content) == {
        "model": "tiny-moe",
        "prompt": "a few words here",
        "add_special_tokens": False,
    }


@pytest.fixture
def tokenizer_dir(tmp_path: Path) -> Iterator[Path]:
    vocab = {"[UNK]": 0, "the": 1, "cat": 2, "sat": 3, ".": 4}
    tokenizer = Tokenizer(WordLevel(vocab, unk_token="[UNK]"))
    tokenizer.pre_tokenizer = Whitespace()
    tokenizer.save(str(tmp_path / "tokenizer.json"))
    yield tmp_path


def test_count_tokens_uses_a_local_tokenizer_folder_without_network(tokenizer_dir: Path) -> None:
    gen = make(Server(), tokenizer_dir=tokenizer_dir)
    assert gen.count_tokens("the cat sat.") == 4
    assert gen.count_tokens("") == 0


def test_count_tokens_reports_a_missing_tokenizer_as_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"tokenizer\.json"):
        make(Server(), tokenizer_dir=tmp_path).count_tokens("x")


def test_bad_settings_and_bad_max_tokens_are_rejected() -> None:
    with pytest.raises(ConfigError):
        VLLMGenerator("vllm.test:8000", "m")
    with pytest.raises(ConfigError):
        VLLMGenerator(BASE, "m", max_retries=-1)
    server = Server()
    with pytest.raises(InvalidInputError):
        generate(make(server), max_tokens=0)
    assert server.requests == []


def test_retry_after_as_an_http_date_is_honoured() -> None:
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    server = Server(
        httpx.Response(503, headers={"Retry-After": later}),
        httpx.Response(200, json=completion("{}")),
    )
    sleeps = Sleeps()
    assert generate(make(server, sleeps)).data == {}
    [slept] = sleeps
    assert 25.0 <= slept <= 30.0


def test_a_stream_answered_with_another_content_type_is_an_error() -> None:
    server = Server(httpx.Response(200, json=completion("{}")))
    with pytest.raises(GeneratorError, match="no event stream") as info:
        collect(make(server))
    assert not isinstance(info.value, GeneratorUnavailableError)


def test_a_closed_port_is_unavailable_after_real_connect_retries() -> None:
    with socket.socket() as probe:  # bind then close: a local port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    sleeps = Sleeps()
    gen = VLLMGenerator(f"http://127.0.0.1:{port}", "m", max_retries=2, sleep=sleeps)
    with pytest.raises(GeneratorUnavailableError, match="cannot reach"):
        generate(gen)
    assert len(sleeps) == 2
