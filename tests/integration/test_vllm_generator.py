"""VLLMGenerator against a real vLLM server (`scripts/vllm.sh start`, then set RAG_VLLM_URL).

The served model may be random noise (the tiny MoE of scripts/make_tiny_moe.py): every check
here is about the server honouring the schema and the wire format, not about answer quality.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import httpx
import jsonschema
import pytest

from rag.generation.base import Generation, Message
from rag.generation.errors import GeneratorError, GeneratorUnavailableError
from rag.generation.vllm import VLLMGenerator

pytestmark = pytest.mark.vllm

T = TypeVar("T")
SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "verdict": {"enum": ["supported", "refuted", "not_in_kb"]},
        "summary": {"type": "string", "maxLength": 24},
        "citations": {
            "type": "array",
            "items": {"enum": [1, 2, 3]},
            "minItems": 1,
            "maxItems": 3,
        },
    },
    "required": ["verdict", "summary", "citations"],
    "additionalProperties": False,
}
MESSAGES = [
    Message("system", "Answer from the numbered passages only, as JSON."),
    Message("user", "[1] Paris is in France. [2] Rome is in Italy.\nQ: Where is Paris?"),
]


@pytest.fixture(scope="module")
def server() -> tuple[str, str]:
    """The base URL and served model name, or a skip saying how to get a server."""
    url = os.environ.get("RAG_VLLM_URL")
    if not url:
        pytest.skip("RAG_VLLM_URL is unset; run `scripts/vllm.sh start` and export its URL")
    try:
        response = httpx.get(f"{url.rstrip('/')}/v1/models", timeout=5)
        response.raise_for_status()
        model = str(response.json()["data"][0]["id"])
    except (httpx.HTTPError, KeyError, IndexError, ValueError) as exc:
        pytest.skip(f"vLLM at RAG_VLLM_URL={url} is unreachable: {exc!r}")
    return url, model


def run(server: tuple[str, str], body: Callable[[VLLMGenerator], Awaitable[T]], **kw: Any) -> T:
    """Run `body` with a fresh generator on its own event loop, closing it afterwards."""

    async def main() -> T:
        gen = VLLMGenerator(server[0], server[1], timeout=60, **kw)
        try:
            return await body(gen)
        finally:
            await gen.aclose()

    return asyncio.run(main())


async def streamed(gen: VLLMGenerator, max_tokens: int) -> list[str | Generation]:
    return [item async for item in gen.stream(MESSAGES, SCHEMA, max_tokens)]


def test_generate_returns_schema_valid_json_with_usage(server: tuple[str, str]) -> None:
    result = run(server, lambda gen: gen.generate(MESSAGES, SCHEMA, 64))
    assert result.finish_reason == "stop"
    assert result.data is not None, result.text
    jsonschema.validate(result.data, SCHEMA)
    assert result.usage.prompt_tokens > 0
    assert 0 < result.usage.completion_tokens <= 64
    assert result.model == server[1]


def test_stream_deltas_concatenate_to_the_final_generation(server: tuple[str, str]) -> None:
    items = run(server, lambda gen: streamed(gen, 64))
    *deltas, final = items
    assert isinstance(final, Generation)
    assert all(isinstance(d, str) and d for d in deltas)
    assert len(deltas) > 1
    assert "".join(str(d) for d in deltas) == final.text
    assert final.finish_reason == "stop"
    jsonschema.validate(final.data, SCHEMA)
    assert final.usage.prompt_tokens > 0 and final.usage.completion_tokens > 0
    # Greedy decoding: the streamed answer is the one generate() gives.
    assert run(server, lambda gen: gen.generate(MESSAGES, SCHEMA, 64)).text == final.text


def test_tiny_max_tokens_ends_with_length(server: tuple[str, str]) -> None:
    result = run(server, lambda gen: gen.generate(MESSAGES, SCHEMA, 3))
    assert result.finish_reason == "length"
    assert result.usage.completion_tokens == 3
    assert result.data is None  # three tokens cannot close this object
    *_, final = run(server, lambda gen: streamed(gen, 3))
    assert isinstance(final, Generation) and final.finish_reason == "length"


def test_unknown_adapter_is_a_generator_error_not_unavailable(server: tuple[str, str]) -> None:
    with pytest.raises(GeneratorError, match="404") as info:
        run(server, lambda gen: gen.generate(MESSAGES, SCHEMA, 8), adapter="no-such-lora")
    assert not isinstance(info.value, GeneratorUnavailableError)


def test_count_tokens_from_the_server_matches_the_model_folder(server: tuple[str, str]) -> None:
    text = "Paris is the capital of France; Rome is the capital of Italy."

    async def remote(gen: VLLMGenerator) -> int:
        return gen.count_tokens(text)

    count = run(server, remote)
    assert 10 <= count <= 30
    default = Path(os.environ.get("RAG_CACHE", Path.home() / ".cache/rag-service")) / "tiny-moe"
    folder = Path(os.environ.get("RAG_VLLM_TOKENIZER_DIR", default))
    if not (folder / "tokenizer.json").exists():
        pytest.skip(f"no local tokenizer folder at {folder} to compare with")
    assert run(server, remote, tokenizer_dir=folder) == count
