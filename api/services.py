"""The heavy objects of the service, built once by the app's lifespan and shared by routes."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from sqlalchemy import Engine

from api.auth.tokens import TokenIssuer
from api.metrics import Metrics
from api.ratelimit import RateLimiter, storage_uri
from controlplane.kbs import SqlRegistry
from controlplane.keys import KeyStore
from controlplane.migrate import open_control_plane
from indexer.jobs.manager import JobManager
from indexer.jobs.queue import JobQueue, build_huey
from indexer.jobs.store import JobStore
from indexer.jobs.worker import JobWorker
from rag.answer import Answerer
from rag.composition import answer_settings, configured_embedder, router_settings
from rag.config import Settings
from rag.embedding import Embedder
from rag.embedding.batching import MicroBatchingEmbedder, batched
from rag.files import private_dir
from rag.generation.router import GeneratorRouter
from rag.pool import KBPool
from rag.workspace import Workspace


@dataclass
class Services:
    """What routes depend on; see `build` for how each piece is made."""

    settings: Settings
    control: Engine
    embedder: Embedder
    workspace: Workspace
    kbs: KBPool
    router: GeneratorRouter
    answerer: Answerer
    keys: KeyStore
    tokens: TokenIssuer
    limiter: RateLimiter
    jobs: JobManager
    worker: JobWorker | None
    metrics: Metrics

    @classmethod
    def build(
        cls,
        settings: Settings,
        router: GeneratorRouter | None = None,
        embedder: Embedder | None = None,
        metrics: Metrics | None = None,
    ) -> Services:
        """Load the embedder, open the control plane; generators load on first use.

        `router` and `embedder` let tests substitute fakes for the models.
        """
        private_dir(settings.api_dir)
        inner = embedder or configured_embedder(settings)
        shared = batched(
            inner,
            settings.embed_batch_window_ms,
            settings.embed_max_batch,
            enabled=settings.embed_batching,
        )
        control = open_control_plane(settings)
        workspace = Workspace(
            settings, embedder=shared, registry=SqlRegistry(control, settings.kb_root)
        )
        kbs = KBPool(workspace)
        router = router or GeneratorRouter.from_settings(router_settings(settings))
        metrics = metrics or Metrics()
        store = JobStore(control)
        metrics.job.count_with(store.count_by_state)
        queue = JobQueue(build_huey(settings))
        # Embedded, this process runs the jobs too; scaled out, `rag worker`s may do it all.
        worker = (
            JobWorker(settings, kbs, store, queue, metrics.job)
            if settings.ingest_job_workers
            else None
        )
        return cls(
            settings=settings,
            control=control,
            embedder=shared,
            workspace=workspace,
            kbs=kbs,
            router=router,
            answerer=Answerer(router, answer_settings(settings)),
            keys=KeyStore(control),
            tokens=TokenIssuer.from_settings(settings),
            limiter=RateLimiter(
                settings.api_rate_requests,
                settings.api_rate_tokens,
                storage_uri(settings.redis_url.get_secret_value() if settings.redis_url else None),
            ),
            jobs=JobManager(settings, store, queue),
            worker=worker,
            metrics=metrics,
        )

    def start(self) -> None:
        """Start the in-process ingestion worker (it resumes what a previous run left)."""
        if self.worker is not None:
            self.worker.start(self.settings.ingest_job_workers)

    async def aclose(self) -> None:
        """Stop jobs at a safe point, release generators, close KBs and stores."""
        # Waits for the running jobs' current batches: off the event loop.
        if self.worker is not None:
            await asyncio.to_thread(self.worker.stop)
        await self.router.aclose()
        self.kbs.close()
        self.control.dispose()
        if isinstance(self.embedder, MicroBatchingEmbedder):
            self.embedder.close()
