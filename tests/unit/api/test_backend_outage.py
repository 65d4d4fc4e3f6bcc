"""One tenant's Elasticsearch KB cannot make the service unready, nor become undeletable.

"Unreachable" is a closed loopback port; the tests that need the server itself run against
the real one at RAG_ES_URL (marker `elasticsearch`).
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from rag.kb import KBConfig

Api = Any
DEAD = "http://127.0.0.1:1"


def _no_internals(text: str) -> None:
    for leak in ("127.0.0.1", ":1", "9200", "acme__", "rag-"):
        assert leak not in text, f"{leak!r} leaked: {text}"


def _register_es_kb(api: Api, name: str = "esk") -> None:
    # As if created while the server answered (or by a version that did not check).
    config = KBConfig(
        name=f"acme__{name}",
        engine="elasticsearch",
        embedder=api.services.settings.embedder,
        dim=32,
        tenant="acme",
    )
    api.services.workspace.registry.create(config)


def test_creating_an_es_kb_while_es_is_down_is_503_naming_only_the_backend(
    api_with: Callable[..., Api],
) -> None:
    api = api_with(es_url=DEAD)
    headers = api.key()
    got = api.client.post(
        "/v1/kbs", json={"name": "esk", "engine": "elasticsearch"}, headers=headers
    )
    assert got.status_code == 503, got.text
    error = got.json()["error"]
    assert error["code"] == "backend_unavailable" and "elasticsearch" in error["message"]
    assert got.json()["request_id"] == got.headers["x-request-id"]
    _no_internals(got.text)
    assert api.client.get("/v1/kbs", headers=headers).json()["data"] == []
    assert api.client.get("/readyz").status_code == 200


def test_an_unreachable_kb_backend_does_not_make_the_service_unready(
    api_with: Callable[..., Api],
) -> None:
    api = api_with(es_url=DEAD)
    _register_es_kb(api)
    ready = api.client.get("/readyz")
    assert ready.status_code == 200, ready.text
    assert ready.json()["status"] == "ready"
    assert ready.json()["checks"]["elasticsearch"].startswith("unreachable")
    # Its own KB answers 503, naming the backend and nothing more.
    headers = api.key()
    search = api.client.post("/v1/kbs/esk/search", json={"query": "x"}, headers=headers)
    assert search.status_code == 503 and "elasticsearch" in search.json()["error"]["message"]
    _no_internals(search.text)
    # Another tenant's KBs serve as usual.
    other = api.key("globex")
    assert api.client.post("/v1/kbs", json={"name": "docs"}, headers=other).status_code == 201
    got = api.client.post("/v1/kbs/docs/search", json={"query": "x"}, headers=other)
    assert got.status_code == 200


def test_deleting_a_kb_whose_backend_is_down_removes_it_and_says_what_is_left(
    api_with: Callable[..., Api], caplog: pytest.LogCaptureFixture
) -> None:
    api = api_with(es_url=DEAD)
    _register_es_kb(api)
    headers = api.key()
    # Opened first (a search), so the drop must also close a store that cannot flush.
    search = api.client.post("/v1/kbs/esk/search", json={"query": "x"}, headers=headers)
    assert search.status_code == 503
    with caplog.at_level(logging.WARNING, logger="rag.workspace"):
        dropped = api.client.delete("/v1/kbs/esk", headers=headers)
    assert dropped.status_code == 204, dropped.text
    assert api.client.get("/v1/kbs/esk", headers=headers).status_code == 404
    assert not api.services.workspace.registry.exists("acme__esk")
    # The operator's log names the indices left on the server.
    assert any("rag-acme__esk" in r.getMessage() for r in caplog.records)


@pytest.mark.elasticsearch
def test_creating_an_es_kb_clears_what_an_unreachable_drop_left(
    api_with: Callable[..., Api],
) -> None:
    url = os.environ.get("RAG_ES_URL")
    if not url:
        pytest.skip("RAG_ES_URL is not set")
    prefix = f"t{uuid.uuid4().hex[:8]}-"
    api = api_with(es_url=url, es_index_prefix=prefix)
    headers = api.key()
    body = {"name": "esk", "engine": "elasticsearch"}
    assert api.client.post("/v1/kbs", json=body, headers=headers).status_code == 201
    records = {"documents": [{"id": "old", "text": "an old document about tides"}]}
    job = api.client.post("/v1/kbs/esk/documents", json=records, headers=headers).json()
    _wait(api, job["id"], headers)
    # The server goes away while the KB is dropped: its index stays behind.
    dead = api_with(es_url=DEAD, es_index_prefix=prefix, data_dir=api.services.settings.data_dir)
    assert dead.client.delete("/v1/kbs/esk", headers=headers).status_code == 204
    # Created again with the server back: the old documents do not reappear.
    assert api.client.post("/v1/kbs", json=body, headers=headers).status_code == 201
    got = api.client.get("/v1/kbs/esk", headers=headers).json()
    assert got["documents"] == 0
    assert api.client.delete("/v1/kbs/esk", headers=headers).status_code == 204


def _wait(api: Api, job_id: str, headers: dict[str, str]) -> None:
    import time

    for _ in range(400):
        state = api.client.get(f"/v1/jobs/{job_id}", headers=headers).json()["state"]
        if state not in ("queued", "running"):
            assert state == "succeeded"
            return
        time.sleep(0.05)
    raise AssertionError("job did not finish")
