"""The heavy objects of the service, built once by the app's lifespan and shared by routes."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from api.auth.tokens import TokenIssuer
from api.metrics import Metrics
from api.ratelimit import RateLimiter
from controlplane.keys import KeyStore
from indexer.jobs.manager import JobManager
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
    embedder: Embedder
    workspace: Workspace
    kbs: KBPool
    router: GeneratorRouter
    answerer: Answerer
    keys: KeyStore
    tokens: TokenIssuer
    limiter: RateLimiter
    jobs: JobManager
    metrics: Metrics

    @classmethod
    def build(
        cls,
        settings: Settings,
        router: GeneratorRouter | None = None,
        embedder: Embedder | None = None,
        metrics: Metrics | None = None,
    ) -> Services:
        """Load the embedder, open the key and job stores; generators load on first use.

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
        workspace = Workspace(settings, embedder=shared)
        kbs = KBPool(workspace)
        router = router or GeneratorRouter.from_settings(router_settings(settings))
        metrics = metrics or Metrics()
        return cls(
            settings=settings,
            embedder=shared,
            workspace=workspace,
            kbs=kbs,
            router=router,
            answerer=Answerer(router, answer_settings(settings)),
            keys=KeyStore(settings.api_dir / "keys.db"),
            tokens=TokenIssuer.from_settings(settings),
            limiter=RateLimiter(settings.api_rate_requests, settings.api_rate_tokens),
            jobs=JobManager(settings, kbs, metrics.job),
            metrics=metrics,
        )

    def start(self) -> None:
        """Resume the ingestion jobs a previous run left queued or running."""
        self.jobs.start()

    async def aclose(self) -> None:
        """Stop jobs at a safe point, release generators, close KBs and stores."""
        # Waits for the running job's current batch: off the event loop.
        await asyncio.to_thread(self.jobs.close)
        await self.router.aclose()
        self.kbs.close()
        self.keys.close()
        if isinstance(self.embedder, MicroBatchingEmbedder):
            self.embedder.close()
