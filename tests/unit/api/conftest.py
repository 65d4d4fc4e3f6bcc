"""An app on fakes (hashing embedder, a generator that always answers) and keys to call it."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from rag.config import Settings
from rag.embedding.fake import HashingEmbedder
from rag.generation.base import Generation, JSONSchema, Message, Usage
from rag.generation.profiles import GeneratorProfile
from rag.generation.router import GeneratorRouter


def instance(schema: JSONSchema) -> Any:
    """A small value valid against a simple schema (objects, scalars, enums, arrays)."""
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if kind == "object":
        props = schema.get("properties", {})
        return {k: instance(v) for k, v in props.items()}
    if kind == "array":
        return [instance(schema["items"])] * max(1, schema.get("minItems", 0))
    if kind == "integer":
        return int(schema.get("minimum", 1))
    if kind == "number":
        return float(schema.get("minimum", 1.5))
    if kind == "boolean":
        return True
    return "grounded"


class AnsweringGenerator:
    """Answers every question from passage 1, valid against whatever schema it is given."""

    name = "answering-fake"

    def __init__(self, text: str = "The answer is in the passages") -> None:
        self.text = text
        self.calls: list[tuple[tuple[Message, ...], JSONSchema, int]] = []

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def _reply(self, messages: Sequence[Message], schema: JSONSchema, max_tokens: int) -> str:
        self.calls.append((tuple(messages), schema, max_tokens))
        props = schema["properties"]
        if "data" in props:
            out: dict[str, Any] = {
                "data": instance(props["data"]),
                "citations": [1],
                "answerable": True,
            }
        else:
            out = {"answer": self.text, "citations": [1], "answerable": True, "confidence": 0.9}
        return json.dumps(out, separators=(",", ":"))

    async def generate(
        self, messages: Sequence[Message], schema: JSONSchema, max_tokens: int
    ) -> Generation:
        text = self._reply(messages, schema, max_tokens)
        return Generation(text, json.loads(text), "stop", Usage(10, len(text) // 4), self.name)

    async def stream(
        self, messages: Sequence[Message], schema: JSONSchema, max_tokens: int
    ) -> AsyncIterator[str | Generation]:
        text = self._reply(messages, schema, max_tokens)
        for start in range(0, len(text), 5):
            yield text[start : start + 5]
        yield Generation(text, json.loads(text), "stop", Usage(10, len(text) // 4), self.name)


@pytest.fixture
def api_settings(tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        ingest_batch_chunks=16,
        ingest_flush_seconds=0,
        answer_min_relevance=-1.0,  # the hashing embedder's cosines mean little
        embed_batch_window_ms=1.0,
        generator_profiles={"local": GeneratorProfile(), "big": GeneratorProfile()},
    )


@pytest.fixture
def generator() -> AnsweringGenerator:
    return AnsweringGenerator()


@dataclass
class Api:
    """A running app (lifespan entered) and its services."""

    client: TestClient
    services: Any  # api.services.Services

    def key(
        self,
        tenant: str = "acme",
        scopes: Sequence[str] = ("admin",),
        kbs: Sequence[str] | None = None,
    ) -> dict[str, str]:
        """Headers with a new API key."""
        _, secret = self.services.keys.create(tenant, scopes, kbs)  # type: ignore[arg-type]
        return {"Authorization": f"Bearer {secret}"}


def build_api(settings: Settings, generator: AnsweringGenerator) -> Iterator[Api]:
    # Imported here so tests of single API modules collect without the whole app.
    from api.app import create_app
    from api.services import Services

    router = GeneratorRouter(
        settings.generator_profiles,
        settings.default_profile,
        settings.domain_profiles,
        settings.cache_dir,
        build=lambda profile, cache: generator,
    )
    services = Services.build(settings, router=router, embedder=HashingEmbedder(dim=32))
    with TestClient(create_app(settings, services)) as client:
        yield Api(client, services)


@pytest.fixture
def api(api_settings: Settings, generator: AnsweringGenerator) -> Iterator[Api]:
    yield from build_api(api_settings, generator)


@pytest.fixture
def local_api(api_settings: Settings, generator: AnsweringGenerator) -> Iterator[Api]:
    """No-auth local mode: every request is tenant `default` with admin."""
    yield from build_api(api_settings.model_copy(update={"api_no_auth": True}), generator)


@pytest.fixture
def api_with(api_settings: Settings, generator: AnsweringGenerator) -> Iterator[Callable[..., Api]]:
    """Builds apps with settings changed, `api_with(api_max_upload_bytes=2048)`; all closed."""
    with ExitStack() as stack:

        def make(**updates: Any) -> Api:
            built = build_api(api_settings.model_copy(update=updates), generator)
            stack.callback(built.close)  # leaves the lifespan once the test is done
            return next(built)

        yield make


@pytest.fixture
def limited(api_with: Callable[..., Api]) -> Api:
    """Tight limits: 3 requests and 20 generated tokens per minute per key."""
    return api_with(api_rate_requests=3, api_rate_tokens=20)
