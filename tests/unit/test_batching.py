"""Micro-batching of embed calls: coalescing, row mapping, errors, large requests, close."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import partial

import numpy as np
import pytest

from rag.embedding.base import Embedder, Tokenizer, Vectors
from rag.embedding.batching import BatchStats, MicroBatchingEmbedder, batched
from rag.embedding.fake import HashingEmbedder, WordTokenizer

DIM = 512
WAIT = 10.0  # seconds; only reached when something hangs


def text(i: int) -> str:
    return f"t{i}"


def one_hot(texts: Sequence[str]) -> Vectors:
    """Row i is the unit vector of the number in texts[i]: a row names the text it came from."""
    out = np.zeros((len(texts), DIM), dtype=np.float32)
    out[np.arange(len(texts)), [int(t[1:]) for t in texts]] = 1.0
    return out


class OneHotEmbedder:
    """Records every call, notes overlapping calls, can hold a call open or fail on a text."""

    name = "one-hot"
    dim = DIM

    def __init__(self, delay: float = 0.0, fail_on: str | None = None) -> None:
        self.tokenizer: Tokenizer = WordTokenizer()
        self.delay = delay
        self.fail_on = fail_on
        self.calls: list[list[str]] = []
        self.active = 0
        self.max_active = 0
        self.entered = threading.Event()  # set once a call is inside embed
        self.gate = threading.Event()  # calls wait here; cleared by hold()
        self.gate.set()
        self._lock = threading.Lock()

    def hold(self) -> None:
        self.gate.clear()

    def embed(self, texts: Sequence[str]) -> Vectors:
        with self._lock:
            self.calls.append(list(texts))
            self.active += 1
            self.max_active = max(self.max_active, self.active)
        try:
            self.entered.set()
            assert self.gate.wait(WAIT)
            time.sleep(self.delay)
            if self.fail_on is not None and self.fail_on in texts:
                raise RuntimeError(f"cannot embed {self.fail_on}")
            return one_hot(texts)
        finally:
            with self._lock:
                self.active -= 1


@pytest.fixture
def close_after() -> Iterator[Callable[[MicroBatchingEmbedder], MicroBatchingEmbedder]]:
    made: list[MicroBatchingEmbedder] = []

    def track(batcher: MicroBatchingEmbedder) -> MicroBatchingEmbedder:
        made.append(batcher)
        return batcher

    yield track
    for b in made:
        b.close()


def in_thread(call: Callable[[], Vectors]) -> tuple[threading.Thread, list[Vectors | Exception]]:
    """Run `call` in a thread; its result or exception lands in the returned list."""
    box: list[Vectors | Exception] = []

    def run() -> None:
        try:
            box.append(call())
        except Exception as exc:
            box.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    return thread, box


def queued_behind_held_call(
    batcher: MicroBatchingEmbedder, inner: OneHotEmbedder, requests: list[list[str]]
) -> list[list[Vectors | Exception]]:
    """Queue `requests` while the owner thread is stuck in a call, release it, gather results.

    Whatever queued during a call is taken together afterwards, so this makes batches
    deterministic without relying on the window's timing.
    """
    inner.hold()
    gate_thread, _ = in_thread(lambda: batcher.embed(["t0"]))
    assert inner.entered.wait(WAIT)
    started = []
    for texts in requests:
        started.append(in_thread(partial(batcher.embed, texts)))
        # One at a time, so the queue order (and thus the batches) is the list order.
        deadline = time.monotonic() + WAIT
        while batcher._queue.qsize() < len(started):
            assert time.monotonic() < deadline, "request never reached the queue"
            time.sleep(0.001)
    inner.gate.set()
    for thread, _ in [(gate_thread, None), *started]:
        thread.join(WAIT)
        assert not thread.is_alive()
    return [box for _, box in started]


def test_concurrent_callers_share_inner_calls(
    close_after: Callable[..., MicroBatchingEmbedder],
) -> None:
    inner = OneHotEmbedder(delay=0.002)
    batcher = close_after(MicroBatchingEmbedder(inner, window_ms=50, max_batch=8))
    barrier = threading.Barrier(32)

    def ask(i: int) -> Vectors:
        barrier.wait()
        return batcher.embed([text(i)])

    with ThreadPoolExecutor(32) as pool:
        results = list(pool.map(ask, range(32)))

    for i, rows in enumerate(results):
        np.testing.assert_array_equal(rows, one_hot([text(i)]))
    assert sorted(t for call in inner.calls for t in call) == sorted(map(text, range(32)))
    assert all(len(call) <= 8 for call in inner.calls)
    assert len(inner.calls) <= 8  # 4 full batches when timing is ideal; 32 without batching
    assert inner.max_active == 1


def test_the_window_waits_for_company_on_an_idle_embedder(
    close_after: Callable[..., MicroBatchingEmbedder],
) -> None:
    inner = OneHotEmbedder()
    batcher = close_after(MicroBatchingEmbedder(inner, window_ms=300, max_batch=8))
    first, _ = in_thread(lambda: batcher.embed(["t1"]))
    time.sleep(0.03)  # well inside the window, long after the first request was queued
    second, second_box = in_thread(lambda: batcher.embed(["t2"]))
    for thread in (first, second):
        thread.join(WAIT)
    assert inner.calls == [["t1", "t2"]]
    np.testing.assert_array_equal(second_box[0], one_hot(["t2"]))


def test_each_caller_gets_the_rows_of_its_own_texts(
    close_after: Callable[..., MicroBatchingEmbedder],
) -> None:
    inner = OneHotEmbedder(delay=0.001)
    batcher = close_after(MicroBatchingEmbedder(inner, window_ms=2, max_batch=16))
    rng = random.Random(3)
    # Texts from a small pool, so batches are full of duplicates across and within callers.
    requests = [[text(rng.randrange(40)) for _ in range(rng.randint(1, 20))] for _ in range(400)]

    with ThreadPoolExecutor(48) as pool:
        results = list(pool.map(batcher.embed, requests))

    for texts, rows in zip(requests, results, strict=True):
        assert rows.dtype == np.float32
        np.testing.assert_array_equal(rows, one_hot(texts))
    assert inner.max_active == 1
    assert len(inner.calls) < len(requests)
    assert all(len(set(call)) == len(call) for call in inner.calls)  # duplicates encoded once


def test_results_do_not_share_memory(close_after: Callable[..., MicroBatchingEmbedder]) -> None:
    inner = OneHotEmbedder()
    batcher = close_after(MicroBatchingEmbedder(inner, window_ms=0))
    a, b = queued_behind_held_call(batcher, inner, [["t1"], ["t1"]])
    assert isinstance(a[0], np.ndarray) and isinstance(b[0], np.ndarray)
    a[0][0, 0] = 7.0
    np.testing.assert_array_equal(b[0], one_hot(["t1"]))


def test_duplicates_within_one_call_are_encoded_once(
    close_after: Callable[..., MicroBatchingEmbedder],
) -> None:
    inner = OneHotEmbedder()
    batcher = close_after(MicroBatchingEmbedder(inner))
    rows = batcher.embed(["t5", "t6", "t5", "t5"])
    assert inner.calls == [["t5", "t6"]]
    np.testing.assert_array_equal(rows, one_hot(["t5", "t6", "t5", "t5"]))


def test_queued_requests_form_batches_of_at_most_max_batch(
    close_after: Callable[..., MicroBatchingEmbedder],
) -> None:
    inner = OneHotEmbedder()
    batcher = close_after(MicroBatchingEmbedder(inner, window_ms=0, max_batch=4))
    boxes = queued_behind_held_call(batcher, inner, [[text(i)] for i in range(1, 11)])

    assert inner.calls == [
        ["t0"],
        ["t1", "t2", "t3", "t4"],
        ["t5", "t6", "t7", "t8"],
        ["t9", "t10"],
    ]
    for i, box in enumerate(boxes, start=1):
        np.testing.assert_array_equal(box[0], one_hot([text(i)]))


def test_a_request_of_max_batch_or_more_runs_alone(
    close_after: Callable[..., MicroBatchingEmbedder],
) -> None:
    inner = OneHotEmbedder()
    batcher = close_after(MicroBatchingEmbedder(inner, window_ms=0, max_batch=4))
    big = [text(i) for i in range(100, 110)]
    boxes = queued_behind_held_call(batcher, inner, [["t1"], big, ["t2"], ["t3"]])

    # The big request does not fit behind t1, so it leads its own batch and is not split.
    assert inner.calls == [["t0"], ["t1"], big, ["t2", "t3"]]
    np.testing.assert_array_equal(boxes[1][0], one_hot(big))


def test_an_ingestion_sized_request_passes_straight_through(
    close_after: Callable[..., MicroBatchingEmbedder],
) -> None:
    inner = OneHotEmbedder()
    batcher = close_after(MicroBatchingEmbedder(inner, window_ms=1000, max_batch=64))
    texts = [text(i) for i in range(DIM)]
    t0 = time.monotonic()
    rows = batcher.embed(texts)
    assert time.monotonic() - t0 < 0.5  # no waiting for company: it is a full batch already
    assert inner.calls == [texts]
    np.testing.assert_array_equal(rows, one_hot(texts))


def test_an_inner_error_reaches_every_caller_of_the_batch(
    close_after: Callable[..., MicroBatchingEmbedder],
) -> None:
    inner = OneHotEmbedder(fail_on="t2")
    batcher = close_after(MicroBatchingEmbedder(inner, window_ms=0))
    boxes = queued_behind_held_call(batcher, inner, [["t1"], ["t2"], ["t3", "t4"]])

    assert inner.calls[1] == ["t1", "t2", "t3", "t4"]
    for box in boxes:
        assert isinstance(box[0], RuntimeError)
        assert "cannot embed t2" in str(box[0])
    # The owner thread survives the failure.
    np.testing.assert_array_equal(batcher.embed(["t9"]), one_hot(["t9"]))


def test_a_wrong_shape_from_the_inner_embedder_is_an_error() -> None:
    class Short(OneHotEmbedder):
        def embed(self, texts: Sequence[str]) -> Vectors:
            return one_hot(texts)[:-1]

    batcher = MicroBatchingEmbedder(Short())
    try:
        with pytest.raises(ValueError, match="returned shape"):
            batcher.embed(["t1", "t2"])
    finally:
        batcher.close()


def test_empty_input_gives_empty_rows_without_a_call(
    close_after: Callable[..., MicroBatchingEmbedder],
) -> None:
    inner = OneHotEmbedder()
    batcher = close_after(MicroBatchingEmbedder(inner))
    rows = batcher.embed([])
    assert rows.shape == (0, DIM) and rows.dtype == np.float32
    assert inner.calls == []
    assert batcher.stats == BatchStats()


def test_close_serves_queued_requests_then_embeds_inline() -> None:
    inner = OneHotEmbedder()
    batcher = MicroBatchingEmbedder(inner, window_ms=0)
    inner.hold()
    first, first_box = in_thread(lambda: batcher.embed(["t1"]))
    assert inner.entered.wait(WAIT)
    queued, queued_box = in_thread(lambda: batcher.embed(["t2"]))
    while batcher._queue.qsize() < 1:
        time.sleep(0.001)
    closer = threading.Thread(target=batcher.close)
    closer.start()
    inner.gate.set()
    for thread in (first, queued, closer):
        thread.join(WAIT)
        assert not thread.is_alive()
    np.testing.assert_array_equal(first_box[0], one_hot(["t1"]))
    np.testing.assert_array_equal(queued_box[0], one_hot(["t2"]))
    assert not batcher._worker.is_alive()

    batcher.close()  # a second close is harmless
    np.testing.assert_array_equal(batcher.embed(["t3", "t3"]), one_hot(["t3", "t3"]))
    assert inner.calls[-1] == ["t3"]


def test_stats_count_batches_requests_and_texts(
    close_after: Callable[..., MicroBatchingEmbedder],
) -> None:
    inner = OneHotEmbedder()
    batcher = close_after(MicroBatchingEmbedder(inner, window_ms=0, max_batch=8))
    queued_behind_held_call(batcher, inner, [["t1", "t2"], ["t2", "t3"], ["t4"]])

    # [t0] alone, then one batch of 3 requests holding 4 distinct texts.
    assert batcher.stats == BatchStats(batches=2, requests=4, texts=5, largest_batch=4)


def test_failed_batches_are_not_counted(close_after: Callable[..., MicroBatchingEmbedder]) -> None:
    batcher = close_after(MicroBatchingEmbedder(OneHotEmbedder(fail_on="t1")))
    with pytest.raises(RuntimeError):
        batcher.embed(["t1"])
    assert batcher.stats == BatchStats()


def test_the_batcher_is_an_embedder_with_the_inner_identity(
    close_after: Callable[..., MicroBatchingEmbedder],
) -> None:
    inner = HashingEmbedder(dim=32)
    wrapped: Embedder = close_after(MicroBatchingEmbedder(inner))
    assert (wrapped.name, wrapped.dim, wrapped.tokenizer) == (inner.name, 32, inner.tokenizer)
    texts = ["Hybrid search fuses BM25 and dense", "grounded answers cite passages"]
    np.testing.assert_array_equal(wrapped.embed(texts), inner.embed(texts))


def test_batched_returns_the_inner_embedder_when_off() -> None:
    inner = HashingEmbedder()
    assert batched(inner, window_ms=5, max_batch=64, enabled=False) is inner
    on = batched(inner, window_ms=5, max_batch=64, enabled=True)
    assert isinstance(on, MicroBatchingEmbedder)
    assert (on.window_s, on.max_batch) == (0.005, 64)
    on.close()


@pytest.mark.parametrize(("window_ms", "max_batch"), [(-1.0, 8), (5.0, 0)])
def test_bad_settings_are_rejected(window_ms: float, max_batch: int) -> None:
    with pytest.raises(ValueError):
        MicroBatchingEmbedder(HashingEmbedder(), window_ms, max_batch)
