"""`RagClient`: the blocking client of the native API (see `api.client` for an example)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from types import TracebackType
from typing import Any, TypeVar

import httpx
from httpx_sse import EventSource, SSEError

from api.client import _base as base
from api.client._base import DEFAULT_BASE_URL, Call, Calls, Upload
from api.client._retry import RetryPolicy
from api.client.types import KB, Answer, Document, DocumentPage, Hit, Job, StreamEvent, Token
from api.schemas import HealthOut, ReadyOut

T = TypeVar("T")


class RagClient:
    """Blocking client; retries 429, 5xx and transport errors (see `api.client._retry`)."""

    def __init__(
        self,
        base_url: str = DEFAULT_BASE_URL,
        api_key: str | None = None,
        *,
        timeout: float = 300,
        max_retries: int = 3,
        backoff: float = 0.5,
        max_backoff: float = 30,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], object] = time.sleep,
    ) -> None:
        self._policy = RetryPolicy(max_retries, backoff, max_backoff)
        self._key = base.api_key(api_key)
        self._sleep = sleep
        self._http = httpx.Client(transport=transport, **base.http_options(base_url, timeout))

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def __enter__(self) -> RagClient:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # Knowledge bases

    def list_kbs(self) -> list[KB]:
        return self._run(Calls.list_kbs())

    def create_kb(self, name: str, **options: Any) -> KB:
        """Create a KB; options: engine, index, chunk_tokens, chunk_overlap, domain."""
        return self._run(Calls.create_kb(name, options))

    def get_kb(self, kb: str) -> KB:
        return self._run(Calls.get_kb(kb))

    def delete_kb(self, kb: str) -> None:
        self._run(Calls.delete_kb(kb))

    # Documents

    def upload_files(self, kb: str, files: Sequence[Upload]) -> Job:
        """Start an ingestion job for files (paths, or (filename, bytes) pairs)."""
        return self._run(Calls.upload_files(kb, files))

    def add_records(self, kb: str, records: Sequence[Mapping[str, Any]]) -> Job:
        """Start an ingestion job for records `{"id", "text", "title"?, "metadata"?}`."""
        return self._run(Calls.add_records(kb, records))

    def list_documents(self, kb: str, offset: int = 0, limit: int = 100) -> DocumentPage:
        return self._run(Calls.list_documents(kb, offset, limit))

    def iter_documents(self, kb: str, page_size: int = 100) -> Iterator[Document]:
        """Every document of the KB, one page request at a time."""
        offset = 0
        while True:
            page = self.list_documents(kb, offset, page_size)
            yield from page.data
            offset += len(page.data)
            if not page.data or offset >= page.total:
                return

    def get_document(self, kb: str, doc_id: str) -> Document:
        return self._run(Calls.get_document(kb, doc_id))

    def delete_document(self, kb: str, doc_id: str) -> None:
        self._run(Calls.delete_document(kb, doc_id))

    def delete_where(self, kb: str, where: Mapping[str, Any]) -> int:
        """Delete the documents whose metadata matches `where`; returns how many."""
        return self._run(Calls.delete_where(kb, where))

    # Jobs

    def get_job(self, job_id: str) -> Job:
        return self._run(Calls.get_job(job_id))

    def list_jobs(self, kb: str) -> list[Job]:
        return self._run(Calls.list_jobs(kb))

    def cancel_job(self, job_id: str) -> Job:
        return self._run(Calls.cancel_job(job_id))

    def wait_for_job(self, job_id: str, poll: float = 1.0, timeout: float | None = None) -> Job:
        """Poll until the job is final and return it; JobTimeoutError after `timeout` s."""
        started = time.monotonic()
        while True:
            job = self.get_job(job_id)
            if job.done:
                return job
            self._sleep(base.poll_delay(job, started, poll, timeout))

    # Retrieval and answers

    def search(
        self,
        kb: str,
        query: str,
        mode: str = "hybrid",
        k: int = 10,
        filters: Mapping[str, Any] | None = None,
    ) -> list[Hit]:
        return self._run(Calls.search(kb, query, mode, k, filters))

    def answer(
        self,
        kb: str,
        question: str,
        schema: Mapping[str, Any] | None = None,
        filters: Mapping[str, Any] | None = None,
        mode: str | None = None,
        k: int | None = None,
        profile: str | None = None,
        max_tokens: int | None = None,
    ) -> Answer:
        """A grounded answer; None options take the KB's or the service's defaults."""
        options = dict(schema=schema, filters=filters, mode=mode, k=k, profile=profile)
        return self._run(Calls.answer(kb, question, False, max_tokens=max_tokens, **options))

    def stream_answer(
        self,
        kb: str,
        question: str,
        schema: Mapping[str, Any] | None = None,
        filters: Mapping[str, Any] | None = None,
        mode: str | None = None,
        k: int | None = None,
        profile: str | None = None,
        max_tokens: int | None = None,
    ) -> Iterator[StreamEvent]:
        """Passages, then text deltas, then the answer; an `error` event raises its error."""
        options = dict(schema=schema, filters=filters, mode=mode, k=k, profile=profile)
        call = Calls.answer(kb, question, True, max_tokens=max_tokens, **options)
        response = self._send(call, stream=True)
        reader = base.EventReader()
        try:
            for sse in EventSource(response).iter_sse():
                event = reader.read(sse)
                if event is not None:
                    yield event
        except SSEError as exc:
            raise base.not_a_stream(response, exc) from None
        finally:
            response.close()
        reader.end()

    def embeddings(self, model: str, input: str | Sequence[str]) -> list[list[float]]:
        """Vectors of `input` (one per string) from `kb:<name>` or an embedder name."""
        return self._run(Calls.embeddings(model, input))

    # Auth and operations

    def token(self, client_id: str, client_secret: str, scope: str | None = None) -> Token:
        """A short-lived access token (OAuth2 client credentials)."""
        return self._run(Calls.token(client_id, client_secret, scope))

    def healthz(self) -> HealthOut:
        """Liveness (never retried)."""
        return self._run(Calls.probe("/healthz", HealthOut))

    def readyz(self) -> ReadyOut:
        """Readiness; not ready (503) raises ServerError, its `.body` the checks."""
        return self._run(Calls.probe("/readyz", ReadyOut))

    # Sending

    def _run(self, call: Call[T]) -> T:
        return base.read(call, self._send(call))

    def _send(self, call: Call[Any], *, stream: bool = False) -> httpx.Response:
        """The first successful response, retrying per the policy; raises the mapped error.

        A stream is retried only before its body starts: once returned, it is the caller's.
        """
        retrying = self._policy.retrying(replay=call.replay, retry=call.retry, sleep=self._pause)
        return retrying(self._try, call, stream)

    def _try(self, call: Call[Any], stream: bool) -> httpx.Response:
        request = base.build_request(self._http, call, self._key)
        response = self._http.send(request, stream=stream)
        if not response.is_success:
            response.read()
            response.close()
            raise base.failure(response)
        return response

    def _pause(self, seconds: float) -> None:
        self._sleep(seconds)
