"""Settings: one pydantic-settings class, `RAG_` environment prefix, built by `get_settings()`.

Only the composition (rag/composition.py, the workspace, the API, the CLI) reads them; each
core component takes its own small settings, built from these in rag/composition.py.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from rag.embedding.sentence import PACKAGED_EMBEDDER
from rag.embedding.variants import Device, EmbedRuntime
from rag.generation.profiles import (
    EXTRACTIVE_PROFILE,
    LOCAL_PROFILE,
    GeneratorProfile,
    default_profiles,
)
from rag.types import FusionKind, IndexKind


class Settings(BaseSettings):
    """Every tunable of the service; read once from the environment, overridable in tests."""

    model_config = SettingsConfigDict(env_prefix="RAG_", extra="ignore")

    data_dir: Path = Field(default=Path(".rag-data"), description="where KBs and caches live")
    embedder: str = Field(
        default=PACKAGED_EMBEDDER,
        description="'packaged:all-MiniLM-L6-v2' or a sentence-transformers model folder",
    )
    embed_batch_size: int = Field(default=64, ge=1, le=4096)
    # What computes the vectors: PyTorch, or the model exported to ONNX Runtime (float32, or
    # int8 weights). Chosen from bench/embed_variants.py (docs/benchmarks.md, embedding runtimes).
    embed_runtime: EmbedRuntime = "onnx"
    # Where the embedder and the local engine's Flat/IVF indexes run; auto takes a CUDA GPU
    # when one is usable.
    device: Device = "auto"
    # Where the embedder's ONNX export is cached; <data_dir>/cache when unset. Tests share one.
    embed_cache_dir: Path | None = None
    # An OpenAI-compatible embeddings server (http://gpu-embed:8000/v1) that computes RAG_EMBEDDER
    # for this process, under the name RAG_EMBEDDER_MODEL (default: RAG_EMBEDDER, which another
    # `rag serve` answers to); unset, the model runs in process.
    embedder_url: str | None = None
    embedder_model: str | None = None
    embedder_api_key: SecretStr | None = None
    index: IndexKind = "flat"
    chunk_tokens: int = Field(default=200, ge=16, description="upper bound of a chunk, in tokens")
    chunk_overlap: int = Field(default=32, ge=0)
    # IVF-PQ needs training data: below this many chunks the KB stays exact (Flat).
    ivfpq_min_chunks: int = Field(default=20_000, ge=1_000)
    hnsw_m: int = Field(default=32, ge=4, le=128)
    hnsw_ef_search: int = Field(default=128, ge=8)
    ivf_nprobe: int = Field(default=16, ge=1)
    # One process writes a local KB at a time (a lock file in its folder); another waits this
    # long for it, then fails with an error naming the lock.
    write_lock_timeout: float = Field(default=120.0, ge=0.0)
    # Ingest: chunks per embed call and store write; how often the vector index is saved
    # (the most work a crash can cost; SQLite commits every batch regardless).
    ingest_batch_chunks: int = Field(default=512, ge=1)
    ingest_flush_seconds: float = Field(default=30.0, ge=0.0)
    # Parsing: worker processes (unset: one per core; 0: parse in the ingesting process, with
    # no timeout), the seconds one file may take before its worker is killed, and the bounds
    # a file must stay within (each breach is that file's error, named in the job report).
    ingest_parse_workers: int | None = Field(default=None, ge=0, le=256)
    ingest_parse_timeout: float = Field(default=300.0, gt=0)
    ingest_max_unpacked_mb: int = Field(
        default=100, ge=1, description="unpacked size of a .docx (a zip of XML parts)"
    )
    ingest_max_xml_elements: int = Field(
        default=200_000, ge=1_000, description="XML elements in a .docx's document part"
    )
    ingest_max_html_depth: int = Field(default=256, ge=16, le=900)
    # Ingestion jobs one worker process runs at once, fairly between tenants, one job per KB
    # (`rag worker`; `rag serve` runs this many in its own process, 0 for none).
    ingest_job_workers: int = Field(default=2, ge=0, le=64)
    # Chunks are cut in tokens; a long run without spaces is one unknown token to the model,
    # so characters are capped too: a chunk past this is split further.
    chunk_max_chars: int = Field(default=4000, ge=200)
    # Candidates each mode contributes to hybrid fusion.
    hybrid_candidates: int = Field(default=100, ge=10)
    rrf_k: int = Field(default=60, ge=1)
    # New KBs' hybrid fusion and dense weight (rag/retrieval/fusion.py) and whether their
    # chunks get headers (indexer/chunking/header.py). Min-max at 0.5 was the best fusion on
    # SciFact and the filings pages and never below the better single mode (docs/evaluation.md).
    fusion: FusionKind = "minmax"
    fusion_weight: float = Field(default=0.5, ge=0.0, le=1.0)
    chunk_headers: bool = True

    # Elasticsearch engine (KBs created with --engine elasticsearch).
    es_url: str = "http://127.0.0.1:9200"
    es_username: str | None = None
    es_password: SecretStr | None = None
    es_api_key: SecretStr | None = None
    es_verify_certs: bool = True
    es_ca_certs: Path | None = None
    es_index_prefix: str = Field(default="rag-", pattern=r"^[a-z0-9][a-z0-9_-]*$")
    es_num_candidates_factor: int = Field(default=10, ge=1, le=100)
    es_request_timeout: float = Field(default=30.0, gt=0)

    # Generation: named profiles (RAG_GENERATOR_PROFILES as JSON), the default one, and the
    # profile a KB of each domain uses (RAG_DOMAIN_PROFILES='{"finance": "vllm"}').
    # Free-text answers quote passages by default: on PubMedQA and TAT-QA they read better
    # than the packaged 135M model writes (docs/evaluation.md); an analyst schema, which
    # quoting cannot fill, goes to `schema_profile` unless its request names a profile.
    generator_profiles: dict[str, GeneratorProfile] = Field(default_factory=default_profiles)
    default_profile: str = EXTRACTIVE_PROFILE
    domain_profiles: dict[str, str] = Field(default_factory=dict)
    schema_profile: str = LOCAL_PROFILE
    # Answers: passages retrieved per question, and the dense cosine below which a passage
    # is not shown to the model. Calibrated for all-MiniLM-L6-v2: the best passage of 60
    # PubMedQA and TAT-QA questions over their own KB scored 0.38-0.92 (all but one >= 0.44);
    # asked of the other dataset's KB, 0.08-0.41 (all but two < 0.4). Other embedders differ.
    answer_k: int = Field(default=5, ge=1, le=50)
    answer_min_relevance: float = Field(default=0.4, ge=-1.0, le=1.0)
    # Retrieve with a question's informative part, its instructions dropped
    # (rag/retrieval/query.py); docs/evaluation.md measures it on the dev sets.
    answer_focus_query: bool = False

    # The control plane (keys, tenants, KB registry, jobs): a SQLAlchemy URL such as
    # postgresql+psycopg://user:pass@host/db; unset, a SQLite file in the data directory.
    database_url: SecretStr | None = None
    # Redis (redis://host:6379/0) for the scaled-out deployment: the ingestion queue and the
    # rate limits live there, shared by every replica and worker. Unset: SQLite and memory.
    redis_url: SecretStr | None = None
    # Seconds a worker's claim on a running job lasts without renewal: after a worker dies,
    # how long until another picks its job up (a dead worker on the same host: at once).
    job_lease_seconds: float = Field(default=30.0, ge=1.0)

    # HTTP API (`rag serve`). No-auth mode is refused on any non-loopback bind.
    api_no_auth: bool = False
    api_rate_requests: int = Field(default=120, ge=1, description="requests per minute per key")
    api_rate_tokens: int = Field(
        default=20_000, ge=1, description="generated tokens per minute per key"
    )
    api_max_body_bytes: int = Field(default=1 << 20, ge=1024)
    api_max_upload_bytes: int = Field(default=100 << 20, ge=1024)
    api_request_timeout: float = Field(default=300.0, gt=0)
    api_jwt_ttl: int = Field(default=900, ge=30, le=86_400)
    # HS256 signing secret; when unset one is generated once and kept under the data dir.
    api_jwt_secret: SecretStr | None = None
    # Who may read /metrics and the checks of /readyz (its status is always public, for
    # probes), and /docs, /redoc and /openapi.json: `open` anyone; `loopback` clients on
    # loopback, or anyone sending `Authorization: Bearer <RAG_API_OPS_TOKEN>`; `token` only
    # the latter. Metrics and readiness details describe the whole service, not one tenant,
    # so they are the operator's: a tenant's API key does not open them.
    api_ops_access: Literal["open", "loopback", "token"] = "loopback"
    api_docs_access: Literal["open", "loopback", "token"] = "open"
    api_ops_token: SecretStr | None = None
    # Failed authentications (401) allowed per client address per minute; past that the
    # address gets 429 until its allowance refills, so keys cannot be guessed at speed.
    api_auth_failures_per_minute: int = Field(default=30, ge=1)
    # One thread owns the embedder; queries that queue while it encodes are encoded together
    # in the next batch. A window makes the first query of a batch wait for more as well:
    # bench/api_load.py measured no gain from 5 ms at 32 clients and a 12% cost at 1 client.
    embed_batching: bool = True
    embed_batch_window_ms: float = Field(default=0.0, ge=0.0, le=1000.0)
    embed_max_batch: int = Field(default=64, ge=1, le=4096)
    # Threads that run the API's blocking work (search, embedding waits, SQLite). Python's
    # default, min(32, cores + 4), is 6 here: too few requests then wait in the micro-batcher
    # together for batching to pay (bench/api_load.py: 1.35x -> 2.25x dense at 32 clients).
    api_worker_threads: int = Field(default=64, ge=1, le=1024)

    @field_validator("generator_profiles")
    @classmethod
    def _keep_packaged_profile(
        cls, profiles: dict[str, GeneratorProfile]
    ) -> dict[str, GeneratorProfile]:
        # Configuring a vLLM profile should not take away the local one; naming it replaces it.
        return default_profiles() | profiles

    @property
    def scaled_out(self) -> bool:
        """Whether processes on several machines may share this deployment's state."""
        database = self.database_url.get_secret_value() if self.database_url else ""
        return self.redis_url is not None or (bool(database) and not database.startswith("sqlite"))

    @property
    def kb_root(self) -> Path:
        return self.data_dir / "kbs"

    @property
    def cache_dir(self) -> Path:
        return self.data_dir / "cache"

    @property
    def embed_cache(self) -> Path:
        return self.cache_dir if self.embed_cache_dir is None else self.embed_cache_dir

    @property
    def api_dir(self) -> Path:
        """Keys, the JWT secret, ingestion jobs and their uploads."""
        return self.data_dir / "api"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
