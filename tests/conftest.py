"""Shared fixtures: an isolated workspace per test, the real packaged embedder loaded once."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from controlplane.migrate import open_control_plane
from rag.config import Settings
from rag.embedding import Embedder, load_embedder
from rag.workspace import Workspace

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def pytest_configure(config: pytest.Config) -> None:
    """Offline and fork-safe, set before any test module is collected (importing sets nothing)."""
    # Hugging Face libraries read HF_HUB_OFFLINE when imported; none is imported before this.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    # One ONNX export of the embedder for every test and CLI subprocess, kept between runs.
    # `-p no:cacheprovider` removes `config.cache`: each process then exports into its data dir.
    cache = getattr(config, "cache", None)
    if cache is not None:
        os.environ.setdefault("RAG_EMBED_CACHE_DIR", str(cache.mkdir("rag-onnx")))


@pytest.fixture(scope="session")
def minilm() -> Embedder:
    return load_embedder()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    # The torch runtime, as the `minilm` fixture: tests that embed with it compare like for like.
    return Settings(
        data_dir=tmp_path / "data",
        ingest_batch_chunks=16,
        ingest_flush_seconds=0,
        embed_runtime="torch",
    )


@pytest.fixture
def control(settings: Settings) -> Iterator[Engine]:
    """The control plane's database (SQLite in the test's data directory), migrated."""
    engine = open_control_plane(settings)
    yield engine
    engine.dispose()


@pytest.fixture
def workspace(settings: Settings, minilm: Embedder) -> Iterator[Workspace]:
    yield Workspace(settings)


def shared_data(name: str) -> Path:
    path = SHARED_DATA / name
    if not path.exists():
        pytest.skip(f"evaluation data not found at {path} (../shared/data is absent)")
    return path


SERVICE_MARKERS = ("elasticsearch", "vllm", "browser", "redis", "postgres", "scaleout")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    """With RAG_REQUIRE_SERVICES=1 (CI), a server test that skips is a failure, not a pass."""
    outcome = yield
    report = outcome.get_result()
    required = os.environ.get("RAG_REQUIRE_SERVICES") == "1"
    # get_closest_marker, not iter_markers: a generator is truthy even when empty, which failed
    # every skip (the GPU tests' included) in CI.
    if required and report.skipped and any(item.get_closest_marker(m) for m in SERVICE_MARKERS):
        report.outcome = "failed"
        report.longrepr = f"RAG_REQUIRE_SERVICES=1 but the test skipped: {report.longrepr}"
