"""An app on fakes (hashing embedder, a generator that always answers) and keys to call it."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from rag.config import Settings
from rag.embedding.fake import HashingEmbedder
from rag.generation.fake import ScriptedGenerator
from rag.generation.profiles import GeneratorProfile
from rag.generation.router import GeneratorRouter


@pytest.fixture
def api_settings(tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        ingest_batch_chunks=16,
        ingest_flush_seconds=0,
        answer_min_relevance=-1.0,  # the hashing embedder's cosines mean little
        embed_batch_window_ms=1.0,
        generator_profiles={"local": GeneratorProfile(), "big": GeneratorProfile()},
        # These tests are of the generating path (on the scripted generator); the quoting
        # profile has its own (test_extractive_routes.py).
        default_profile="local",
    )


@pytest.fixture
def generator() -> ScriptedGenerator:
    """Answers every question from passage 1, valid against whatever schema it is given."""
    return ScriptedGenerator(
        name="answering-fake", answer="The answer is in the passages", delta_chars=5
    )


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


def build_api(settings: Settings, generator: ScriptedGenerator) -> Iterator[Api]:
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
def api(api_settings: Settings, generator: ScriptedGenerator) -> Iterator[Api]:
    yield from build_api(api_settings, generator)


@pytest.fixture
def local_api(api_settings: Settings, generator: ScriptedGenerator) -> Iterator[Api]:
    """No-auth local mode: every request is tenant `default` with admin."""
    yield from build_api(api_settings.model_copy(update={"api_no_auth": True}), generator)


@pytest.fixture
def api_with(api_settings: Settings, generator: ScriptedGenerator) -> Iterator[Callable[..., Api]]:
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
