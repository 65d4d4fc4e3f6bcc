"""A workspace: the KBs under one data directory, opened with the configured embedder.

Part of the composition: it reads `Settings` and hands each store its own small settings.
"""

from __future__ import annotations

import logging

from pydantic import ValidationError

from rag.composition import configured_embedder, store_settings
from rag.config import Settings
from rag.embedding import Embedder
from rag.embedding.variants import VECTOR_SPACE, EmbedRuntime
from rag.errors import BackendUnavailableError, ConfigError, KBExistsError
from rag.kb import KBConfig, KBRegistry, OpenKB, Registry
from rag.retrieval import Fusion, FusionKind, Retriever
from rag.stores.factory import drop_store, open_store, prepare_store, remote_data
from rag.types import EngineKind, IndexKind

# OpenKB moved to rag.kb (the answer path uses it and must not import rag.config); it is
# still importable from here.
__all__ = ["OpenKB", "Workspace"]
log = logging.getLogger("rag.workspace")


class Workspace:
    """Creates, opens, lists and drops KBs; refuses to mix embedders."""

    def __init__(
        self,
        settings: Settings,
        embedder: Embedder | None = None,
        registry: KBRegistry | None = None,
    ) -> None:
        self.settings = settings
        # The service and the CLI pass the control plane's registry; alone, kb.json folders.
        self.registry: KBRegistry = registry or Registry(settings.kb_root)
        self.stores = store_settings(settings)
        # The API passes its micro-batching wrapper so every KB shares one model owner.
        self._embedder = embedder

    def embedder(self) -> Embedder:
        if self._embedder is not None:
            return self._embedder
        return configured_embedder(self.settings)

    def create(
        self,
        name: str,
        *,
        engine: EngineKind = "local",
        index: IndexKind | None = None,
        chunk_tokens: int | None = None,
        chunk_overlap: int | None = None,
        domain: str = "general",
        tenant: str = "default",
        fusion: FusionKind | None = None,
        fusion_weight: float | None = None,
        chunk_headers: bool | None = None,
    ) -> KBConfig:
        """Register a new KB bound to the current embedder."""
        if engine == "local" and self.settings.scaled_out:
            raise ConfigError(
                f"knowledge base {name!r}: the local engine keeps a KB's files on one machine, "
                "but this deployment is scaled out (RAG_DATABASE_URL or RAG_REDIS_URL is set) and "
                "its API replicas and workers run on several: create it with engine "
                "'elasticsearch'"
            )
        embedder = self.embedder()
        try:
            config = KBConfig(
                name=name,
                engine=engine,
                index=index or self.settings.index,
                chunk_tokens=chunk_tokens or self.settings.chunk_tokens,
                chunk_overlap=(
                    self.settings.chunk_overlap if chunk_overlap is None else chunk_overlap
                ),
                embedder=self.settings.embedder,
                embed_runtime=self.settings.embed_runtime,
                vector_space=VECTOR_SPACE[self.settings.embed_runtime],
                dim=embedder.dim,
                domain=domain,
                tenant=tenant,
                fusion=fusion or self.settings.fusion,
                fusion_weight=self.settings.fusion_weight
                if fusion_weight is None
                else fusion_weight,
                chunk_headers=self.settings.chunk_headers
                if chunk_headers is None
                else chunk_headers,
            )
        except ValidationError as exc:
            raise ConfigError(_reasons(exc)) from exc
        # Checked before preparing: preparing a remote engine clears that KB's indices.
        if self.registry.exists(name):
            raise KBExistsError(f"knowledge base {name!r} already exists")
        prepare_store(config, self.registry.path(name), self.stores)
        self.registry.create(config)
        return config

    def open(self, name: str) -> OpenKB:
        """Open a KB's store with the embedder it was built with."""
        config = self.registry.get(name)
        embedder = self.embedder()
        if config.embedder != self.settings.embedder or config.dim != embedder.dim:
            raise ConfigError(
                f"knowledge base {name!r} was built with embedder {config.embedder!r} "
                f"(dim {config.dim}); the configured embedder is {self.settings.embedder!r} "
                f"(dim {embedder.dim}). Set RAG_EMBEDDER to the KB's embedder or rebuild the KB."
            )
        if config.space != VECTOR_SPACE[self.settings.embed_runtime]:
            raise ConfigError(_other_space(config, self.settings.embed_runtime))
        folder = self.registry.path(name)
        store = open_store(config, folder, self.stores)
        fusion = Fusion(config.fusion, config.fusion_weight)
        retriever = Retriever(
            store, embedder, self.settings.hybrid_candidates, self.settings.rrf_k, fusion
        )
        return OpenKB(config, folder, store, embedder, retriever)

    def list(self) -> list[KBConfig]:
        return self.registry.list()

    def drop(self, name: str) -> str | None:
        """Delete a KB and everything stored for it; what stays on an unreachable server.

        The registry entry goes even when the KB's server cannot be reached, so one dead
        backend never leaves a KB that can be neither used nor removed. What it holds stays
        there (named in the return value and the log) until a KB of that name is created
        again, which clears it, or the operator deletes it.
        """
        config = self.registry.get(name)
        left: str | None = None
        try:
            drop_store(config, self.registry.path(name), self.stores)
        except BackendUnavailableError as exc:
            left = remote_data(config, self.stores)
            log.warning(
                "dropped KB %r without its remote data (%s): %s left behind", name, exc, left
            )
        self.registry.drop(name)
        return left


def _reasons(exc: ValidationError) -> str:
    """Each problem as `field: reason`, without pydantic's echo of the input (names, tenant)."""
    parts = []
    for error in exc.errors(include_url=False, include_input=False, include_context=False):
        message = str(error["msg"]).removeprefix("Value error, ")
        field = ".".join(str(p) for p in error["loc"])
        parts.append(f"{field}: {message}" if field else message)
    return "invalid knowledge base options: " + "; ".join(parts)


def _other_space(config: KBConfig, runtime: EmbedRuntime) -> str:
    """Why a KB's vectors cannot be searched with the configured runtime's, and what to do."""
    if config.space != VECTOR_SPACE[config.embed_runtime]:
        # Same runtime name, older export: only a rebuild gives vectors this version computes.
        return (
            f"knowledge base {config.name!r} was embedded by an earlier export of the "
            f"{config.embed_runtime} runtime, whose vectors differ measurably from today's; "
            "rebuild the KB to search it."
        )
    return (
        f"knowledge base {config.name!r} was embedded by the {config.embed_runtime} runtime, "
        f"whose vectors differ measurably from the configured {runtime!r} runtime's. Set "
        f"RAG_EMBED_RUNTIME={config.embed_runtime} or rebuild the KB."
    )
