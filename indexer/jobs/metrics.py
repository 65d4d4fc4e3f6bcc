"""The ingestion jobs' Prometheus series, registered in the registry of whoever serves them."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping

from prometheus_client import CollectorRegistry, Counter
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from indexer.jobs.model import JOB_STATES

log = logging.getLogger("indexer.jobs")


class JobMetrics:
    """Jobs by state (read from the job store at scrape time), ingestion progress by stage.

    Jobs change state in whichever worker process runs them, so a process's own counters cannot
    say how many jobs are queued or running: the gauge asks the shared store when scraped.
    """

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        registry = registry if registry is not None else CollectorRegistry()
        self.ingested = Counter(
            "rag_ingest_items",
            "ingestion progress by stage (documents or chunks)",
            ["stage"],
            registry=registry,
        )
        self._counts: Callable[[], Mapping[str, int]] | None = None
        registry.register(_JobStates(self))

    def count_with(self, counts: Callable[[], Mapping[str, int]]) -> None:
        """Where the jobs-by-state gauge reads its numbers (the job store)."""
        self._counts = counts

    def states(self) -> Mapping[str, int]:
        if self._counts is None:
            return {}
        try:
            return self._counts()
        except Exception:  # a scrape must not fail because the database blinked
            log.warning("could not count jobs by state", exc_info=True)
            return {}


class _JobStates(Collector):
    def __init__(self, metrics: JobMetrics) -> None:
        self.metrics = metrics

    def describe(self) -> Iterator[Metric]:
        yield _family()

    def collect(self) -> Iterator[Metric]:
        family = _family()
        counts = self.metrics.states()
        for state in JOB_STATES:
            family.add_metric([state], counts.get(state, 0))
        yield family


def _family() -> GaugeMetricFamily:
    return GaugeMetricFamily("rag_ingest_jobs", "ingestion jobs by state", labels=["state"])
