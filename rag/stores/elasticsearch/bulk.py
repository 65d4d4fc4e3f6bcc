"""Bulk writes: streamed in bounded requests, 429s retried with back-off, failures per document.

A bulk request succeeds or fails item by item. Instead of stopping at the first bad item, every
item is sent and the failures are returned keyed by document, so the store can finish the
documents that did go through and name the ones that did not.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from elasticsearch import Elasticsearch, helpers

Action = dict[str, Any]


@dataclass(frozen=True)
class BulkOptions:
    """How writes are cut into requests and how hard a busy cluster is retried."""

    chunk_size: int = 500  # actions per request
    max_chunk_bytes: int = 20 * 1024 * 1024  # well under the server's 100 MB request limit
    max_retries: int = 5  # per item rejected with 429 (queue full)
    initial_backoff: float = 1.0  # seconds; doubles each retry
    max_backoff: float = 30.0


def send(
    client: Elasticsearch,
    actions: Iterable[tuple[str, Action]],
    options: BulkOptions,
    **params: Any,
) -> dict[str, str]:
    """Send (doc_id, action) pairs; returns {doc_id: first error} for failed documents.

    `params` go to every bulk request (e.g. `require_alias`).
    """
    owner: dict[str, str] = {}

    def tagged() -> Iterator[Action]:
        for doc_id, action in actions:
            owner[action["_id"]] = doc_id
            yield action

    failed: dict[str, str] = {}
    for ok, item in helpers.streaming_bulk(
        client,
        tagged(),
        chunk_size=options.chunk_size,
        max_chunk_bytes=options.max_chunk_bytes,
        max_retries=options.max_retries,
        initial_backoff=options.initial_backoff,
        max_backoff=options.max_backoff,
        raise_on_error=False,
        yield_ok=False,
        **params,
    ):
        if ok:
            continue
        result = next(iter(item.values()))
        doc_id = owner.get(result.get("_id", ""), "?")
        failed.setdefault(doc_id, _reason(result))
    return failed


def _reason(result: dict[str, Any]) -> str:
    error = result.get("error")
    if isinstance(error, dict):
        return f"{error.get('type', 'error')}: {error.get('reason', '')}"
    return f"status {result.get('status')}: {error}"
