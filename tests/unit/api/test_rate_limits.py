"""Per-key rate limits through the whole app: 429 with Retry-After, other keys unaffected."""

from __future__ import annotations

from typing import Any


def test_requests_over_the_limit_get_429_with_retry_after(limited: Any) -> None:
    first, second = limited.key("acme"), limited.key("acme")
    statuses = [limited.client.get("/v1/kbs", headers=first).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    refused = limited.client.get("/v1/kbs", headers=first)
    assert refused.json()["error"]["type"] == "rate_limit_error"
    assert int(refused.headers["retry-after"]) >= 1
    # The limit is per key: a second key of the same tenant is not slowed down.
    assert limited.client.get("/v1/kbs", headers=second).status_code == 200


def test_generated_tokens_are_limited_per_key(limited: Any) -> None:
    admin = limited.key("acme")
    limited.client.post("/v1/kbs", json={"name": "kb"}, headers=admin)
    records = [{"id": "a", "text": "Refunds take 14 days."}]
    limited.client.post("/v1/kbs/kb/documents", json={"documents": records}, headers=admin)
    reader = limited.key("acme", scopes=("read",))
    key_id = reader["Authorization"].split("_")[1]  # rag_<key id>_<secret>
    limited.services.limiter.charge_tokens(key_id, 25)  # over the 20-token budget
    refused = limited.client.post(
        "/v1/kbs/kb/answer", json={"question": "How long do refunds take?"}, headers=reader
    )
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "token_rate_limited"
    assert int(refused.headers["retry-after"]) >= 1
