"""Knowledge-base registry: each KB has a folder under `<data_dir>/kbs/NAME` for its files.

`KBRegistry` is the seam: `Registry` keeps each config in the folder's `kb.json` (the core
on its own, tests, benchmarks); the service and the CLI use `controlplane.kbs.SqlRegistry`,
which keeps configs in the control plane's database so every replica sees the same KBs.

The config records the embedder name and dimension the KB was built with, so opening it with
another embedder is refused instead of silently mixing vector spaces. An `OpenKB` is one
opened for use (by `rag.workspace.Workspace`): its config with its store and retriever.
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from pydantic import BaseModel, Field, model_validator

from rag.embedding.base import Embedder
from rag.embedding.variants import LEGACY_SPACE, EmbedRuntime
from rag.errors import ConfigError, KBExistsError, KBNotFoundError
from rag.files import private_dir, write_atomic
from rag.retrieval import FusionKind, Retriever
from rag.stores.base import Store
from rag.types import EngineKind, IndexKind

# Up to 127 characters: the HTTP API stores a tenant's KB as `<tenant>__<name>` (rag/tenancy.py).
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,126}$")
CONFIG_FILE = "kb.json"


class KBConfig(BaseModel):
    """Everything fixed when a KB is created."""

    name: str
    engine: EngineKind = "local"
    index: IndexKind = "flat"
    chunk_tokens: int = Field(default=200, ge=16)
    chunk_overlap: int = Field(default=32, ge=0)
    embedder: str
    # The runtime that computed the vectors; KBs from before runtimes were recorded used torch.
    embed_runtime: EmbedRuntime = "torch"
    # The vector space of those vectors (rag/embedding/variants.py); None in KBs made before it
    # was recorded, whose space follows from their runtime (`space`).
    vector_space: str | None = None
    dim: int = Field(ge=1)
    domain: str = "general"
    # Hybrid search's fusion and its dense weight; a search request may ask for another.
    fusion: FusionKind = "minmax"
    fusion_weight: float = Field(default=0.5, ge=0.0, le=1.0)
    # Whether each chunk is indexed and embedded under a header (document title, section
    # heading). False for KBs made before headers existed: their chunks have none.
    chunk_headers: bool = False
    # The tenant that owns the KB; the CLI works as tenant `default`.
    tenant: str = "default"
    created_at: str = Field(default_factory=lambda: datetime.now(UTC).isoformat())

    @model_validator(mode="after")
    def _check(self) -> KBConfig:
        check_name(self.name)
        if self.chunk_overlap >= self.chunk_tokens // 2:
            raise ValueError(
                f"chunk_overlap ({self.chunk_overlap}) must be under half of chunk_tokens "
                f"({self.chunk_tokens})"
            )
        return self

    @property
    def space(self) -> str:
        """The vector space the KB's vectors were computed in."""
        return self.vector_space or LEGACY_SPACE[self.embed_runtime]


@dataclass
class OpenKB:
    """A KB ready for use: its config, store, embedder and retriever."""

    config: KBConfig
    folder: Path
    store: Store
    embedder: Embedder
    retriever: Retriever

    def close(self) -> None:
        self.store.close()


def check_name(name: str) -> str:
    if not _NAME.match(name):
        raise ConfigError(
            f"invalid KB name {name!r}: use 1-127 lower-case letters, digits, '-' or '_', "
            "starting with a letter or digit"
        )
    return name


class KBRegistry(Protocol):
    """Where KB configs are registered; every KB's files live in `path(name)`."""

    def path(self, name: str) -> Path: ...

    def exists(self, name: str) -> bool: ...

    def create(self, config: KBConfig) -> Path: ...

    def get(self, name: str) -> KBConfig: ...

    def list(self) -> list[KBConfig]: ...

    def drop(self, name: str) -> None: ...


class Registry:
    """Creates, lists, reads and drops KB folders under one root (configs in kb.json)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, name: str) -> Path:
        return self.root / check_name(name)

    def exists(self, name: str) -> bool:
        return (self.path(name) / CONFIG_FILE).exists()

    def create(self, config: KBConfig) -> Path:
        folder = self.path(config.name)
        if (folder / CONFIG_FILE).exists():
            raise KBExistsError(f"knowledge base {config.name!r} already exists")
        private_dir(folder)
        write_atomic(folder / CONFIG_FILE, config.model_dump_json(indent=2))
        return folder

    def get(self, name: str) -> KBConfig:
        file = self.path(name) / CONFIG_FILE
        if not file.exists():
            raise KBNotFoundError(f"no knowledge base named {name!r}")
        return KBConfig.model_validate(json.loads(file.read_text()))

    def list(self) -> list[KBConfig]:
        if not self.root.exists():
            return []
        return [
            KBConfig.model_validate(json.loads((d / CONFIG_FILE).read_text()))
            for d in sorted(self.root.iterdir())
            if (d / CONFIG_FILE).exists()
        ]

    def drop(self, name: str) -> None:
        folder = self.path(name)
        if not (folder / CONFIG_FILE).exists():
            raise KBNotFoundError(f"no knowledge base named {name!r}")
        # Remove the config first: a crash mid-delete leaves no half-KB that still opens.
        (folder / CONFIG_FILE).unlink()
        shutil.rmtree(folder)
