"""Dynamic micro-batching: concurrent queries share one embedder call.

Routes run blocking search code in worker threads, so each request embeds its query from its
own thread. Encoding one short query at a time wastes the model: a batch of 16 queries costs
little more than one. `MicroBatchingEmbedder` puts every `embed` call on a queue; one owner
thread takes the first request, gathers whatever else arrives within `window_ms` (up to
`max_batch` texts), encodes the lot in one inner call and hands each caller its own rows.

The owner thread is the only one that calls the inner embedder: torch gains nothing from
concurrent forward passes on a few cores, and a Hugging Face fast tokenizer is not safe to
share between threads. With `window_ms=0` nothing waits, but requests already queued while
the model was busy are still encoded together. For an "off" baseline in benchmarks use
`batched(..., enabled=False)`, which returns the inner embedder itself.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from queue import Empty, SimpleQueue

import numpy as np

from rag.embedding.base import Embedder, Tokenizer, Vectors


@dataclass(frozen=True)
class BatchStats:
    """Counters for /metrics; only successful inner calls are counted."""

    batches: int = 0  # inner embed calls
    requests: int = 0  # embed() calls served by them
    texts: int = 0  # texts encoded, after removing duplicates within a batch
    largest_batch: int = 0  # most texts encoded in one inner call


@dataclass
class _Request:
    texts: list[str]
    arrived: float  # time.monotonic() when queued; the batching window starts here
    future: Future[Vectors]


_STOP = object()  # queued by close(): the owner thread finishes what came before and exits


class MicroBatchingEmbedder:
    """An Embedder whose concurrent calls within `window_ms` share one inner embed call."""

    def __init__(self, inner: Embedder, window_ms: float = 5.0, max_batch: int = 64) -> None:
        if window_ms < 0:
            raise ValueError(f"window_ms must be >= 0, got {window_ms}")
        if max_batch < 1:
            raise ValueError(f"max_batch must be >= 1, got {max_batch}")
        self.inner = inner
        self.name: str = inner.name
        self.dim: int = inner.dim
        self.tokenizer: Tokenizer = inner.tokenizer
        self.window_s = window_ms / 1000.0
        self.max_batch = max_batch
        self._queue: SimpleQueue[_Request | object] = SimpleQueue()
        # Guards `_closed` together with enqueueing, so nothing can be queued behind _STOP.
        self._state_lock = threading.Lock()
        self._closed = False
        # Inline calls after close() may overlap the owner's last batch; they take turns.
        self._inner_lock = threading.Lock()
        self._stats_lock = threading.Lock()
        self._stats = BatchStats()
        self._worker = threading.Thread(target=self._run, name="embed-batcher", daemon=True)
        self._worker.start()

    @property
    def stats(self) -> BatchStats:
        """Batches run, requests served, texts encoded and the largest batch so far."""
        with self._stats_lock:
            return self._stats

    def embed(self, texts: Sequence[str]) -> Vectors:
        """One row per text, encoded together with whatever other calls arrive meanwhile."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        request = _Request(list(texts), time.monotonic(), Future())
        with self._state_lock:
            closed = self._closed
            if not closed:
                self._queue.put(request)
        if closed:
            return self._encode([request])[0]
        return request.future.result()

    def close(self) -> None:
        """Serve what is queued, then stop the owner thread; later calls run inline."""
        with self._state_lock:
            if self._closed:
                return
            self._closed = True
            self._queue.put(_STOP)
        if threading.current_thread() is not self._worker:
            self._worker.join()

    def _run(self) -> None:
        carried: _Request | None = None
        try:
            while True:
                first = carried if carried is not None else self._queue.get()
                if not isinstance(first, _Request):
                    return
                batch, carried, stop = self._gather(first)
                self._serve(batch)
                if stop:
                    return
        finally:
            self._shut_down(carried)

    def _gather(self, first: _Request) -> tuple[list[_Request], _Request | None, bool]:
        """The batch led by `first`, a request held over for the next one, and whether to stop."""
        batch, size = [first], len(first.texts)
        deadline = first.arrived + self.window_s
        while size < self.max_batch:
            wait = deadline - time.monotonic()
            try:
                # Past the deadline still drain what is queued already: that costs no waiting.
                item = self._queue.get(timeout=wait) if wait > 0 else self._queue.get_nowait()
            except Empty:
                break
            if not isinstance(item, _Request):
                return batch, None, True
            if size + len(item.texts) > self.max_batch:
                # Too big to join: it leads the next batch (and runs alone if >= max_batch).
                return batch, item, False
            batch.append(item)
            size += len(item.texts)
        return batch, None, False

    def _serve(self, batch: list[_Request]) -> None:
        """Encode one batch and resolve its futures; a failure reaches every caller in it."""
        try:
            results = self._encode(batch)
        except BaseException as exc:
            for request in batch:
                request.future.set_exception(exc)
            if not isinstance(exc, Exception):
                raise  # KeyboardInterrupt and kin end the thread; _shut_down fails the rest
            return
        for request, rows in zip(batch, results, strict=True):
            request.future.set_result(rows)

    def _encode(self, batch: list[_Request]) -> list[Vectors]:
        """One inner call for all texts of `batch`, each distinct text once; rows per request."""
        # Under load many users ask the same question; each distinct text is encoded once.
        slot: dict[str, int] = {}
        rows = [[slot.setdefault(t, len(slot)) for t in r.texts] for r in batch]
        with self._inner_lock:
            vectors = self.inner.embed(list(slot))
        if vectors.shape != (len(slot), self.dim):
            raise ValueError(
                f"embedder {self.name!r} returned shape {vectors.shape} "
                f"for {len(slot)} texts of dimension {self.dim}"
            )
        # Fancy indexing copies, so no caller shares memory with another.
        out = [vectors[np.asarray(r, dtype=np.intp)] for r in rows]
        with self._stats_lock:
            s = self._stats
            self._stats = BatchStats(
                s.batches + 1,
                s.requests + len(batch),
                s.texts + len(slot),
                max(s.largest_batch, len(slot)),
            )
        return out

    def _shut_down(self, carried: _Request | None) -> None:
        """Mark the batcher closed and fail anything still queued, so no caller waits forever."""
        with self._state_lock:
            self._closed = True
        pending: list[_Request | object] = [carried] if carried is not None else []
        while True:
            try:
                pending.append(self._queue.get_nowait())
            except Empty:
                break
        for item in pending:
            if isinstance(item, _Request):
                item.future.set_exception(RuntimeError("the embedding batcher stopped"))


def batched(inner: Embedder, window_ms: float, max_batch: int, enabled: bool) -> Embedder:
    """`inner` behind a micro-batcher, or `inner` itself when batching is off."""
    if not enabled:
        return inner
    return MicroBatchingEmbedder(inner, window_ms, max_batch)
