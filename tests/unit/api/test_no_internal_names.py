"""Error bodies and job messages name things as the caller knows them: no stored KB names,
no pydantic dumps, no paths, no Python exception text."""

from __future__ import annotations

import time
from typing import Any

import pytest

Api = Any


def _job(api: Api, headers: dict[str, str], records: list[dict[str, Any]]) -> dict[str, Any]:
    job = api.client.post(
        "/v1/kbs/handbook/documents", json={"documents": records}, headers=headers
    ).json()
    for _ in range(400):
        got = api.client.get(f"/v1/jobs/{job['id']}", headers=headers).json()
        if got["state"] not in ("queued", "running"):
            return dict(got)
        time.sleep(0.02)
    raise AssertionError("the job did not finish")


def test_conflict_names_the_kb_as_the_tenant_does(api: Api) -> None:
    headers = api.key("tenanta")
    assert api.client.post("/v1/kbs", json={"name": "docs"}, headers=headers).status_code == 201
    again = api.client.post("/v1/kbs", json={"name": "docs"}, headers=headers)
    assert again.status_code == 409 and again.json()["error"]["code"] == "kb_exists"
    assert again.json()["error"]["message"] == "knowledge base 'docs' already exists"


def test_bad_kb_options_say_why_without_a_pydantic_dump(api: Api) -> None:
    headers = api.key("tenanta")
    body = {"name": "docs", "chunk_tokens": 64, "chunk_overlap": 40}
    bad = api.client.post("/v1/kbs", json=body, headers=headers)
    assert bad.status_code == 400, bad.text
    message = bad.json()["error"]["message"]
    assert "chunk_overlap (40) must be under half of chunk_tokens (64)" in message
    for leak in ("input_value", "tenanta", "pydantic", "validation error for"):
        assert leak not in message


def test_a_job_that_fails_unexpectedly_says_so_without_internals(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    headers = api.key("tenanta")
    api.client.post("/v1/kbs", json={"name": "handbook"}, headers=headers)
    store = api.services.kbs.get("tenanta__handbook").store

    def broken(batch: object) -> None:
        raise RuntimeError("/var/lib/rag/kbs/tenanta__handbook/kb.sqlite: disk I/O error")

    monkeypatch.setattr(store, "write", broken)
    job = _job(api, headers, [{"id": "a", "text": "alpha text"}])
    assert job["state"] == "failed"
    assert job["message"] == ("internal error (the server log has the details); nothing was stored")


def test_a_job_that_fails_after_writing_says_what_was_stored(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    headers = api.key("tenanta")
    api.client.post("/v1/kbs", json={"name": "handbook"}, headers=headers)
    store = api.services.kbs.get("tenanta__handbook").store

    def no_space() -> None:
        raise OSError(28, "No space left on device", "/data/kbs/tenanta__handbook/vectors.faiss")

    monkeypatch.setattr(store, "flush", no_space)
    job = _job(api, headers, [{"id": "a", "text": "alpha text"}, {"id": "b", "text": "beta"}])
    assert job["state"] == "failed"
    message = job["message"]
    assert message.startswith("the server ran out of disk space; 2 chunks written")
    assert "/data" not in message and "tenanta__" not in message
    monkeypatch.undo()
    hits = api.client.post(
        "/v1/kbs/handbook/search", json={"query": "alpha"}, headers=headers
    ).json()["data"]
    assert {h["doc_id"] for h in hits} == {"a", "b"}
