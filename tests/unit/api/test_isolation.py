"""A tenant can never list, read, search or change another tenant's KBs, on any route.

The routes are enumerated from the app, so a route added later is covered without editing
this test: every route with a `{kb}` or `{job_id}` parameter is called by the other tenant.
"""

from __future__ import annotations

import time
from typing import Any

Api = Any  # the `api` fixture of conftest.py

BODIES: dict[str, Any] = {
    "/search": {"query": "refunds"},
    "/answer": {"question": "refunds?"},
    "/documents": {"documents": [{"id": "intruder", "text": "overwrite"}]},
    "/documents/delete": {"where": {"year": 2024}},
}


def _ingest(api: Api, headers: dict[str, str], kb: str) -> str:
    assert api.client.post("/v1/kbs", json={"name": kb}, headers=headers).status_code == 201
    records = [{"id": "refunds", "text": "Refunds take 14 days.", "metadata": {"year": 2024}}]
    job = api.client.post(
        f"/v1/kbs/{kb}/documents", json={"documents": records}, headers=headers
    ).json()
    for _ in range(200):
        if api.client.get(f"/v1/jobs/{job['id']}", headers=headers).json()["state"] in (
            "succeeded",
            "failed",
        ):
            break
        time.sleep(0.05)
    return str(job["id"])


def _path(template: str, kb: str, job_id: str) -> str:
    return template.replace("{kb}", kb).replace("{job_id}", job_id).replace("{doc_id}", "refunds")


def test_every_kb_and_job_route_hides_other_tenants(api: Api) -> None:
    owner = api.key("acme")
    job_id = _ingest(api, owner, "private")
    intruder = api.key("globex")
    # Every operation of the OpenAPI description, so no mounted route can be missed.
    paths = api.client.get("/openapi.json").json()["paths"]
    routes = [(p, m) for p, ops in paths.items() for m in ops if "{kb}" in p or "{job_id}" in p]
    assert len(routes) >= 10  # kbs, documents, jobs, search, answer
    for path, method in routes:
        suffix = path.split("}", 1)[-1] if "{kb}" in path else ""
        response = api.client.request(
            method.upper(),
            _path(path, "private", job_id),
            json=BODIES.get(suffix),
            headers=intruder,
        )
        assert response.status_code == 404, (method, path, response.text)
    assert api.client.get("/v1/kbs", headers=intruder).json()["data"] == []
    stats = api.client.get("/v1/kbs/private", headers=owner).json()
    assert stats["documents"] == 1
    listed = api.client.get("/v1/kbs/private/documents", headers=owner).json()["data"]
    assert [d["id"] for d in listed] == ["refunds"]


def test_same_name_in_two_tenants_is_two_kbs(api: Api) -> None:
    acme, globex = api.key("acme"), api.key("globex")
    _ingest(api, acme, "docs")
    assert api.client.post("/v1/kbs", json={"name": "docs"}, headers=globex).status_code == 201
    assert api.client.get("/v1/kbs/docs", headers=acme).json()["documents"] == 1
    assert api.client.get("/v1/kbs/docs", headers=globex).json()["documents"] == 0


def test_openai_routes_hide_other_tenants(api: Api) -> None:
    owner = api.key("acme")
    _ingest(api, owner, "private")
    intruder = api.key("globex")
    ids = [m["id"] for m in api.client.get("/v1/models", headers=intruder).json()["data"]]
    assert not any("private" in i for i in ids)
    owned = [m["id"] for m in api.client.get("/v1/models", headers=owner).json()["data"]]
    assert "kb:private" in owned
    assert api.client.get("/v1/models/kb:private", headers=intruder).status_code == 404
    chat = api.client.post(
        "/v1/chat/completions",
        json={"model": "kb:private", "messages": [{"role": "user", "content": "refunds?"}]},
        headers=intruder,
    )
    assert chat.status_code == 404
    embed = api.client.post(
        "/v1/embeddings", json={"model": "kb:private", "input": "refunds"}, headers=intruder
    )
    assert embed.status_code == 404
