"""Documents and ingestion-job routes over HTTP, on the app with the fake models."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from fastapi.testclient import TestClient

Api = Any  # the `api` fixture of conftest.py
Headers = dict[str, str]

FILES = [
    ("files", ("alpha.md", b"# Alpha\n\nAlpha particles are helium nuclei.", "text/markdown")),
    ("files", ("beta.txt", b"Beta decay emits an electron.", "text/plain")),
    ("files", ("gamma.xyz", b"no loader reads this", "application/octet-stream")),
]


def wait_job(client: TestClient, job_id: str, headers: Headers) -> dict[str, Any]:
    for _ in range(400):
        job: dict[str, Any] = client.get(f"/v1/jobs/{job_id}", headers=headers).json()
        if job["state"] not in ("queued", "running"):
            return job
        time.sleep(0.025)
    raise AssertionError(f"job {job_id} did not finish: {job}")


def make_kb(api: Api, headers: Headers, name: str = "docs") -> None:
    assert api.client.post("/v1/kbs", json={"name": name}, headers=headers).status_code == 201


def error(response: Any) -> dict[str, Any]:
    body: dict[str, Any] = response.json()["error"]
    return body


def test_upload_files_then_list_get_and_delete(api: Api) -> None:
    admin = api.key()
    make_kb(api, admin)
    response = api.client.post("/v1/kbs/docs/documents", files=FILES, headers=admin)

    assert response.status_code == 202, response.text
    job = response.json()
    assert response.headers["location"] == f"/v1/jobs/{job['id']}"
    assert job["kb"] == "docs" and job["state"] in ("queued", "running", "succeeded")
    done = wait_job(api.client, job["id"], admin)
    assert done["state"] == "succeeded" and done["counts"]["files"] == 3
    assert done["counts"]["parsed"] == 2 and done["counts"]["indexed"] >= 2
    assert [e["file"] for e in done["errors"]] == ["gamma.xyz"]
    assert set(done["timings"]) == {"parse", "embed", "index", "total"}

    page = api.client.get("/v1/kbs/docs/documents?offset=1&limit=1", headers=admin).json()
    assert page["total"] == 2 and page["offset"] == 1 and page["limit"] == 1
    assert [d["id"] for d in page["data"]] == ["beta.txt"]
    doc = api.client.get("/v1/kbs/docs/documents/alpha.md", headers=admin).json()
    assert doc["source"] == "upload:alpha.md" and doc["chunk_count"] >= 1
    assert set(doc) == {"id", "title", "source", "metadata", "chunk_count", "content_hash"}

    assert api.client.delete("/v1/kbs/docs/documents/alpha.md", headers=admin).status_code == 204
    gone = api.client.get("/v1/kbs/docs/documents/alpha.md", headers=admin)
    assert gone.status_code == 404 and error(gone)["code"] == "document_not_found"
    again = api.client.delete("/v1/kbs/docs/documents/alpha.md", headers=admin)
    assert again.status_code == 404
    assert api.client.get("/v1/kbs/docs", headers=admin).json()["documents"] == 1


def test_records_and_delete_by_filter(api: Api) -> None:
    admin = api.key()
    make_kb(api, admin)
    records = [
        {"id": "a/1", "text": "Refunds take 14 days.", "metadata": {"year": 2023}},
        {
            "id": "b",
            "text": "Shipping takes 3 days.",
            "title": "Shipping",
            "metadata": {"year": 2023},
        },
        {"id": "c", "text": "Returns are free.", "metadata": {"year": 2024, "lang": "en"}},
    ]
    response = api.client.post("/v1/kbs/docs/documents", json={"documents": records}, headers=admin)
    assert response.status_code == 202
    assert wait_job(api.client, response.json()["id"], admin)["state"] == "succeeded"
    nested = api.client.get("/v1/kbs/docs/documents/a%2F1", headers=admin)
    assert nested.status_code == 200 and nested.json()["metadata"] == {"year": 2023}

    deleted = api.client.post(
        "/v1/kbs/docs/documents/delete", json={"where": {"year": 2023}}, headers=admin
    )
    assert deleted.status_code == 200 and deleted.json() == {"deleted": 2}
    listed = api.client.get("/v1/kbs/docs/documents", headers=admin).json()
    assert [d["id"] for d in listed["data"]] == ["c"] and listed["total"] == 1
    empty = api.client.post("/v1/kbs/docs/documents/delete", json={"where": {}}, headers=admin)
    assert empty.status_code == 422 and error(empty)["param"] == "body.where"


def test_bad_bodies_name_the_problem(api: Api) -> None:
    admin = api.key()
    make_kb(api, admin)
    url = "/v1/kbs/docs/documents"

    def post(content_type: str | None = None, **kwargs: Any) -> Any:
        headers = {**admin, "content-type": content_type} if content_type else admin
        return api.client.post(url, headers=headers, **kwargs)

    missing = post("application/json", content=b"")
    assert missing.status_code == 422 and error(missing)["param"] == "body"
    twice = post(json={"documents": [{"id": "x", "text": "a"}, {"id": "x", "text": "b"}]})
    assert twice.status_code == 422 and "'x' appears twice" in error(twice)["message"]
    nested = post(json={"documents": [{"id": "x", "text": "a", "metadata": {"k": {"n": 1}}}]})
    assert nested.status_code == 422 and error(nested)["param"].startswith(
        "body.documents.0.metadata"
    )
    blank = post(json={"documents": [{"id": "x", "text": "   "}]})
    assert blank.status_code == 422 and error(blank)["param"] == "body.documents.0.text"
    many = post(json={"documents": [{"id": str(n), "text": "t"} for n in range(10_001)]})
    assert many.status_code == 422 and error(many)["param"] == "body.documents"
    text = post("text/plain", content=b"hello")
    assert text.status_code == 415 and error(text)["code"] == "unsupported_media_type"
    no_files = post(files=[("other", ("a.md", b"# A", "text/markdown"))])
    assert no_files.status_code == 422 and error(no_files)["param"] == "body.files"
    hidden = post(files=[("files", (".env", b"SECRET=1", "text/plain"))])
    assert hidden.status_code == 400 and "'.env'" in error(hidden)["message"]
    assert list((api.services.settings.api_dir / "uploads").iterdir()) == []  # nothing left


def test_upload_over_the_limit_is_413(api_with: Any) -> None:
    small = api_with(api_max_upload_bytes=2048, api_no_auth=True)
    client = small.client
    assert client.post("/v1/kbs", json={"name": "docs"}).status_code == 201
    big = [("files", ("big.txt", b"x" * 4096, "text/plain"))]
    response = client.post("/v1/kbs/docs/documents", files=big)
    assert response.status_code == 413
    assert error(response)["type"] == "request_too_large"
    assert error(response)["code"] == "upload_too_large"
    assert list((small.services.settings.api_dir / "uploads").iterdir()) == []
    assert client.get("/v1/kbs/docs/jobs").json()["data"] == []


def test_job_routes_scopes_and_tenants(api: Api) -> None:
    admin = api.key("acme")
    make_kb(api, admin)
    make_kb(api, admin, "other")
    records = {"documents": [{"id": "r", "text": "Refunds take 14 days."}]}
    first = api.client.post("/v1/kbs/docs/documents", json=records, headers=admin).json()
    second = api.client.post("/v1/kbs/docs/documents", json=records, headers=admin).json()
    wait_job(api.client, first["id"], admin)
    done = wait_job(api.client, second["id"], admin)
    assert done["counts"]["unchanged"] == 1 and done["counts"]["embedded"] == 0

    listed = api.client.get("/v1/kbs/docs/jobs", headers=admin).json()["data"]
    assert [j["id"] for j in listed] == [second["id"], first["id"]]  # newest first
    assert api.client.get("/v1/kbs/other/jobs", headers=admin).json()["data"] == []
    finished = api.client.post(f"/v1/jobs/{first['id']}/cancel", headers=admin)
    assert finished.status_code == 409 and error(finished)["code"] == "job_finished"

    reader = api.key("acme", ["read"])
    assert api.client.get(f"/v1/jobs/{first['id']}", headers=reader).status_code == 200
    assert api.client.post(f"/v1/jobs/{first['id']}/cancel", headers=reader).status_code == 403
    upload = api.client.post("/v1/kbs/docs/documents", json=records, headers=reader)
    assert upload.status_code == 403
    other_kb_only = api.key("acme", ["write"], kbs=["other"])
    hidden = api.client.get(f"/v1/jobs/{first['id']}", headers=other_kb_only)
    assert hidden.status_code == 404 and error(hidden)["code"] == "job_not_found"
    stranger = api.key("globex")
    assert api.client.get(f"/v1/jobs/{first['id']}", headers=stranger).status_code == 404
    assert api.client.post(f"/v1/jobs/{first['id']}/cancel", headers=stranger).status_code == 404
    assert api.client.get("/v1/jobs/job_missing", headers=admin).status_code == 404


def test_reuploading_an_unchanged_file_costs_nothing(api: Api) -> None:
    admin = api.key()
    make_kb(api, admin)
    one = [FILES[0]]
    first = api.client.post("/v1/kbs/docs/documents", files=one, headers=admin).json()
    assert wait_job(api.client, first["id"], admin)["counts"]["embedded"] >= 1
    second = api.client.post("/v1/kbs/docs/documents", files=one, headers=admin).json()
    counts = wait_job(api.client, second["id"], admin)["counts"]
    assert counts["unchanged"] == 1 and counts["embedded"] == 0


def test_streamed_upload_over_the_limit_is_413_with_its_code(api_with: Any) -> None:
    # No Content-Length (chunked): the limit trips while the body is being read.
    small = api_with(api_max_upload_bytes=2048, api_no_auth=True)
    client = small.client
    assert client.post("/v1/kbs", json={"name": "docs"}).status_code == 201
    boundary = "b0undary"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="big.txt"\r\n'
        "Content-Type: text/plain\r\n\r\n"
    ).encode()

    def body() -> Iterator[bytes]:
        yield head
        for _ in range(8):
            yield b"x" * 1024
        yield f"\r\n--{boundary}--\r\n".encode()

    response = client.post(
        "/v1/kbs/docs/documents",
        content=body(),
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    assert response.status_code == 413
    assert error(response)["code"] == "upload_too_large"
    assert response.json()["request_id"] == response.headers["x-request-id"]
