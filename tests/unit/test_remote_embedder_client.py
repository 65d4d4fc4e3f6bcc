"""The remote embedder's client side on httpx.MockTransport: batches, retries, normalisation,
and clear errors for what a server may get wrong. The real-server test is in
tests/integration/test_remote_embedder.py (a real rag serve)."""

from __future__ import annotations

import json

import httpx
import numpy as np
import pytest

from rag.embedding.fake import WordTokenizer
from rag.embedding.remote import RemoteEmbedder, probe_dim
from rag.errors import EmbedderUnavailableError


def server(handler_calls: list[list[str]], fail_first: int = 0, status: int = 503):  # type: ignore[no-untyped-def]
    """A fake server: vector i of a batch is [len(text), 1, 0] (not normalised)."""
    failures = [fail_first]

    def handle(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        if failures[0] > 0:
            failures[0] -= 1
            return httpx.Response(status, headers={"Retry-After": "0"}, json={"error": "busy"})
        handler_calls.append(body["input"])
        data = [
            {"index": i, "embedding": [float(len(t)), 1.0, 0.0]}
            for i, t in enumerate(body["input"])
        ][::-1]  # out of order: the client sorts by index
        return httpx.Response(200, json={"object": "list", "data": data, "model": body["model"]})

    return httpx.MockTransport(handle)


def embedder(transport: httpx.MockTransport, batch_size: int = 2, dim: int = 3) -> RemoteEmbedder:
    client = httpx.Client(transport=transport, base_url="http://embed.test/v1/")
    return RemoteEmbedder(client, "m", "m", dim, WordTokenizer(), batch_size, attempts=3)


def test_batches_in_order_and_normalised() -> None:
    calls: list[list[str]] = []
    vectors = embedder(server(calls)).embed(["a", "bb", "ccc", "dddd", "eeeee"])
    assert calls == [["a", "bb"], ["ccc", "dddd"], ["eeeee"]]
    assert vectors.shape == (5, 3) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0)
    expected = np.array([[n, 1.0, 0.0] for n in range(1, 6)])
    expected /= np.linalg.norm(expected, axis=1, keepdims=True)
    assert np.allclose(vectors, expected)
    assert embedder(server(calls)).embed([]).shape == (0, 3)


def test_transient_failures_are_retried() -> None:
    calls: list[list[str]] = []
    vectors = embedder(server(calls, fail_first=2)).embed(["a"])
    assert calls == [["a"]] and vectors.shape == (1, 3)


@pytest.mark.parametrize(("fail_first", "status"), [(5, 503), (1, 400)])
def test_lasting_or_client_errors_are_reported(fail_first: int, status: int) -> None:
    calls: list[list[str]] = []
    with pytest.raises(EmbedderUnavailableError, match=rf"embed\.test.*{status}"):
        embedder(server(calls, fail_first=fail_first, status=status)).embed(["a"])
    assert calls == []


def test_a_server_of_another_model_is_refused() -> None:
    with pytest.raises(EmbedderUnavailableError, match=r"gives 3 dimensions.*expected 384"):
        embedder(server([]), dim=384).embed(["a"])


def test_probe_reads_the_dimension() -> None:
    client = httpx.Client(transport=server([]), base_url="http://embed.test/v1/")
    assert probe_dim(client, "m") == 3
    broken = httpx.Client(
        transport=httpx.MockTransport(lambda r: httpx.Response(404, json={})),
        base_url="http://embed.test/v1/",
    )
    with pytest.raises(EmbedderUnavailableError, match="cannot embed with 'm'"):
        probe_dim(broken, "m")
