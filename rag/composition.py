"""`Settings` to the small settings each core component takes: the one place that maps them.

Stores, embedding, retrieval, generation and the answer path never import rag/config.py (an
import-linter contract in pyproject.toml says so); the workspace, the API and the CLI build
their components' settings here. Each component's defaults equal the service's
(tests/unit/test_composition.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from rag.config import Settings
from rag.embedding import Embedder, load_embedder
from rag.embedding.factory import load_remote_embedder
from rag.generation.profiles import RouterSettings
from rag.stores.settings import ElasticsearchSettings, StoreSettings, VectorIndexSettings

if TYPE_CHECKING:
    from rag.answer.settings import AnswerSettings


def configured_embedder(settings: Settings) -> Embedder:
    """The configured model on the configured runtime and device (loaded once per process),
    or computed by the embeddings server RAG_EMBEDDER_URL."""
    if settings.embedder_url:
        key = settings.embedder_api_key
        return load_remote_embedder(
            settings.embedder,
            settings.embedder_url,
            settings.embedder_model,
            key.get_secret_value() if key else None,
            settings.embed_batch_size,
        )
    return load_embedder(
        settings.embedder,
        settings.embed_batch_size,
        settings.embed_runtime,
        settings.embed_cache,
        settings.device,
    )


def vector_index_settings(settings: Settings) -> VectorIndexSettings:
    """How the local engine builds and searches FAISS indexes."""
    return VectorIndexSettings(
        hnsw_m=settings.hnsw_m,
        hnsw_ef_search=settings.hnsw_ef_search,
        ivf_nprobe=settings.ivf_nprobe,
        ivfpq_min_chunks=settings.ivfpq_min_chunks,
        device=settings.device,
        write_lock_timeout=settings.write_lock_timeout,
    )


def elasticsearch_settings(settings: Settings) -> ElasticsearchSettings:
    """Where and how the Elasticsearch engine connects."""
    password, api_key = settings.es_password, settings.es_api_key
    return ElasticsearchSettings(
        url=settings.es_url,
        username=settings.es_username,
        password=password.get_secret_value() if password else None,
        api_key=api_key.get_secret_value() if api_key else None,
        verify_certs=settings.es_verify_certs,
        ca_certs=settings.es_ca_certs,
        index_prefix=settings.es_index_prefix,
        num_candidates_factor=settings.es_num_candidates_factor,
        request_timeout=settings.es_request_timeout,
    )


def store_settings(settings: Settings) -> StoreSettings:
    """What the store factory needs to open a KB of either engine."""
    return StoreSettings(vector_index_settings(settings), elasticsearch_settings(settings))


def router_settings(settings: Settings, cache_dir: Path | None = None) -> RouterSettings:
    """The generator profiles and routing; local models convert under `cache_dir`."""
    return RouterSettings(
        cache_dir=settings.cache_dir if cache_dir is None else cache_dir,
        profiles=settings.generator_profiles,
        default_profile=settings.default_profile,
        domain_profiles=settings.domain_profiles,
        schema_profile=settings.schema_profile,
    )


def answer_settings(settings: Settings) -> AnswerSettings:
    """Passages per question and the relevance threshold of the answer path."""
    # Imported here: importing rag.answer loads jsonschema and the generator backends, which
    # commands that never answer (and the workspace, which imports this module) need not pay for.
    from rag.answer.settings import AnswerSettings

    return AnswerSettings(
        k=settings.answer_k,
        min_relevance=settings.answer_min_relevance,
        focus_query=settings.answer_focus_query,
    )
