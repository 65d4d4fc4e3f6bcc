"""The ingestion jobs' Prometheus series, registered in the registry of whoever serves them."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge


class JobMetrics:
    """Jobs by state, and ingestion progress by stage."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        registry = registry if registry is not None else CollectorRegistry()
        self.ingested = Counter(
            "rag_ingest_items",
            "ingestion progress by stage (documents or chunks)",
            ["stage"],
            registry=registry,
        )
        self.jobs = Gauge(
            "rag_ingest_jobs", "ingestion jobs by state", ["state"], registry=registry
        )
