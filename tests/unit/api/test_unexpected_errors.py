"""An unexpected exception is a well-formed 500 (507 for a full disk) that keeps the connection.

Served by a real uvicorn on loopback: the connection reset happened in the server, which a
TestClient does not have.
"""

from __future__ import annotations

import errno
import json
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from api.http_protocol import JsonErrorHttpTools


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def served(api: Any) -> Iterator[tuple[str, str]]:
    """A keyed app with a route that fails unexpectedly, on a real server; (base URL, key)."""
    app: FastAPI = api.client.app  # type: ignore[assignment]

    async def boom() -> None:
        raise RuntimeError("/secret/path/internal.db is broken")

    app.add_api_route("/boom", boom)
    port = _free_port()
    # The HTTP protocol `rag serve` runs with.
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, lifespan="off", http=JsonErrorHttpTools
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}", api.key()["Authorization"]
    finally:
        server.should_exit = True
        thread.join(timeout=20)


def _is_error_object(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["request_id"] and body["request_id"] == response.headers["x-request-id"]
    assert set(body["error"]) == {"message", "type", "param", "code"}
    return dict(body["error"])


def test_a_500_has_the_request_id_and_keeps_the_connection(served: tuple[str, str]) -> None:
    base, auth = served
    connections: set[int] = set()

    def track(response: httpx.Response) -> None:
        stream = response.extensions["network_stream"]
        connections.add(id(stream.get_extra_info("socket")))

    with httpx.Client(base_url=base, event_hooks={"response": [track]}) as client:
        failed = client.get("/boom", headers={"X-Request-ID": "probe-1"})
        error = _is_error_object(failed, 500)
        assert failed.headers["x-request-id"] == "probe-1"
        assert error == {
            "message": "internal error",
            "type": "server_error",
            "param": None,
            "code": "internal",
        }
        assert "secret" not in failed.text
        after = client.get("/v1/kbs", headers={"Authorization": auth})
        assert after.status_code == 200
    assert len(connections) == 1  # the same keep-alive connection served both


def test_a_full_disk_during_upload_is_507_and_keeps_nothing(
    served: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from api import uploads

    base, auth = served

    def no_space(*args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device", "/data/api/uploads/x")

    with httpx.Client(base_url=base, headers={"Authorization": auth}) as client:
        assert client.post("/v1/kbs", json={"name": "handbook"}).status_code == 201
        monkeypatch.setattr(uploads._Writer, "apply", no_space)
        files = {"files": ("notes.txt", b"some text " * 100, "text/plain")}
        full = client.post("/v1/kbs/handbook/documents", files=files)
        error = _is_error_object(full, 507)
        assert error["code"] == "insufficient_storage" and "/data" not in full.text
        assert client.get("/v1/kbs/handbook/jobs").json()["data"] == []
        assert client.get("/v1/kbs/handbook").status_code == 200


def raw_request(base: str, head: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send `head` as is (httpx refuses URLs this long) and read the whole response."""
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(head)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    header_block, _, body = data.partition(b"\r\n\r\n")
    status_line, *lines = header_block.decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines)}
    return int(status_line.split()[1]), headers, body


@pytest.mark.parametrize("size", [100_000, 1_000_000])
def test_a_url_too_long_to_parse_gets_the_json_error_object(
    served: tuple[str, str], size: int
) -> None:
    base, auth = served
    head = b"GET /v1/kbs?q=" + b"a" * size + b" HTTP/1.1\r\nHost: x\r\n\r\n"
    status, headers, body = raw_request(base, head)
    assert status == 400 and headers["content-type"] == "application/json"
    parsed = json.loads(body)
    assert parsed["request_id"] == headers["x-request-id"]
    assert parsed["error"]["code"] == "unparsable_request"
    assert parsed["error"]["type"] == "invalid_request_error"
    with httpx.Client(base_url=base) as client:
        assert client.get("/v1/kbs", headers={"Authorization": auth}).status_code == 200
