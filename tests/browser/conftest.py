"""The web console in a real browser: Debian's chromium driven by Playwright, against a real
`rag serve` on loopback (the packaged embedder and generator, small generation budgets).

Tests skip, naming what is missing, without chromium or Playwright; CI installs chromium and
sets RAG_REQUIRE_SERVICES=1, so there a skip fails. `RAG_CONSOLE_SCREENSHOTS=docs` saves the
screenshots the README shows (each screen, and one at phone width).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from rag.generation.packaged_model import PACKAGED_NAME, packaged_model_dir

# The helper that runs `rag serve` lives with the integration tests; pytest puts each test
# folder on sys.path only while it collects there, so name it explicitly.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))
from browsing import LAPTOP, SAMPLES, Page, Server
from serving import admin_key, serving

CHROMIUM = os.environ.get("RAG_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
# The network is closed: nothing in the browser may try to reach out, and no GPU exists.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# Small budgets: CI has 2 cores and the checks are about the page, not the answers' quality.
PROFILES = {"local": {"max_tokens": 160, "context_window": 1024}}
# Browsers log every failed fetch; a 4xx the page handles (a refused key) is not a fault.
_EXPECTED_CONSOLE = ("Failed to load resource",)


@pytest.fixture(scope="session")
def browser_available() -> str:
    """Chromium's path, once Playwright and chromium are known to be there; else a skip."""
    pytest.importorskip(
        "playwright.sync_api", reason="Playwright is not installed (pip install '.[dev]')"
    )
    if not Path(CHROMIUM).is_file():
        pytest.skip(
            f"chromium not found at {CHROMIUM}: `apt-get install -y chromium`, "
            "or set RAG_CHROMIUM to a Chromium binary"
        )
    return CHROMIUM


@pytest.fixture(scope="module")
def chromium(browser_available: str) -> Iterator[Any]:
    """One browser per module. Not per session: Playwright's sync API keeps an asyncio loop
    running in this thread while it is started, and later tests call `asyncio.run`."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=browser_available, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="module")
def expect(chromium: Any) -> Any:
    """Playwright's auto-waiting assertions (imported once the browser is known to exist)."""
    from playwright.sync_api import expect as playwright_expect

    playwright_expect.set_options(timeout=30_000)
    return playwright_expect


@pytest.fixture
def open_page(chromium: Any) -> Iterator[Callable[..., Page]]:
    """Opens pages in fresh contexts (own session storage); fails the test on a page error."""
    contexts: list[Any] = []
    pages: list[Page] = []

    def make(base: str, viewport: dict[str, int] | None = None) -> Page:
        context = chromium.new_context(viewport=viewport or LAPTOP, base_url=base)
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(30_000)
        opened = Page(page)
        page.on("pageerror", lambda exc: opened.errors.append(f"uncaught: {exc}"))
        page.on(
            "console",
            lambda msg: (
                opened.errors.append(f"console.{msg.type}: {msg.text}")
                if msg.type == "error" and not msg.text.startswith(_EXPECTED_CONSOLE)
                else None
            ),
        )
        pages.append(opened)
        return opened

    yield make
    for context in contexts:
        context.close()
    problems = [error for opened in pages for error in opened.errors]
    assert not problems, "\n".join(problems)


def _environment(request: pytest.FixtureRequest, root: Path) -> dict[str, str]:
    data = root / "data"
    # The GGUF is converted once per machine (shared with the other local-model tests).
    cache = request.config.cache
    models = cache.mkdir("rag-models") if cache is not None else root / "models"
    converted = packaged_model_dir(models)
    (data / "cache" / "models").mkdir(parents=True)
    (data / "cache" / "models" / PACKAGED_NAME).symlink_to(converted, target_is_directory=True)
    return {
        **os.environ,
        "RAG_DATA_DIR": str(data),
        "RAG_GENERATOR_PROFILES": json.dumps(PROFILES),
        # Small batches: a job's counts move often (the page shows them moving) and a cancel
        # takes effect after the batch being written, seconds rather than the whole job.
        "RAG_INGEST_BATCH_CHUNKS": "16",
        "HF_HUB_OFFLINE": "1",
    }


@pytest.fixture(scope="session")
def samples(request: pytest.FixtureRequest) -> list[Path]:
    """The two real SEC filings (PDF) of ../shared/data/samples; skips when it is absent."""
    # tests/conftest.py's `shared_data` finds (or skips on) the shared data folder; conftest
    # modules are not importable by name, so it is fetched from pytest's registry.
    root = request.config.pluginmanager.get_plugin(str(Path(__file__).parents[1] / "conftest.py"))
    folder: Path = root.shared_data("samples")
    return [folder / name for name in SAMPLES]


@pytest.fixture(scope="module")
def local_server(
    browser_available: str, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """`rag serve --no-auth`: the console must work with nothing to type."""
    root = tmp_path_factory.mktemp("console-local")
    env = _environment(request, root)
    with serving(env, root / "serve.log", ready="/readyz", timeout=240) as (_, base):
        yield Server(base, None)


@pytest.fixture(scope="module")
def keyed_server(
    browser_available: str, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """`rag serve` with keys, and an admin key of tenant acme made by `rag keys create`."""
    root = tmp_path_factory.mktemp("console-keyed")
    env = _environment(request, root)
    key = admin_key(env, "acme", "--name", "ops")
    with serving(env, root / "serve.log", extra=(), ready="/healthz", timeout=240) as (_, base):
        yield Server(base, key)
