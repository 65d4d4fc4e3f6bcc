"""Engine choice: a KB's `engine` field picks a constructor from a small dict."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from rag.errors import ConfigError
from rag.kb import KBConfig
from rag.stores.base import Store
from rag.stores.local.store import LocalStore, remove_files
from rag.stores.settings import StoreSettings
from rag.types import EngineKind


@dataclass(frozen=True)
class Engine:
    """How to open an engine's store for a KB, prepare a new one, and delete what it stored."""

    open: Callable[[KBConfig, Path, StoreSettings], Store]
    drop: Callable[[KBConfig, Path, StoreSettings], None]
    # Before a new KB is registered: proves the backend answers, clears what a drop left.
    prepare: Callable[[KBConfig, Path, StoreSettings], None]
    # Where the KB's data lives off this machine, named for the operator (None: all local).
    remote: Callable[[KBConfig, StoreSettings], str | None]


def _open_local(config: KBConfig, folder: Path, settings: StoreSettings) -> Store:
    return LocalStore(folder, config.dim, config.index, settings.vectors)


def _drop_local(config: KBConfig, folder: Path, settings: StoreSettings) -> None:
    remove_files(folder)


def _open_elasticsearch(config: KBConfig, folder: Path, settings: StoreSettings) -> Store:
    # Imported here so that local-only installs never load the Elasticsearch client.
    from rag.stores.elasticsearch import ElasticsearchStore, connect

    es = settings.elasticsearch
    client = connect(
        es.url,
        username=es.username,
        password=es.password,
        api_key=es.api_key,
        verify_certs=es.verify_certs,
        ca_certs=es.ca_certs,
        request_timeout=es.request_timeout,
    )
    return ElasticsearchStore(
        client,
        config.name,
        config.dim,
        es.index_prefix,
        # Elasticsearch 8.12 offers hnsw and int8_hnsw: a compact KB asks for the quantised one.
        "int8_hnsw" if config.index == "ivfpq" else "hnsw",
        num_candidates_factor=es.num_candidates_factor,
        close_client=True,
    )


def _drop_elasticsearch(config: KBConfig, folder: Path, settings: StoreSettings) -> None:
    from rag.stores.elasticsearch import ElasticsearchStore

    store = _open_elasticsearch(config, folder, settings)
    assert isinstance(store, ElasticsearchStore)
    try:
        store.drop()
    finally:
        store.close()


def _prepare_local(config: KBConfig, folder: Path, settings: StoreSettings) -> None:
    pass  # the folder is the store; nothing remote to check


def _remote_local(config: KBConfig, settings: StoreSettings) -> str | None:
    return None


def _remote_elasticsearch(config: KBConfig, settings: StoreSettings) -> str | None:
    from rag.stores.elasticsearch.generations import alias_name

    alias = alias_name(settings.elasticsearch.index_prefix, config.name)
    return f"the Elasticsearch indices {alias}.* (alias {alias}) at {settings.elasticsearch.url}"


ENGINES: dict[EngineKind, Engine] = {
    "local": Engine(
        open=_open_local, drop=_drop_local, prepare=_prepare_local, remote=_remote_local
    ),
    # Dropping a fresh KB's indices both proves the server answers (a KB created while it
    # cannot be reached would only fail later) and removes what a drop made while the server
    # was down had to leave behind, so a new KB of that name never shows old documents.
    "elasticsearch": Engine(
        open=_open_elasticsearch,
        drop=_drop_elasticsearch,
        prepare=_drop_elasticsearch,
        remote=_remote_elasticsearch,
    ),
}


def open_store(config: KBConfig, folder: Path, settings: StoreSettings = StoreSettings()) -> Store:
    """Open the store of the KB described by `config`, whose folder is `folder`."""
    return _engine(config).open(config, folder, settings)


def drop_store(config: KBConfig, folder: Path, settings: StoreSettings = StoreSettings()) -> None:
    """Delete everything the KB's engine stored (files here, an index on a server)."""
    _engine(config).drop(config, folder, settings)


def prepare_store(
    config: KBConfig, folder: Path, settings: StoreSettings = StoreSettings()
) -> None:
    """Make ready for a new KB; `BackendUnavailableError` when its server cannot be reached."""
    _engine(config).prepare(config, folder, settings)


def remote_data(config: KBConfig, settings: StoreSettings = StoreSettings()) -> str | None:
    """Where the KB's data lives on a server, for the operator (None: all in its folder)."""
    return _engine(config).remote(config, settings)


def _engine(config: KBConfig) -> Engine:
    try:
        return ENGINES[config.engine]
    except KeyError:
        raise ConfigError(
            f"knowledge base {config.name!r} uses engine {config.engine!r}, which this build "
            f"does not provide (available: {', '.join(ENGINES)})"
        ) from None
