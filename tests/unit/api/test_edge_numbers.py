"""Numbers at the edges of the API: out-of-range and mistyped integers are 422, never 500."""

from __future__ import annotations

from typing import Any

import pytest
from test_native_routes import _kb_with_docs

Api = Any

HUGE = 100000000000000000000000000000
BELOW_INT64 = -(2**63) - 1


@pytest.mark.parametrize("value", [HUGE, BELOW_INT64, 2**63])
@pytest.mark.parametrize("mode", ["hybrid", "dense", "bm25"])
def test_out_of_range_filter_integers_are_422(api: Api, value: int, mode: str) -> None:
    headers = api.key()
    _kb_with_docs(api, headers)
    body = {"query": "refunds", "mode": mode, "filters": {"year": value}}
    got = api.client.post("/v1/kbs/handbook/search", json=body, headers=headers)
    assert got.status_code == 422, got.text
    assert got.json()["error"]["param"].startswith("body.filters")
    assert "out of range" in got.json()["error"]["message"]
    answer = {"question": "refunds?", "mode": mode, "filters": {"year": value}}
    got = api.client.post("/v1/kbs/handbook/answer", json=answer, headers=headers)
    assert got.status_code == 422, got.text
    where = {"where": {"year": value}}
    got = api.client.post("/v1/kbs/handbook/documents/delete", json=where, headers=headers)
    assert got.status_code == 422, got.text
    assert api.client.get("/v1/kbs/handbook", headers=headers).json()["documents"] == 2


def test_digit_strings_past_int64_search_as_text(api: Api) -> None:
    headers = api.key()
    _kb_with_docs(api, headers)
    for value in (str(HUGE), str(BELOW_INT64), "9" * 5000):
        body = {"query": "refunds", "filters": {"year": value}}
        got = api.client.post("/v1/kbs/handbook/search", json=body, headers=headers)
        assert got.status_code == 200 and got.json()["data"] == [], got.text
        where = {"where": {"year": value}}
        got = api.client.post("/v1/kbs/handbook/documents/delete", json=where, headers=headers)
        assert got.status_code == 200 and got.json() == {"deleted": 0}


@pytest.mark.parametrize("k", [True, False, "5", 5.0, 1e30, -1, HUGE])
def test_k_must_be_an_integer_in_range(api: Api, k: Any) -> None:
    headers = api.key()
    _kb_with_docs(api, headers)
    got = api.client.post(
        "/v1/kbs/handbook/search", json={"query": "refunds", "k": k}, headers=headers
    )
    assert got.status_code == 422, got.text
    assert got.json()["error"]["param"] == "body.k"
    got = api.client.post(
        "/v1/kbs/handbook/answer", json={"question": "refunds?", "k": k}, headers=headers
    )
    assert got.status_code == 422 and got.json()["error"]["param"] == "body.k"


def test_metadata_integers_past_int64_are_refused_at_upload(api: Api) -> None:
    headers = api.key()
    api.client.post("/v1/kbs", json={"name": "handbook"}, headers=headers)
    records = [{"id": "a", "text": "some text", "metadata": {"year": HUGE}}]
    got = api.client.post(
        "/v1/kbs/handbook/documents", json={"documents": records}, headers=headers
    )
    assert got.status_code == 422 and "out of range" in got.json()["error"]["message"]


@pytest.mark.parametrize("field", ["chunk_tokens", "chunk_overlap"])
def test_kb_options_refuse_booleans(api: Api, field: str) -> None:
    got = api.client.post("/v1/kbs", json={"name": "handbook", field: True}, headers=api.key())
    assert got.status_code == 422 and got.json()["error"]["param"] == f"body.{field}"
