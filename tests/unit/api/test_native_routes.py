"""KBs, search and answers over HTTP, on the fake models."""

from __future__ import annotations

import json
import time
from typing import Any

Api = Any  # the `api` fixture of conftest.py


def _kb_with_docs(api: Api, headers: dict[str, str], name: str = "handbook") -> None:
    assert api.client.post("/v1/kbs", json={"name": name}, headers=headers).status_code == 201
    records = [
        {
            "id": "refunds",
            "text": "Refunds are paid within 14 days of a return.",
            "title": "Refunds",
        },
        {
            "id": "shipping",
            "text": "Shipping takes three working days.",
            "metadata": {"year": 2024},
        },
    ]
    job = api.client.post(
        f"/v1/kbs/{name}/documents", json={"documents": records}, headers=headers
    ).json()
    for _ in range(200):
        state = api.client.get(f"/v1/jobs/{job['id']}", headers=headers).json()["state"]
        if state not in ("queued", "running"):
            break
        time.sleep(0.05)
    assert state == "succeeded"


def test_kb_lifecycle(api: Api) -> None:
    admin = api.key()
    created = api.client.post("/v1/kbs", json={"name": "handbook", "domain": "hr"}, headers=admin)
    assert created.status_code == 201
    assert created.json()["name"] == "handbook" and created.json()["documents"] == 0
    again = api.client.post("/v1/kbs", json={"name": "handbook"}, headers=admin)
    assert again.status_code == 409 and again.json()["error"]["code"] == "kb_exists"
    listed = api.client.get("/v1/kbs", headers=admin).json()["data"]
    assert [kb["name"] for kb in listed] == ["handbook"]
    got = api.client.get("/v1/kbs/handbook", headers=admin).json()
    assert got["domain"] == "hr" and got["chunks"] == 0
    assert api.client.delete("/v1/kbs/handbook", headers=admin).status_code == 204
    missing = api.client.get("/v1/kbs/handbook", headers=admin)
    assert missing.status_code == 404
    assert missing.json()["error"]["type"] == "not_found_error"


def test_validation_names_the_field(api: Api) -> None:
    admin = api.key()
    bad = api.client.post("/v1/kbs", json={"name": "Bad Name"}, headers=admin)
    assert bad.status_code == 422
    assert bad.json()["error"]["param"] == "body.name"
    twice = api.client.post("/v1/kbs", json={"name": "a__b"}, headers=admin)
    assert twice.status_code == 400 and "__" in twice.json()["error"]["message"]


def test_search_modes_and_filters(api: Api) -> None:
    admin = api.key()
    _kb_with_docs(api, admin)
    for mode in ("dense", "bm25", "hybrid"):
        hits = api.client.post(
            "/v1/kbs/handbook/search", json={"query": "refunds paid", "mode": mode}, headers=admin
        ).json()["data"]
        assert hits[0]["doc_id"] == "refunds", mode
    filtered = api.client.post(
        "/v1/kbs/handbook/search",
        json={"query": "refunds paid", "filters": {"year": 2024}},
        headers=admin,
    ).json()["data"]
    assert {h["doc_id"] for h in filtered} == {"shipping"}
    bad_k = api.client.post("/v1/kbs/handbook/search", json={"query": "x", "k": 0}, headers=admin)
    assert bad_k.status_code == 422 and bad_k.json()["error"]["param"] == "body.k"


def test_fusion_is_a_kb_setting_and_a_search_parameter(api: Api) -> None:
    admin = api.key()
    body = {"name": "tuned", "fusion": "tmm", "fusion_weight": 0.7}
    created = api.client.post("/v1/kbs", json=body, headers=admin).json()
    assert (created["fusion"], created["fusion_weight"]) == ("tmm", 0.7)
    _kb_with_docs(api, admin)

    def top_score(**fusion: Any) -> float:
        reply = api.client.post(
            "/v1/kbs/handbook/search", json={"query": "refunds paid", **fusion}, headers=admin
        )
        assert reply.status_code == 200, reply.text
        hit = reply.json()["data"][0]
        assert hit["doc_id"] == "refunds"
        return float(hit["score"])

    # Min-max with all weight on dense: the best dense hit scores exactly 1.
    assert top_score(fusion="minmax", fusion_weight=1.0) == 1.0
    # Classic RRF: a hit first in both rankings scores 2/61.
    assert abs(top_score(fusion="rrf", fusion_weight=0.5) - 2 / 61) < 1e-9
    bad = api.client.post(
        "/v1/kbs/handbook/search", json={"query": "x", "fusion_weight": 1.5}, headers=admin
    )
    assert bad.status_code == 422 and bad.json()["error"]["param"] == "body.fusion_weight"


def test_answer_and_analyst_schema(api: Api) -> None:
    admin = api.key()
    _kb_with_docs(api, admin)
    answer = api.client.post(
        "/v1/kbs/handbook/answer", json={"question": "When are refunds paid?"}, headers=admin
    ).json()
    assert answer["outcome"] == "answered" and answer["citations"][0]["passage"] == 1
    schema = {"type": "object", "properties": {"days": {"type": "integer"}}, "required": ["days"]}
    data = api.client.post(
        "/v1/kbs/handbook/answer",
        json={"question": "How many days?", "schema": schema},
        headers=admin,
    ).json()
    assert data["data"] == {"days": 1}
    unsupported = {"type": "object", "properties": {"x": {"not": {"type": "string"}}}}
    refused = api.client.post(
        "/v1/kbs/handbook/answer", json={"question": "q", "schema": unsupported}, headers=admin
    )
    assert refused.status_code == 400 and "not" in refused.json()["error"]["message"]
    unknown = api.client.post(
        "/v1/kbs/handbook/answer", json={"question": "q", "profile": "nope"}, headers=admin
    )
    assert unknown.status_code == 400 and "known profiles" in unknown.json()["error"]["message"]


def test_answer_stream_events(api: Api) -> None:
    admin = api.key()
    _kb_with_docs(api, admin)
    with api.client.stream(
        "POST",
        "/v1/kbs/handbook/answer",
        json={"question": "When are refunds paid?", "stream": True},
        headers=admin,
    ) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["cache-control"] == "no-cache"
        assert response.headers["x-accel-buffering"] == "no"
        body = response.read().decode()
    frames = body.removesuffix("\n\n").split("\n\n")
    events = [(f.split("\n")[0].removeprefix("event: "), f.split("\n")[1][6:]) for f in frames]
    # The bytes: `event:` and `data:` lines ending in "\n", a blank line after each event,
    # the JSON as json.dumps writes it, nothing else (no comments, no "\r").
    wire = "".join(f"event: {e}\ndata: {d}\n\n" for e, d in events)
    assert body == wire
    assert all(d == json.dumps(json.loads(d), ensure_ascii=False) for _, d in events)
    names = [e for e, _ in events]
    assert names[0] == "passages" and names[-1] == "answer" and "delta" in names
    text = "".join(json.loads(d)["text"] for e, d in events if e == "delta")
    final = json.loads(events[-1][1])
    assert json.loads(text)["answer"] == final["answer"]


def test_request_id_and_errors_never_leak_traces(api: Api) -> None:
    response = api.client.get("/v1/kbs", headers={"X-Request-ID": "abc-123"})
    assert response.status_code == 401
    assert response.headers["x-request-id"] == "abc-123"
    assert response.json()["request_id"] == "abc-123"
    assert response.headers["www-authenticate"] == "Bearer"
    fresh = api.client.get("/healthz")
    assert len(fresh.headers["x-request-id"]) == 32


def test_scopes(api: Api) -> None:
    admin = api.key()
    _kb_with_docs(api, admin)
    reader = api.key(scopes=("read",))
    assert api.client.get("/v1/kbs/handbook", headers=reader).status_code == 200
    denied = api.client.delete("/v1/kbs/handbook", headers=reader)
    assert denied.status_code == 403 and denied.json()["error"]["code"] == "insufficient_scope"
    allow_listed = api.key(scopes=("read",), kbs=("other",))
    assert api.client.get("/v1/kbs/handbook", headers=allow_listed).status_code == 403
    assert api.client.get("/v1/kbs", headers=allow_listed).json()["data"] == []


def test_body_limit(api: Api) -> None:
    admin = api.key()
    huge = {"name": "x" * (api.services.settings.api_max_body_bytes + 10)}
    response = api.client.post("/v1/kbs", json=huge, headers=admin)
    assert response.status_code == 413
    assert response.json()["error"]["type"] == "request_too_large"


def test_local_mode_is_tenant_default(local_api: Api) -> None:
    assert local_api.client.post("/v1/kbs", json={"name": "notes"}).status_code == 201
    assert local_api.services.workspace.registry.get("notes").tenant == "default"


def test_health_ready_metrics(api: Api) -> None:
    assert api.client.get("/healthz").json() == {"status": "ok"}
    ready = api.client.get("/readyz")
    assert ready.status_code in (200, 503)
    assert "embedder" in ready.json()["checks"]
    api.client.get("/v1/kbs")
    text = api.client.get("/metrics").text
    assert 'rag_http_requests_total{method="GET",route="/v1/kbs",status="401"}' in text


def test_local_mode_refuses_remote_clients(local_api: Any) -> None:
    from fastapi.testclient import TestClient

    remote = TestClient(local_api.client.app, client=("203.0.113.7", 5000))
    refused = remote.get("/v1/kbs")
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "local_mode_only"
    loopback = TestClient(local_api.client.app, client=("127.0.0.1", 5000))
    assert loopback.get("/v1/kbs").status_code == 200


def test_bearer_header_forms(api: Api) -> None:
    token = api.key()["Authorization"].removeprefix("Bearer ")
    for value in (f"bearer {token}", f"Bearer   {token}"):
        assert api.client.get("/v1/kbs", headers={"Authorization": value}).status_code == 200
    for value in ("Bearer", "Bearer ", f"Basic {token}", token):
        refused = api.client.get("/v1/kbs", headers={"Authorization": value})
        assert refused.status_code == 401 and refused.headers["www-authenticate"] == "Bearer"
        assert refused.json()["error"]["code"] == "invalid_token"
        assert refused.json()["error"]["message"].startswith("missing bearer token")
