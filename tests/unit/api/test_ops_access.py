"""Operational endpoints are the operator's; failed authentication is throttled per address."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient
from pydantic import SecretStr

Api = Any
REMOTE = ("203.0.113.7", 5000)
OTHER_REMOTE = ("198.51.100.9", 5000)


def _error(response: Any, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"]["code"] == code
    assert body["request_id"] and body["request_id"] == response.headers["x-request-id"]


def test_metrics_and_readiness_details_need_the_ops_token_off_loopback(
    api_with: Callable[..., Api],
) -> None:
    api = api_with(api_ops_token=SecretStr("ops-secret-123"))
    remote = TestClient(api.client.app, client=REMOTE)
    _error(remote.get("/metrics"), 401, "ops_token_required")
    # A tenant's key is not the operator's.
    _error(remote.get("/metrics", headers=api.key()), 401, "ops_token_required")
    ops = {"Authorization": "Bearer ops-secret-123"}
    assert remote.get("/metrics", headers=ops).status_code == 200
    ready = remote.get("/readyz")
    assert ready.status_code in (200, 503) and ready.json()["checks"] == {}
    assert "embedder" in remote.get("/readyz", headers=ops).json()["checks"]
    # Loopback keeps them by default (a local Prometheus, `make run`).
    loopback = TestClient(api.client.app, client=("127.0.0.1", 5000))
    assert loopback.get("/metrics").status_code == 200
    assert "embedder" in loopback.get("/readyz").json()["checks"]
    # The docs are open by default.
    assert remote.get("/openapi.json").status_code == 200


def test_token_mode_protects_everything_and_open_mode_nothing(
    api_with: Callable[..., Api],
) -> None:
    strict = api_with(
        api_ops_access="token", api_docs_access="token", api_ops_token=SecretStr("t0ken-ops")
    )
    loopback = TestClient(strict.client.app, client=("127.0.0.1", 5000))
    for path in ("/metrics", "/openapi.json", "/docs", "/redoc"):
        _error(loopback.get(path), 401, "ops_token_required")
        assert loopback.get(path, headers={"Authorization": "Bearer t0ken-ops"}).status_code == 200
    assert loopback.get("/readyz").json()["checks"] == {}
    assert loopback.get("/healthz").status_code == 200
    # Without a token configured, token mode opens to no one, not even an empty bearer.
    sealed = api_with(api_ops_access="token")
    sealed_client = TestClient(sealed.client.app, client=("127.0.0.1", 5000))
    _error(
        sealed_client.get("/metrics", headers={"Authorization": "Bearer "}),
        401,
        "ops_token_required",
    )
    lax = api_with(api_ops_access="open")
    assert TestClient(lax.client.app, client=REMOTE).get("/metrics").status_code == 200


def test_failed_authentication_is_throttled_per_address(api_with: Callable[..., Api]) -> None:
    api = api_with(api_auth_failures_per_minute=3)
    good = api.key()
    attacker = TestClient(api.client.app, client=REMOTE)
    bad = {"Authorization": "Bearer rag_nokey_guess"}
    # Successes and other errors never use the allowance.
    for _ in range(10):
        assert attacker.get("/v1/kbs", headers=good).status_code == 200
    _error(attacker.get("/v1/kbs/none", headers=good), 404, "kb_not_found")
    for _ in range(3):
        _error(attacker.get("/v1/kbs", headers=bad), 401, "invalid_token")
    refused = attacker.get("/v1/kbs", headers=bad)
    _error(refused, 429, "auth_throttled")
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    # The address is refused before any key is looked up, even with a valid one.
    _error(attacker.get("/v1/kbs", headers=good), 429, "auth_throttled")
    _error(
        attacker.post(
            "/v1/oauth/token", data={"grant_type": "client_credentials"}, auth=("id", "guess")
        ),
        429,
        "auth_throttled",
    )
    # Other addresses are not affected.
    other = TestClient(api.client.app, client=OTHER_REMOTE)
    assert other.get("/v1/kbs", headers=good).status_code == 200
