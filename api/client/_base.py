"""What the sync and async clients share: each endpoint as a `Call`; answers read into values.

A `Call` says everything about one request but performs none of it, so the two clients differ
only in how they send (blocking or awaited) and how they sleep between retries.
"""

from __future__ import annotations

import json
import mimetypes
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar
from urllib.parse import quote

import httpx

from api.client import errors
from api.client._retry import RetryPolicy
from api.client.sse import SSEDecoder
from api.client.types import (
    KB,
    Answer,
    AnswerEvent,
    DeltaEvent,
    Document,
    DocumentPage,
    Hit,
    Job,
    PassagesEvent,
    StreamEvent,
    Token,
)

T = TypeVar("T")
DEFAULT_BASE_URL = "http://127.0.0.1:8000"
API_KEY_ENV = "RAG_API_KEY"
USER_AGENT = "rag-service-client/0.1"
CONNECT_TIMEOUT = 10.0
# A file to upload: a path, or a name and its bytes.
Upload = str | os.PathLike[str] | tuple[str, bytes]


@dataclass(frozen=True)
class Call(Generic[T]):
    """One request and how to read its JSON answer.

    `replay`: whether sending it again after the server may have acted gives the same result
    (see `_retry`). `retry` False: never retried (health probes report the moment).
    """

    method: str
    path: str
    parse: Callable[[Any], T]
    json: Any = None
    params: Mapping[str, Any] | None = None
    files: Sequence[tuple[str, tuple[str, bytes, str]]] | None = None
    data: Mapping[str, str] | None = None
    replay: bool = True
    retry: bool = True
    auth: bool = True


def base_url(url: str) -> str:
    """The service root: `/v1` is added per call, so a URL that already ends with it drops it."""
    url = url.rstrip("/")
    return url.removesuffix("/v1")


def api_key(key: str | None) -> str | None:
    """The key given, else RAG_API_KEY (None: no Authorization header)."""
    return key if key is not None else os.environ.get(API_KEY_ENV) or None


def http_options(url: str, timeout: float) -> dict[str, Any]:
    """Keyword arguments of the httpx client (sync or async)."""
    return {
        "base_url": base_url(url),
        # A refused or unroutable host should fail (and be retried) fast, whatever the read wait.
        "timeout": httpx.Timeout(timeout, connect=min(timeout, CONNECT_TIMEOUT)),
        "headers": {"User-Agent": USER_AGENT},
    }


def build_request(
    http: httpx.Client | httpx.AsyncClient, call: Call[Any], key: str | None
) -> httpx.Request:
    """A fresh request for one try (multipart bodies are rebuilt, never re-read)."""
    headers = {"Authorization": f"Bearer {key}"} if key and call.auth else {}
    return http.build_request(
        call.method,
        call.path,
        params=call.params,
        json=call.json,
        files=call.files,
        data=call.data,
        headers=headers,
    )


def retry_wait(
    policy: RetryPolicy,
    call: Call[Any],
    attempt: int,
    outcome: httpx.Response | httpx.TransportError,
) -> float | None:
    """Seconds to wait before trying `call` again after `outcome`; None: give up."""
    if not call.retry:
        return None
    if isinstance(outcome, httpx.Response):
        status, headers = outcome.status_code, outcome.headers
        return policy.after_response(attempt, status, headers, replay=call.replay)
    return policy.after_error(attempt, outcome, replay=call.replay)


def poll_delay(job: Job, started: float, poll: float, timeout: float | None) -> float:
    """Seconds to wait before polling `job` again; raises JobTimeoutError past the timeout."""
    if timeout is None:
        return poll
    waited = time.monotonic() - started
    if waited >= timeout:
        raise errors.JobTimeoutError(job, waited)
    return min(poll, timeout - waited)


def decode(response: httpx.Response) -> Any:
    """The JSON body of a successful response (None when it has none, as a 204)."""
    if response.status_code == 204 or not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        text = response.text[:200]
        raise errors.RagAPIError(response.status_code, f"response is not JSON: {text!r}") from None


def failure(response: httpx.Response) -> errors.RagAPIError:
    """The exception of an error response (its body already read)."""
    return errors.from_response(
        response.status_code, response.content, response.headers, response.reason_phrase
    )


def stream_event(name: str, data: str) -> StreamEvent | None:
    """The typed event of one SSE event; raises the mapped error of an `error` event."""
    if name not in ("passages", "delta", "answer", "error"):
        return None  # an event this client does not know yet
    try:
        payload = json.loads(data)
    except ValueError:
        raise errors.RagAPIError(200, f"malformed {name} event: {data[:200]!r}") from None
    if name == "error":
        raise errors.from_event(payload)
    if name == "passages":
        return PassagesEvent(tuple(payload.get("passages") or ()))
    if name == "delta":
        return DeltaEvent(str(payload.get("text", "")))
    return AnswerEvent(Answer.from_json(payload))


class EventReader:
    """Typed events of an answer stream, chunk by chunk; the stream must end with the answer."""

    def __init__(self) -> None:
        self._decoder = SSEDecoder()
        self._answered = False

    def feed(self, chunk: bytes) -> Iterator[StreamEvent]:
        """The events `chunk` completes (a generator: those before an error still arrive)."""
        yield from self._typed(self._decoder.feed(chunk))

    def close(self) -> Iterator[StreamEvent]:
        """The last events; raises when the stream was cut before the answer event."""
        yield from self._typed(self._decoder.close())
        if not self._answered:
            raise errors.RagAPIError(
                200, "the stream ended before the answer event", "stream_error", "truncated"
            )

    def _typed(self, raw: Iterator[tuple[str, str]]) -> Iterator[StreamEvent]:
        for name, data in raw:
            event = stream_event(name, data)
            if event is not None:
                self._answered = self._answered or isinstance(event, AnswerEvent)
                yield event


def _seg(value: str) -> str:
    # Document ids may hold slashes (they are often file paths): one path segment each.
    return quote(value, safe="")


def _none(_: Any) -> None:
    return None


def _kbs(body: Any) -> list[KB]:
    return [KB.from_json(x) for x in body["data"]]


def _jobs(body: Any) -> list[Job]:
    return [Job.from_json(x) for x in body["data"]]


def _hits(body: Any) -> list[Hit]:
    return [Hit.from_json(x) for x in body["data"]]


def _vectors(body: Any) -> list[list[float]]:
    rows = sorted(body["data"], key=lambda row: row.get("index", 0))
    return [[float(v) for v in row["embedding"]] for row in rows]


def _deleted(body: Any) -> int:
    return int(body["deleted"])


def _json(body: Any) -> dict[str, Any]:
    return body if isinstance(body, dict) else {"body": body}


def _some(**fields: Any) -> dict[str, Any]:
    """The fields that were given: None means the server's default."""
    return {name: value for name, value in fields.items() if value is not None}


def _upload(item: Upload) -> tuple[str, tuple[str, bytes, str]]:
    if isinstance(item, tuple):
        name, content = item
    else:
        path = Path(item)
        name, content = path.name, path.read_bytes()
    kind = mimetypes.guess_type(name)[0] or "application/octet-stream"
    return "files", (name, content, kind)


class Calls:
    """The native API, one builder per endpoint (see docs/api.md)."""

    @staticmethod
    def list_kbs() -> Call[list[KB]]:
        return Call("GET", "/v1/kbs", _kbs)

    @staticmethod
    def create_kb(name: str, options: Mapping[str, Any]) -> Call[KB]:
        return Call("POST", "/v1/kbs", KB.from_json, json={"name": name, **options}, replay=False)

    @staticmethod
    def get_kb(kb: str) -> Call[KB]:
        return Call("GET", f"/v1/kbs/{_seg(kb)}", KB.from_json)

    @staticmethod
    def delete_kb(kb: str) -> Call[None]:
        return Call("DELETE", f"/v1/kbs/{_seg(kb)}", _none, replay=False)

    @staticmethod
    def upload_files(kb: str, files: Sequence[Upload]) -> Call[Job]:
        one_pair = isinstance(files, tuple) and len(files) == 2 and isinstance(files[1], bytes)
        if isinstance(files, str | os.PathLike) or one_pair or not files:
            raise ValueError("upload_files takes a non-empty list of paths or (name, bytes) pairs")
        parts = [_upload(item) for item in files]
        return Call("POST", f"/v1/kbs/{_seg(kb)}/documents", Job.from_json, files=parts)

    @staticmethod
    def add_records(kb: str, records: Sequence[Mapping[str, Any]]) -> Call[Job]:
        body = {"documents": [dict(r) for r in records]}
        return Call("POST", f"/v1/kbs/{_seg(kb)}/documents", Job.from_json, json=body)

    @staticmethod
    def list_documents(kb: str, offset: int, limit: int) -> Call[DocumentPage]:
        params = {"offset": offset, "limit": limit}
        return Call("GET", f"/v1/kbs/{_seg(kb)}/documents", DocumentPage.from_json, params=params)

    @staticmethod
    def get_document(kb: str, doc_id: str) -> Call[Document]:
        return Call("GET", f"/v1/kbs/{_seg(kb)}/documents/{_seg(doc_id)}", Document.from_json)

    @staticmethod
    def delete_document(kb: str, doc_id: str) -> Call[None]:
        path = f"/v1/kbs/{_seg(kb)}/documents/{_seg(doc_id)}"
        return Call("DELETE", path, _none, replay=False)

    @staticmethod
    def delete_where(kb: str, where: Mapping[str, Any]) -> Call[int]:
        path = f"/v1/kbs/{_seg(kb)}/documents/delete"
        return Call("POST", path, _deleted, json={"where": dict(where)}, replay=False)

    @staticmethod
    def list_jobs(kb: str) -> Call[list[Job]]:
        return Call("GET", f"/v1/kbs/{_seg(kb)}/jobs", _jobs)

    @staticmethod
    def get_job(job_id: str) -> Call[Job]:
        return Call("GET", f"/v1/jobs/{_seg(job_id)}", Job.from_json)

    @staticmethod
    def cancel_job(job_id: str) -> Call[Job]:
        return Call("POST", f"/v1/jobs/{_seg(job_id)}/cancel", Job.from_json, replay=False)

    @staticmethod
    def search(
        kb: str, query: str, mode: str, k: int, filters: Mapping[str, Any] | None
    ) -> Call[list[Hit]]:
        body = _some(query=query, mode=mode, k=k, filters=dict(filters) if filters else None)
        return Call("POST", f"/v1/kbs/{_seg(kb)}/search", _hits, json=body)

    @staticmethod
    def answer(kb: str, question: str, stream: bool, **options: Any) -> Call[Answer]:
        body = _some(question=question, **options) | ({"stream": True} if stream else {})
        return Call("POST", f"/v1/kbs/{_seg(kb)}/answer", Answer.from_json, json=body)

    @staticmethod
    def embeddings(model: str, input: str | Sequence[str]) -> Call[list[list[float]]]:
        body = {"model": model, "input": input if isinstance(input, str) else list(input)}
        return Call("POST", "/v1/embeddings", _vectors, json=body)

    @staticmethod
    def token(client_id: str, client_secret: str, scope: str | None) -> Call[Token]:
        form = _some(
            grant_type="client_credentials",
            client_id=client_id,
            client_secret=client_secret,
            scope=scope,
        )
        return Call("POST", "/v1/oauth/token", Token.from_json, data=form, auth=False)

    @staticmethod
    def probe(path: str) -> Call[dict[str, Any]]:
        return Call("GET", path, _json, retry=False)
