"""The app factory: one lifespan builds the heavy objects, thin routers share them."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager

from fastapi import FastAPI

from api import console
from api.auth.throttle import FailedAuthThrottle
from api.errors import install_error_handlers
from api.metrics import Metrics
from api.middleware import BodyLimit, RequestContext, Timeout
from api.openai import chat, embeddings, models
from api.ops_access import OpsAccess
from api.readiness import Warmup
from api.routes import answer, documents, health, jobs, kbs, keys, oauth, search
from api.services import Services
from rag.config import Settings, get_settings

log = logging.getLogger("api")

DESCRIPTION = """\
Grounded answers with citations over your knowledge bases, a native API for KBs, documents,
ingestion jobs, search and answers, and an OpenAI-compatible API (`/v1/models`,
`/v1/chat/completions`, `/v1/embeddings`) for chat frontends.

Authenticate with `Authorization: Bearer <API key or access token>`. Errors are OpenAI error
objects. See docs/api.md.
"""


def create_app(settings: Settings | None = None, services: Services | None = None) -> FastAPI:
    """The service. `services` (tests) replaces what the lifespan would build from `settings`."""
    settings = settings or (services.settings if services else get_settings())
    # The middleware needs the metrics before the lifespan builds everything else.
    metrics = services.metrics if services else Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        executor = ThreadPoolExecutor(settings.api_worker_threads, thread_name_prefix="api")
        asyncio.get_running_loop().set_default_executor(executor)
        built = services or Services.build(settings, metrics=metrics)
        app.state.services = built
        # The profile that generates: a quoting default has nothing to load, schemas do.
        warmup = Warmup(built.router, built.router.resolve("general", schema=True))
        app.state.warmup = warmup
        warmup.start()
        built.start()
        log.info(
            "serving %d knowledge bases from %s", len(built.workspace.list()), settings.data_dir
        )
        try:
            yield
        finally:
            await built.aclose()
            executor.shutdown(wait=False, cancel_futures=True)

    app = FastAPI(
        title="rag-service",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    install_error_handlers(app)
    app.include_router(health.router)
    for module in (kbs, documents, jobs, search, answer, keys, oauth, models, chat, embeddings):
        app.include_router(module.router, prefix="/v1")
    console.mount(app)
    # Outermost last: the request id wraps everything, limits sit inside it.
    app.add_middleware(Timeout, seconds=settings.api_request_timeout)
    app.add_middleware(OpsAccess, settings=settings)
    app.add_middleware(FailedAuthThrottle, per_minute=settings.api_auth_failures_per_minute)
    app.add_middleware(
        BodyLimit, max_body=settings.api_max_body_bytes, max_upload=settings.api_max_upload_bytes
    )
    app.add_middleware(RequestContext, metrics=metrics)
    return app
