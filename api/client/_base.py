"""What the sync and async clients share: each endpoint as a `Call`; bodies read into models.

A `Call` says everything about one request but performs none of it, so the two clients differ
only in how they send (blocking or awaited) and how they sleep between retries.
"""

from __future__ import annotations

import mimetypes
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar
from urllib.parse import quote

import httpx
import pydantic
from httpx_sse import ServerSentEvent

from api.client import errors
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
from api.openai.schemas import EmbeddingList
from api.schemas import Deleted, JobList, KBList, SearchOut

T = TypeVar("T")
M = TypeVar("M", bound=pydantic.BaseModel)
DEFAULT_BASE_URL = "http://127.0.0.1:8000"
API_KEY_ENV = "RAG_API_KEY"
USER_AGENT = "rag-service-client/0.1"
CONNECT_TIMEOUT = 10.0
# A file to upload: a path, or a name and its bytes.
Upload = str | os.PathLike[str] | tuple[str, bytes]


@dataclass(frozen=True)
class Call(Generic[T]):
    """One request and how to read its body (validated by the API's own models).

    `replay`: whether sending it again after the server may have acted gives the same result
    (see `_retry`). `retry` False: never retried (health probes report the moment).
    """

    method: str
    path: str
    parse: Callable[[bytes], T]
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


def poll_delay(job: Job, started: float, poll: float, timeout: float | None) -> float:
    """Seconds to wait before polling `job` again; raises JobTimeoutError past the timeout."""
    if timeout is None:
        return poll
    waited = time.monotonic() - started
    if waited >= timeout:
        raise errors.JobTimeoutError(job, waited)
    return min(poll, timeout - waited)


def read(call: Call[T], response: httpx.Response) -> T:
    """The value of a successful response's body; one the model rejects raises."""
    try:
        return call.parse(response.content)
    except pydantic.ValidationError as exc:
        what = f"response to {call.method} {call.path}"
        raise errors.invalid_response(response.status_code, what, response.content, exc) from None


def failure(response: httpx.Response) -> errors.RagAPIError:
    """The exception of an error response (its body already read)."""
    error = errors.from_response(
        response.status_code, response.content, response.headers, response.reason_phrase
    )
    error.response = response
    return error


class EventReader:
    """Typed events of an answer stream; the stream must end with the answer."""

    def __init__(self) -> None:
        self._answered = False

    def read(self, sse: ServerSentEvent) -> StreamEvent | None:
        """The typed event; None for one this client does not know. An `error` event raises."""
        if sse.event == "error":
            try:
                payload = sse.json()
            except ValueError:
                raise errors.InvalidResponseError(
                    200, f"error event is not JSON: {sse.data[:200]!r}", code="not_json"
                ) from None
            raise errors.from_event(payload)
        try:
            if sse.event == "passages":
                return PassagesEvent.model_validate_json(sse.data)
            if sse.event == "delta":
                return DeltaEvent.model_validate_json(sse.data)
            if sse.event == "answer":
                event = AnswerEvent(answer=Answer.model_validate_json(sse.data))
                self._answered = True
                return event
        except pydantic.ValidationError as exc:
            raise errors.invalid_response(200, f"{sse.event} event", sse.data, exc) from None
        return None  # an event this client does not know yet

    def end(self) -> None:
        """Raises when the stream was cut before the answer event."""
        if not self._answered:
            raise errors.RagAPIError(
                200, "the stream ended before the answer event", "stream_error", "truncated"
            )


def not_a_stream(response: httpx.Response, reason: Exception) -> errors.RagAPIError:
    """The exception for a streamed answer that is not a text/event-stream."""
    return errors.InvalidResponseError(response.status_code, str(reason), code="not_a_stream")


def _seg(value: str) -> str:
    # Document ids may hold slashes (they are often file paths): one path segment each.
    return quote(value, safe="")


def _none(_: bytes) -> None:
    return None


def _kbs(raw: bytes) -> list[KB]:
    return KBList.model_validate_json(raw).data


def _jobs(raw: bytes) -> list[Job]:
    return JobList.model_validate_json(raw).data


def _hits(raw: bytes) -> list[Hit]:
    return SearchOut.model_validate_json(raw).data


_FLOATS = pydantic.TypeAdapter(list[float])  # the client asks for floats, never base64


def _vectors(raw: bytes) -> list[list[float]]:
    rows = sorted(EmbeddingList.model_validate_json(raw).data, key=lambda row: row.index)
    return [_FLOATS.validate_python(row.embedding) for row in rows]


def _deleted(raw: bytes) -> int:
    return Deleted.model_validate_json(raw).deleted


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
        return Call(
            "POST", "/v1/kbs", KB.model_validate_json, json={"name": name, **options}, replay=False
        )

    @staticmethod
    def get_kb(kb: str) -> Call[KB]:
        return Call("GET", f"/v1/kbs/{_seg(kb)}", KB.model_validate_json)

    @staticmethod
    def delete_kb(kb: str) -> Call[None]:
        return Call("DELETE", f"/v1/kbs/{_seg(kb)}", _none, replay=False)

    @staticmethod
    def upload_files(kb: str, files: Sequence[Upload]) -> Call[Job]:
        one_pair = isinstance(files, tuple) and len(files) == 2 and isinstance(files[1], bytes)
        if isinstance(files, str | os.PathLike) or one_pair or not files:
            raise ValueError("upload_files takes a non-empty list of paths or (name, bytes) pairs")
        parts = [_upload(item) for item in files]
        return Call("POST", f"/v1/kbs/{_seg(kb)}/documents", Job.model_validate_json, files=parts)

    @staticmethod
    def add_records(kb: str, records: Sequence[Mapping[str, Any]]) -> Call[Job]:
        body = {"documents": [dict(r) for r in records]}
        return Call("POST", f"/v1/kbs/{_seg(kb)}/documents", Job.model_validate_json, json=body)

    @staticmethod
    def list_documents(kb: str, offset: int, limit: int) -> Call[DocumentPage]:
        params = {"offset": offset, "limit": limit}
        return Call(
            "GET", f"/v1/kbs/{_seg(kb)}/documents", DocumentPage.model_validate_json, params=params
        )

    @staticmethod
    def get_document(kb: str, doc_id: str) -> Call[Document]:
        return Call(
            "GET", f"/v1/kbs/{_seg(kb)}/documents/{_seg(doc_id)}", Document.model_validate_json
        )

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
        return Call("GET", f"/v1/jobs/{_seg(job_id)}", Job.model_validate_json)

    @staticmethod
    def cancel_job(job_id: str) -> Call[Job]:
        return Call(
            "POST", f"/v1/jobs/{_seg(job_id)}/cancel", Job.model_validate_json, replay=False
        )

    @staticmethod
    def search(
        kb: str, query: str, mode: str, k: int, filters: Mapping[str, Any] | None
    ) -> Call[list[Hit]]:
        body = _some(query=query, mode=mode, k=k, filters=dict(filters) if filters else None)
        return Call("POST", f"/v1/kbs/{_seg(kb)}/search", _hits, json=body)

    @staticmethod
    def answer(kb: str, question: str, stream: bool, **options: Any) -> Call[Answer]:
        body = _some(question=question, **options) | ({"stream": True} if stream else {})
        return Call("POST", f"/v1/kbs/{_seg(kb)}/answer", Answer.model_validate_json, json=body)

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
        return Call("POST", "/v1/oauth/token", Token.model_validate_json, data=form, auth=False)

    @staticmethod
    def probe(path: str, model: type[M]) -> Call[M]:
        return Call("GET", path, model.model_validate_json, retry=False)
