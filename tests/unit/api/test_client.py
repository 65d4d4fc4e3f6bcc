"""The Python client against a scripted fake service (httpx.MockTransport): requests, retries,
back-off, Retry-After, error mapping, response validation, SSE parsing, paging and job waiting,
sync and async."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from api.client import (
    KB,
    Answer,
    AnswerEvent,
    AsyncRagClient,
    AuthenticationError,
    ConflictError,
    DeltaEvent,
    Hit,
    InvalidResponseError,
    Job,
    JobTimeoutError,
    NotFoundError,
    PassagesEvent,
    PermissionDeniedError,
    RagAPIError,
    RagClient,
    RateLimitError,
    ServerError,
    ValidationError,
    parse_retry_after,
)

T = TypeVar("T")
Reply = Callable[[httpx.Request], httpx.Response]

KB_JSON = {
    "name": "docs",
    "engine": "local",
    "index": "flat",
    "embedder": "minilm",
    "dim": 384,
    "domain": "general",
    "fusion": "minmax",
    "fusion_weight": 0.5,
    "chunk_headers": True,
    "chunk_tokens": 256,
    "chunk_overlap": 32,
    "created_at": "2024-01-01",
    "documents": 2,
    "chunks": 9,
}
HIT_JSON = {
    "score": 0.9,
    "chunk_id": "c1",
    "doc_id": "d1",
    "text": "reset by holding",
    "title": "Guide",
    "page": 3,
    "heading_path": ["Setup", "Reset"],
    "metadata": {"a": 1},
}
PASSAGE_JSON = {
    "number": 1,
    "chunk_id": "c1",
    "doc_id": "d1",
    "title": "Guide — Réglages",
    "page": 3,
    "text": "reset by holding",
    "score": 0.9,
    "relevance": 0.8123,
    "truncated": False,
}
ANSWER_JSON = {
    "question": "how?",
    "answer": "Hold the button [1].",
    "answerable": True,
    "outcome": "answered",
    "confidence": 0.8,
    "data": None,
    "citations": [
        {
            "passage": 1,
            "chunk_id": "c1",
            "doc_id": "d1",
            "title": "Guide",
            "page": 3,
            "text": "reset by holding",
        }
    ],
    "passages": [{k: v for k, v in PASSAGE_JSON.items() if k != "text"}],
    "usage": {"prompt_tokens": 90, "completion_tokens": 7},
    "timings": {"retrieve": 0.01, "pack": 0.001, "generate": 0.089, "total": 0.1},
    "profile": "default",
    "model": "fake",
    "attempts": 1,
    "quoted": False,
}


def job_json(state: str = "queued", job_id: str = "j1") -> dict[str, Any]:
    return {
        "id": job_id,
        "kb": "docs",
        "state": state,
        "created_at": "t0",
        "started_at": None,
        "finished_at": None,
        "counts": {
            "files": 1, "parsed": 0, "chunked": 0, "embedded": 0,
            "indexed": 0, "unchanged": 0, "deleted": 0, "failed": 0,
        },
        "errors": [],
        "timings": {"parse": 0.0, "embed": 0.0, "index": 0.0, "total": 0.0},
        "message": None,
        "resumed": 0,
    }  # fmt: skip


def reply(
    status: int = 200,
    body: Any = None,
    headers: dict[str, str] | None = None,
    content: bytes | None = None,
) -> Reply:
    """A fresh response per request (a response object cannot be sent twice)."""

    def make(request: httpx.Request) -> httpx.Response:
        if content is not None:
            return httpx.Response(status, content=content, headers=headers)
        return httpx.Response(status, json=body, headers=headers)

    return make


def error(
    status: int,
    type_: str = "server_error",
    code: str | None = None,
    headers: dict[str, str] | None = None,
    param: str | None = None,
) -> Reply:
    body = {
        "error": {"message": f"boom {status}", "type": type_, "param": param, "code": code},
        "request_id": "req-1",
    }
    return reply(status, body, headers)


def fail(exc: type[httpx.TransportError]) -> Reply:
    def make(request: httpx.Request) -> httpx.Response:
        raise exc("scripted failure", request=request)

    return make


class Service:
    """A fake service: answers with the next scripted reply (the last one repeats)."""

    def __init__(self, *replies: Reply) -> None:
        self.replies = list(replies)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        # A client that loops (paging, polling, retrying) fails the test instead of hanging it.
        assert len(self.requests) <= 100, "runaway client"
        step = self.replies.pop(0) if len(self.replies) > 1 else self.replies[0]
        return step(request)

    def body(self, i: int = -1) -> Any:
        return json.loads(self.requests[i].content)


def sync_client(service: Service, waits: list[float], **options: Any) -> RagClient:
    options.setdefault("api_key", "rag_k_secret")
    return RagClient(transport=httpx.MockTransport(service), sleep=waits.append, **options)


def async_client(service: Service, waits: list[float], **options: Any) -> AsyncRagClient:
    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    options.setdefault("api_key", "rag_k_secret")
    options.setdefault("sleep", sleep)
    return AsyncRagClient(transport=httpx.MockTransport(service), **options)


def waits_list() -> list[float]:
    """Where a fake sleep records the waits it was asked for."""
    return []


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


# Requests: paths, headers, bodies


def test_requests_carry_the_key_and_v1_paths() -> None:
    service, waits = Service(reply(200, {"data": [KB_JSON]})), waits_list()
    with sync_client(service, waits, base_url="http://svc:9000/v1/") as rag:
        kbs = rag.list_kbs()
    assert kbs == [KB.model_validate(KB_JSON)] and kbs[0].chunks == 9
    assert kbs[0].model_dump() == KB_JSON  # every field of the body, read back
    request = service.requests[0]
    assert str(request.url) == "http://svc:9000/v1/kbs"
    assert request.headers["authorization"] == "Bearer rag_k_secret"
    assert request.headers["user-agent"].startswith("rag-service-client/")


def test_api_key_falls_back_to_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    service = Service(reply(200, {"data": []}))
    monkeypatch.setenv("RAG_API_KEY", "rag_env_key")
    with RagClient(transport=httpx.MockTransport(service)) as rag:
        rag.list_kbs()
    with RagClient(api_key="rag_given", transport=httpx.MockTransport(service)) as rag:
        rag.list_kbs()
    monkeypatch.delenv("RAG_API_KEY")
    with RagClient(transport=httpx.MockTransport(service)) as rag:
        rag.list_kbs()
    auth = [r.headers.get("authorization") for r in service.requests]
    assert auth == ["Bearer rag_env_key", "Bearer rag_given", None]


def test_bodies_of_the_native_routes(tmp_path: Path) -> None:
    service, waits = Service(reply(202, job_json())), waits_list()
    rag = sync_client(service, waits)
    (tmp_path / "guide.md").write_bytes(b"# Guide\nhold the button")
    job = rag.upload_files("docs", [tmp_path / "guide.md", ("notes.txt", b"n\xc3\xa9")])
    assert job == Job.model_validate(job_json()) and not job.done
    assert job.model_dump() == job_json()
    upload = service.requests[-1]
    assert upload.url.path == "/v1/kbs/docs/documents"
    assert upload.headers["content-type"].startswith("multipart/form-data")
    assert upload.content.count(b'name="files"') == 2
    assert b'filename="guide.md"' in upload.content and b"hold the button" in upload.content
    assert b"Content-Type: text/plain" in upload.content and b"n\xc3\xa9" in upload.content

    rag.add_records("docs", [{"id": "r1", "text": "hello", "metadata": {"lang": "en"}}])
    assert service.body() == {
        "documents": [{"id": "r1", "text": "hello", "metadata": {"lang": "en"}}]
    }

    service.replies = [reply(200, {"data": [HIT_JSON], "mode": "bm25", "k": 3})]
    hits = rag.search("docs", "reset", mode="bm25", k=3)
    assert service.body() == {"query": "reset", "mode": "bm25", "k": 3}
    assert hits == [Hit.model_validate(HIT_JSON)] and hits[0].heading_path == ["Setup", "Reset"]
    rag.search("docs", "reset", filters={"lang": "en"})
    assert service.body()["filters"] == {"lang": "en"}

    service.replies = [reply(200, ANSWER_JSON)]
    answer = rag.answer("docs", "how?", profile="fast", max_tokens=64)
    assert service.body() == {"question": "how?", "profile": "fast", "max_tokens": 64}
    assert answer == Answer.model_validate(ANSWER_JSON) and answer.citations[0].doc_id == "d1"
    assert answer.model_dump() == ANSWER_JSON

    service.replies = [reply(201, KB_JSON)]
    rag.create_kb("docs", engine="elasticsearch", chunk_tokens=128)
    assert service.body() == {"name": "docs", "engine": "elasticsearch", "chunk_tokens": 128}

    service.replies = [reply(200, {"deleted": 4})]
    assert rag.delete_where("docs", {"lang": "en"}) == 4
    assert service.requests[-1].url.path == "/v1/kbs/docs/documents/delete"
    assert service.body() == {"where": {"lang": "en"}}

    service.replies = [reply(204, content=b"")]
    rag.delete_document("docs", "manuals/a b.pdf")
    # A document id that is a file path stays one path segment.
    assert service.requests[-1].url.raw_path == b"/v1/kbs/docs/documents/manuals%2Fa%20b.pdf"
    assert service.requests[-1].method == "DELETE"


def test_embeddings_come_back_in_input_order() -> None:
    data = [{"index": 1, "embedding": [0.0, 1.0]}, {"index": 0, "embedding": [1.0, 0.0]}]
    usage = {"prompt_tokens": 2, "total_tokens": 2}
    body = {"object": "list", "data": data, "model": "kb:docs", "usage": usage}
    service, waits = Service(reply(200, body)), waits_list()
    vectors = sync_client(service, waits).embeddings("kb:docs", ["a", "b"])
    assert vectors == [[1.0, 0.0], [0.0, 1.0]]
    assert service.body() == {"model": "kb:docs", "input": ["a", "b"]}


def test_token_is_form_encoded_without_a_bearer() -> None:
    token = {"access_token": "jwt", "token_type": "Bearer", "expires_in": 900, "scope": "read"}
    service, waits = Service(reply(200, token)), waits_list()
    got = sync_client(service, waits).token("k1", "rag_k1_secret", scope="read")
    request = service.requests[0]
    assert request.url.path == "/v1/oauth/token" and "authorization" not in request.headers
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    form = dict(pair.split("=") for pair in request.content.decode().split("&"))
    assert form == {
        "grant_type": "client_credentials",
        "client_id": "k1",
        "client_secret": "rag_k1_secret",
        "scope": "read",
    }
    assert got.access_token == "jwt" and got.expires_in == 900 and got.scope == "read"


def test_upload_needs_a_list_of_files() -> None:
    rag = sync_client(Service(reply(202, job_json())), [])
    with pytest.raises(ValueError, match="list"):
        rag.upload_files("docs", "guide.md")
    with pytest.raises(ValueError, match="list"):
        rag.upload_files("docs", [])
    with pytest.raises(ValueError, match="list"):
        rag.upload_files("docs", ("a.md", b"alpha"))  # type: ignore[arg-type]
    rag.upload_files("docs", (("a.md", b"alpha"), ("b.md", b"beta")))  # a tuple of pairs is fine


# Retries and back-off


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
def test_retryable_statuses_are_retried_until_success(status: int) -> None:
    service, waits = Service(error(status), error(status), reply(200, {"data": []})), waits_list()
    assert sync_client(service, waits).list_kbs() == []
    assert len(service.requests) == 3 and len(waits) == 2


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 413, 422])
def test_client_errors_are_not_retried(status: int) -> None:
    service, waits = (
        Service(error(status, "invalid_request_error"), reply(200, {"data": []})),
        waits_list(),
    )
    with pytest.raises(RagAPIError):
        sync_client(service, waits).list_kbs()
    assert len(service.requests) == 1 and waits == []


def test_retries_stop_after_max_retries() -> None:
    service, waits = Service(error(503, "service_unavailable")), waits_list()
    with pytest.raises(ServerError) as caught:
        sync_client(service, waits, max_retries=2).list_kbs()
    assert len(service.requests) == 3 and len(waits) == 2 and caught.value.status == 503
    service.requests.clear()
    with pytest.raises(ServerError):
        sync_client(service, [], max_retries=0).list_kbs()
    assert len(service.requests) == 1


def test_backoff_grows_exponentially_up_to_the_cap() -> None:
    service, waits = Service(error(500)), waits_list()
    with pytest.raises(ServerError):
        sync_client(service, waits, max_retries=5, backoff=1.0, max_backoff=5.0).list_kbs()
    bases = [1.0, 2.0, 4.0, 5.0, 5.0]
    assert len(waits) == len(bases)
    for wait, base in zip(waits, bases, strict=True):
        assert base <= wait <= base * 1.1  # up to 10% jitter on top


def test_retry_after_seconds_is_waited_exactly() -> None:
    limited = error(429, "rate_limit_error", headers={"Retry-After": "7"})
    service = Service(limited, error(503, headers={"Retry-After": "0"}), reply(200, {"data": []}))
    waits = waits_list()
    sync_client(service, waits, max_backoff=1.0).list_kbs()
    # Retry-After wins over the back-off, even past max_backoff.
    assert waits == [7.0, 0.0]


def test_retry_after_http_date_and_cap() -> None:
    soon = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    past = format_datetime(datetime.now(UTC) - timedelta(seconds=30), usegmt=True)
    replies = [error(429, headers={"Retry-After": v}) for v in (soon, past, "3600", "soon")]
    service, waits = Service(*replies, reply(200, {"data": []})), waits_list()
    sync_client(service, waits, max_retries=4, backoff=0.25).list_kbs()
    assert 27.0 <= waits[0] <= 30.0
    assert waits[1:3] == [0.0, 120.0]  # a date gone by: at once; an hour: capped
    assert 2.0 <= waits[3] <= 2.2  # unreadable: the back-off before the 4th retry (0.25 * 2**3)


def test_parse_retry_after() -> None:
    assert parse_retry_after("2.5") == 2.5
    assert parse_retry_after("-4") == 0.0
    assert parse_retry_after(None) is None and parse_retry_after(" ") is None
    assert parse_retry_after("nan") is None and parse_retry_after("tomorrow") is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=lambda: 1445412470.0) == 10.0


def test_transport_errors_are_retried_then_raised() -> None:
    service = Service(fail(httpx.ConnectError), fail(httpx.ReadTimeout), reply(200, {"data": []}))
    waits = waits_list()
    assert sync_client(service, waits).list_kbs() == []
    assert len(waits) == 2
    service = Service(fail(httpx.ConnectError))
    with pytest.raises(httpx.ConnectError):
        sync_client(service, [], max_retries=2).list_kbs()
    assert len(service.requests) == 3


def test_writes_are_not_repeated_once_the_server_may_have_acted() -> None:
    # 5xx or a read timeout: the KB may exist now; a retry would answer 409 for a success.
    for failure in (error(503), fail(httpx.ReadTimeout)):
        service = Service(failure, reply(201, KB_JSON))
        with pytest.raises((ServerError, httpx.ReadTimeout)):
            sync_client(service, []).create_kb("docs")
        assert len(service.requests) == 1
    # Refused by the limiter, or never connected: nothing happened, so the retry is safe.
    for failure in (error(429, headers={"Retry-After": "1"}), fail(httpx.ConnectError)):
        service = Service(failure, reply(201, KB_JSON))
        assert sync_client(service, []).create_kb("docs").name == "docs"
        assert len(service.requests) == 2


def test_a_retried_upload_sends_the_whole_body_again() -> None:
    service, waits = Service(error(502), reply(202, job_json())), waits_list()
    sync_client(service, waits).upload_files("docs", [("a.md", b"alpha " * 1000)])
    # Each try is a new multipart body (a new boundary) holding the whole file.
    for request in service.requests:
        assert request.content.count(b"alpha") == 1000 and b'filename="a.md"' in request.content
    assert len(service.requests) == 2


def test_probes_are_not_retried() -> None:
    service, waits = (
        Service(reply(503, {"status": "not ready"}), reply(200, {"status": "ok"})),
        waits_list(),
    )
    with pytest.raises(ServerError) as caught:
        sync_client(service, waits).readyz()
    assert caught.value.body == {"status": "not ready"} and waits == []
    assert sync_client(service, waits).healthz().status == "ok"
    assert [r.url.path for r in service.requests] == ["/readyz", "/healthz"]


# Errors


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, ValidationError),
        (401, AuthenticationError),
        (403, PermissionDeniedError),
        (404, NotFoundError),
        (409, ConflictError),
        (413, RagAPIError),
        (422, ValidationError),
        (429, RateLimitError),
        (500, ServerError),
        (502, ServerError),
        (504, ServerError),
    ],
)
def test_status_maps_to_an_error_class(status: int, cls: type[RagAPIError]) -> None:
    service = Service(error(status, "some_type", code="some_code", param="body.k"))
    with pytest.raises(cls) as caught:
        sync_client(service, [], max_retries=0).get_kb("docs")
    err = caught.value
    assert type(err) is cls
    assert (err.status, err.message, err.type, err.code, err.param, err.request_id) == (
        status,
        f"boom {status}",
        "some_type",
        "some_code",
        "body.k",
        "req-1",
    )


def test_rate_limit_error_carries_retry_after() -> None:
    service = Service(error(429, "rate_limit_error", headers={"Retry-After": "12"}))
    with pytest.raises(RateLimitError) as caught:
        sync_client(service, [], max_retries=0).list_kbs()
    assert caught.value.retry_after == 12.0


def test_bodies_that_are_not_the_error_object() -> None:
    html = reply(502, content=b"<html>Bad Gateway</html>", headers={"X-Request-ID": "px-9"})
    with pytest.raises(ServerError) as caught:
        sync_client(Service(html), [], max_retries=0).list_kbs()
    assert caught.value.message == "<html>Bad Gateway</html>" and caught.value.request_id == "px-9"
    with pytest.raises(NotFoundError) as missing:
        sync_client(Service(reply(404, content=b"")), []).list_kbs()
    assert missing.value.message == "Not Found" and missing.value.type is None
    with pytest.raises(InvalidResponseError, match="not JSON"):
        sync_client(Service(reply(200, content=b"<html>")), []).list_kbs()


def test_a_body_the_model_rejects_is_a_clear_error() -> None:
    partial = {k: v for k, v in KB_JSON.items() if k != "dim"} | {"engine": "mongodb"}
    with pytest.raises(InvalidResponseError) as caught:
        sync_client(Service(reply(200, partial)), []).get_kb("docs")
    message = caught.value.message
    assert message.startswith("unexpected response to GET /v1/kbs/docs: ")
    assert "engine: Input should be" in message and "dim: Field required" in message
    assert caught.value.status == 200 and caught.value.code == "invalid_body"
    with pytest.raises(InvalidResponseError, match="data: Field required"):
        sync_client(Service(reply(200, {"kbs": []})), []).list_kbs()


# Streaming


SSE_TYPE = {"content-type": "text/event-stream; charset=utf-8"}


def streaming(body: bytes | Iterator[bytes]) -> Reply:
    return lambda request: httpx.Response(200, content=body, headers=SSE_TYPE)


def sse(*events: tuple[str, Any]) -> bytes:
    return b"".join(
        f"event: {name}\r\ndata: {json.dumps(data, ensure_ascii=False)}\r\n\r\n".encode()
        for name, data in events
    )


STREAM = sse(
    ("passages", {"passages": [PASSAGE_JSON]}),
    ("delta", {"text": '{"answer":"Appuyez 日本'}),
    ("delta", {"text": '"}'}),
    ("answer", ANSWER_JSON),
)
EVENTS = [
    PassagesEvent.model_validate({"passages": [PASSAGE_JSON]}),
    DeltaEvent(text='{"answer":"Appuyez 日本'),
    DeltaEvent(text='"}'),
    AnswerEvent(answer=Answer.model_validate(ANSWER_JSON)),
]


def chunks(data: bytes, size: int) -> Iterator[bytes]:
    return (data[i : i + size] for i in range(0, len(data), size))


def test_sse_framing_survives_any_split() -> None:
    # Comments, ids, data split over lines, bare-CR and CRLF line ends, unnamed events (skipped).
    whole = (
        b": keep-alive\n"
        + b'event: delta\ndata: {"text":\ndata: "x"}\nid: 3\n\n'
        + b'data: {"plain": 1}\r\revent: delta\r\ndata:{"text": "z"}\r\n\r\n'
        + b"event: answer\ndata: "
        + json.dumps(ANSWER_JSON).encode()
        + b"\n\n"
    )
    expected = [DeltaEvent(text="x"), DeltaEvent(text="z"), EVENTS[-1]]
    for size in [*range(1, 65), len(whole)]:
        service = Service(streaming(chunks(whole, size)))
        assert list(sync_client(service, []).stream_answer("docs", "q")) == expected, size


@pytest.mark.parametrize("size", [1, 3, 7, 64, 100_000])
def test_stream_answer_yields_typed_events(size: int) -> None:
    def streamed(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=chunks(STREAM, size), headers=SSE_TYPE)

    service = Service(streamed)
    events = list(sync_client(service, []).stream_answer("docs", "how?", k=4))
    assert events == EVENTS
    assert service.body() == {"question": "how?", "k": 4, "stream": True}


def test_stream_error_event_raises_after_the_events_before_it() -> None:
    failed = {"error": {"message": "cut", "type": "generator_error", "code": "answer_unusable"}}
    body = sse(("passages", {"passages": []}), ("ping", {}), ("error", failed))
    seen: list[Any] = []
    with pytest.raises(ServerError) as caught:
        seen.extend(sync_client(Service(streaming(body)), []).stream_answer("docs", "q"))
    assert seen == [PassagesEvent(passages=[])]  # the unknown `ping` event is skipped
    assert (caught.value.status, caught.value.code) == (502, "answer_unusable")


def test_stream_cut_before_the_answer_raises() -> None:
    # An event still missing its blank line is dropped: the stream was cut inside it.
    body = sse(("passages", {"passages": []})) + b'event: answer\ndata: {"answ'
    with pytest.raises(RagAPIError, match="before the answer"):
        list(sync_client(Service(streaming(body)), []).stream_answer("docs", "q"))


def test_streams_that_are_not_the_api_s_are_clear_errors() -> None:
    with pytest.raises(InvalidResponseError, match="text/event-stream"):
        list(sync_client(Service(reply(200, ANSWER_JSON)), []).stream_answer("docs", "q"))
    bad = sse(("passages", {"passages": [{"number": "one"}]}))
    with pytest.raises(InvalidResponseError, match=r"unexpected passages event: passages\.0"):
        list(sync_client(Service(streaming(bad)), []).stream_answer("docs", "q"))


def test_stream_is_retried_before_its_first_byte() -> None:
    service = Service(error(503, headers={"Retry-After": "2"}), streaming(STREAM))
    waits = waits_list()
    assert list(sync_client(service, waits).stream_answer("docs", "q")) == EVENTS
    assert waits == [2.0] and len(service.requests) == 2


# Paging and jobs


def pages(total: int) -> Reply:
    def make(request: httpx.Request) -> httpx.Response:
        offset, limit = int(request.url.params["offset"]), int(request.url.params["limit"])
        docs: list[dict[str, Any]] = [
            {
                "id": f"d{i}",
                "title": "",
                "source": f"upload:d{i}.md",
                "metadata": {},
                "chunk_count": 1,
                "content_hash": "h",
            }
            for i in range(offset, min(total, offset + limit))
        ]
        return httpx.Response(
            200, json={"data": docs, "offset": offset, "limit": limit, "total": total}
        )

    return make


def test_iter_documents_pages_through_all() -> None:
    service = Service(pages(5))
    ids = [d.id for d in sync_client(service, []).iter_documents("docs", page_size=2)]
    assert ids == ["d0", "d1", "d2", "d3", "d4"]
    assert [r.url.params["offset"] for r in service.requests] == ["0", "2", "4"]
    page = sync_client(service, []).list_documents("docs", offset=4, limit=10)
    assert (page.offset, page.limit, page.total, len(page.data)) == (4, 10, 5, 1)


def test_iter_documents_stops_on_an_empty_page() -> None:
    # Documents deleted while paging: the total may promise more than is left.
    service = Service(reply(200, {"data": [], "offset": 0, "limit": 100, "total": 3}))
    assert list(sync_client(service, []).iter_documents("docs")) == []
    assert len(service.requests) == 1


def test_wait_for_job_polls_until_final() -> None:
    states = ["queued", "running", "running", "succeeded"]
    service, waits = Service(*(reply(200, job_json(s)) for s in states)), waits_list()
    job = sync_client(service, waits).wait_for_job("j1", poll=0.5)
    assert job.state == "succeeded" and job.done and waits == [0.5, 0.5, 0.5]
    assert {r.url.path for r in service.requests} == {"/v1/jobs/j1"}


def test_wait_for_job_times_out() -> None:
    service = Service(reply(200, job_json("running")))
    with pytest.raises(JobTimeoutError) as caught:
        sync_client(service, []).wait_for_job("j1", timeout=0)
    assert caught.value.job.state == "running" and len(service.requests) == 1
    # With real sleeps: polls until the deadline, never sleeping past it.
    rag = RagClient(transport=httpx.MockTransport(service), sleep=time.sleep)
    started = time.monotonic()
    with pytest.raises(TimeoutError, match="still running"):
        rag.wait_for_job("j1", poll=0.02, timeout=0.1)
    assert 0.1 <= time.monotonic() - started < 1.0 and len(service.requests) >= 4


def test_list_and_cancel_jobs() -> None:
    service = Service(
        reply(200, {"data": [job_json("running"), job_json("queued", "j2")]}),
        reply(200, job_json("cancelled", "j2")),
        error(409, "conflict_error"),
    )
    rag = sync_client(service, [])
    assert [j.id for j in rag.list_jobs("docs")] == ["j1", "j2"]
    assert rag.cancel_job("j2").state == "cancelled"
    with pytest.raises(ConflictError):
        rag.cancel_job("j2")
    assert [r.url.path for r in service.requests] == [
        "/v1/kbs/docs/jobs",
        "/v1/jobs/j2/cancel",
        "/v1/jobs/j2/cancel",
    ]


def test_context_manager_closes_the_pool() -> None:
    with sync_client(Service(reply(200, {"data": []})), []) as rag:
        rag.list_kbs()
    with pytest.raises(RuntimeError):
        rag.list_kbs()


# The async client


def test_async_retries_and_retry_after() -> None:
    service = Service(error(429, headers={"Retry-After": "3"}), error(500), reply(200, KB_JSON))
    waits = waits_list()

    async def main() -> KB:
        async with async_client(service, waits, backoff=2.0) as rag:
            return await rag.get_kb("docs")

    assert run(main()).name == "docs"
    assert waits[0] == 3.0 and 4.0 <= waits[1] <= 4.4 and len(service.requests) == 3


def test_async_error_mapping_and_auth() -> None:
    service = Service(error(403, "permission_error", code="scope"))

    async def main() -> None:
        async with async_client(service, [], api_key="rag_a") as rag:
            await rag.delete_kb("docs")

    with pytest.raises(PermissionDeniedError) as caught:
        run(main())
    assert caught.value.code == "scope"
    assert service.requests[0].headers["authorization"] == "Bearer rag_a"


def test_async_stream_answer() -> None:
    async def body() -> AsyncIterator[bytes]:
        for part in chunks(STREAM, 5):
            yield part

    service = Service(
        error(502), lambda request: httpx.Response(200, content=body(), headers=SSE_TYPE)
    )
    waits: list[float] = []

    async def main() -> list[Any]:
        async with async_client(service, waits) as rag:
            return [event async for event in rag.stream_answer("docs", "q")]

    assert run(main()) == EVENTS and len(waits) == 1


def test_async_paging_and_job_wait() -> None:
    service, waits = Service(pages(3)), waits_list()

    async def main() -> tuple[list[str], Job]:
        async with async_client(service, waits) as rag:
            ids = [d.id async for d in rag.iter_documents("docs", page_size=2)]
            service.replies = [reply(200, job_json("running")), reply(200, job_json("failed"))]
            return ids, await rag.wait_for_job("j1", poll=0.25)

    ids, job = run(main())
    assert ids == ["d0", "d1", "d2"] and job.state == "failed" and waits == [0.25]


def test_async_wait_for_job_times_out_with_real_sleep() -> None:
    service = Service(reply(200, job_json("queued")))

    async def main() -> None:
        async with async_client(service, [], sleep=asyncio.sleep) as rag:
            await rag.wait_for_job("j1", poll=0.02, timeout=0.06)

    with pytest.raises(JobTimeoutError):
        run(main())
    assert len(service.requests) >= 3
