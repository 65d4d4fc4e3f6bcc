"""An embedder that calls an OpenAI-compatible `/v1/embeddings` server, batched, with retries.

API replicas and workers then share GPU embedders (vLLM, Text Embeddings Inference, another
`rag serve`) instead of each loading the model. The model's tokenizer still runs here: chunking
must count the model's own tokens, and a tokenizer is small beside the model. Vectors are
L2-normalised on arrival (servers differ on whether they normalise), so they compare with the
in-process embedder's. This module owns the embeddings wire format on the client side.
"""

from __future__ import annotations

from collections.abc import Sequence

import httpx
import numpy as np
from pydantic import BaseModel, ValidationError
from tenacity import (
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential,
)

from rag.embedding.base import Tokenizer, Vectors
from rag.errors import EmbedderUnavailableError
from rag.http_retry import wait_retry_after

_TRANSIENT = frozenset({408, 409, 425, 429, 500, 502, 503, 504})


class _Item(BaseModel):
    index: int
    embedding: list[float]


class _Reply(BaseModel):
    data: list[_Item]


def _transient(exc: BaseException) -> bool:
    if isinstance(exc, httpx.HTTPStatusError):
        return exc.response.status_code in _TRANSIENT
    return isinstance(exc, httpx.TransportError)


class RemoteEmbedder:
    """`embed` posts batches of `batch_size` texts as `model`; transient failures are retried."""

    def __init__(
        self,
        client: httpx.Client,
        model: str,
        name: str,
        dim: int,
        tokenizer: Tokenizer,
        batch_size: int = 64,
        attempts: int = 5,
    ) -> None:
        if batch_size < 1 or attempts < 1:
            raise ValueError("batch_size and attempts must be at least 1")
        self.client = client
        self.model = model
        self.name = name
        self.dim = dim
        self.tokenizer = tokenizer
        self.batch_size = batch_size
        self._retrying = Retrying(
            stop=stop_after_attempt(attempts),
            wait=wait_retry_after(wait_exponential(multiplier=0.2, max=5.0), cap=30.0),
            retry=retry_if_exception(_transient),
            reraise=True,
        )

    def embed(self, texts: Sequence[str]) -> Vectors:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        parts = [
            self._batch(texts[i : i + self.batch_size])
            for i in range(0, len(texts), self.batch_size)
        ]
        out = np.concatenate(parts).astype(np.float32, copy=False)
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return np.ascontiguousarray(out / np.where(norms > 0, norms, 1.0), dtype=np.float32)

    def _batch(self, texts: Sequence[str]) -> Vectors:
        body = {"model": self.model, "input": list(texts), "encoding_format": "float"}
        try:
            response = self._retrying(self._post, body)
        except (httpx.HTTPError, ValidationError) as exc:
            raise EmbedderUnavailableError(
                f"embedding server {self.client.base_url} failed: {exc}"
            ) from exc
        items = sorted(response.data, key=lambda item: item.index)
        if [item.index for item in items] != list(range(len(texts))):
            raise EmbedderUnavailableError(
                f"embedding server {self.client.base_url} answered {len(items)} vectors "
                f"for {len(texts)} texts"
            )
        vectors = np.asarray([item.embedding for item in items], dtype=np.float32)
        if vectors.shape[1] != self.dim:
            raise EmbedderUnavailableError(
                f"embedding server {self.client.base_url} gives {vectors.shape[1]} dimensions "
                f"for {self.model!r}, expected {self.dim}: is it serving another model?"
            )
        return vectors

    def _post(self, body: dict[str, object]) -> _Reply:
        response = self.client.post("embeddings", json=body)
        response.raise_for_status()
        return _Reply.model_validate_json(response.content)


def remote_client(url: str, api_key: str | None, timeout: float = 60.0) -> httpx.Client:
    """A client for the server's OpenAI base URL (`http://host:8000/v1`)."""
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    return httpx.Client(base_url=url.rstrip("/") + "/", headers=headers, timeout=timeout)


def probe_dim(client: httpx.Client, model: str) -> int:
    """The server's vector size for `model` (one tiny request, when the embedder is built)."""
    response = client.post("embeddings", json={"model": model, "input": ["dimension probe"]})
    try:
        response.raise_for_status()
        return len(_Reply.model_validate_json(response.content).data[0].embedding)
    except (httpx.HTTPError, ValidationError, IndexError) as exc:
        raise EmbedderUnavailableError(
            f"embedding server {client.base_url} cannot embed with {model!r}: {exc}"
        ) from exc
