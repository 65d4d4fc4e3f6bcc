"""POST /v1/oauth/token: client credentials in the form or as Basic auth, scopes, failures."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import Engine

from api.auth.tokens import TokenIssuer
from api.errors import install_error_handlers
from api.ratelimit import RateLimiter
from api.routes import oauth
from controlplane.keys import KeyInfo, KeyStore

URL = "/v1/oauth/token"


@dataclass
class OAuthServices:
    """The three services the token route uses."""

    keys: KeyStore
    tokens: TokenIssuer
    limiter: RateLimiter


@dataclass
class Env:
    client: TestClient
    services: OAuthServices
    info: KeyInfo
    key: str

    def form(self, **extra: str) -> dict[str, str]:
        base = {"grant_type": "client_credentials", "client_id": self.info.key_id}
        return base | {"client_secret": self.key} | extra


@pytest.fixture
def env(control: Engine) -> Iterator[Env]:
    services = OAuthServices(KeyStore(control), TokenIssuer(b"k" * 32, 900), RateLimiter(3, 1000))
    app = FastAPI()
    install_error_handlers(app)
    app.include_router(oauth.router, prefix="/v1")
    app.state.services = services
    info, key = services.keys.create("acme", ["write"], kbs=["handbook"])
    with TestClient(app) as client:
        yield Env(client, services, info, key)


def error(response: Response, status: int, code: str) -> dict[str, object]:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"]["code"] == code
    assert set(body) == {"error", "request_id"}
    return dict(body["error"])


def test_form_credentials_get_a_token_for_the_same_principal(env: Env) -> None:
    response = env.client.post(URL, data=env.form())

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 900
    assert body["scope"] == "write"
    assert response.headers["cache-control"] == "no-store"
    assert env.services.tokens.verify(body["access_token"]) == env.info.principal()


def test_basic_auth_credentials_work_too(env: Env) -> None:
    response = env.client.post(
        URL, data={"grant_type": "client_credentials"}, auth=(env.info.key_id, env.key)
    )
    assert response.status_code == 200, response.text
    assert env.services.tokens.verify(response.json()["access_token"]).tenant == "acme"


def test_scope_may_narrow_the_token(env: Env) -> None:
    response = env.client.post(URL, data=env.form(scope="read"))

    assert response.status_code == 200, response.text
    assert response.json()["scope"] == "read"
    assert env.services.tokens.verify(response.json()["access_token"]).scopes == {"read"}


@pytest.mark.parametrize("scope", ["admin", "read admin", "root"])
def test_scopes_beyond_the_key_are_refused(env: Env, scope: str) -> None:
    body = error(env.client.post(URL, data=env.form(scope=scope)), 400, "invalid_scope")
    assert body["type"] == "invalid_request_error" and body["param"] == "scope"


def test_wrong_secret_is_an_invalid_client(env: Env) -> None:
    wrong = env.key[:-1] + ("A" if env.key[-1] != "A" else "B")
    response = env.client.post(URL, data=env.form(client_secret=wrong))
    body = error(response, 401, "invalid_client")
    assert body["type"] == "authentication_error"
    assert response.headers["www-authenticate"] == "Bearer"

    basic = env.client.post(
        URL, data={"grant_type": "client_credentials"}, auth=(env.info.key_id, wrong)
    )
    error(basic, 401, "invalid_client")
    assert basic.headers["www-authenticate"].startswith("Basic")


def test_client_id_must_name_the_key(env: Env) -> None:
    other, _ = env.services.keys.create("acme", ["read"])
    error(env.client.post(URL, data=env.form(client_id=other.key_id)), 401, "invalid_client")
    missing = {"grant_type": "client_credentials", "client_secret": env.key}
    error(env.client.post(URL, data=missing), 401, "invalid_client")


def test_revoked_keys_get_no_token(env: Env) -> None:
    env.services.keys.revoke(env.info.key_id)
    error(env.client.post(URL, data=env.form()), 401, "invalid_client")


def test_other_grants_are_unsupported(env: Env) -> None:
    response = env.client.post(URL, data=env.form(grant_type="password"))
    error(response, 400, "unsupported_grant_type")
    without = {"client_id": env.info.key_id, "client_secret": env.key}
    assert error(env.client.post(URL, data=without), 422, "invalid_field")["param"] == (
        "body.grant_type"
    )


def test_malformed_basic_auth_and_two_methods_are_refused(env: Env) -> None:
    garbled = {"Authorization": "Basic !!!not-base64"}
    grant = {"grant_type": "client_credentials"}
    error(env.client.post(URL, data=grant, headers=garbled), 401, "invalid_client")
    latin = {"Authorization": b"Basic \xe9\xe9=="}
    error(env.client.post(URL, data=grant, headers=latin), 401, "invalid_client")
    no_colon = {"Authorization": "Basic " + base64.b64encode(env.key.encode()).decode()}
    error(env.client.post(URL, data=grant, headers=no_colon), 401, "invalid_client")
    both = env.client.post(URL, data=env.form(), auth=(env.info.key_id, env.key))
    error(both, 400, "invalid_request")


def test_oversized_fields_are_validation_errors(env: Env) -> None:
    error(env.client.post(URL, data=env.form(client_secret="x" * 5000)), 422, "invalid_field")


def test_token_requests_count_against_the_key_rate_limit(env: Env) -> None:
    for _ in range(3):
        assert env.client.post(URL, data=env.form()).status_code == 200
    response = env.client.post(URL, data=env.form())
    error(response, 429, "rate_limited")
    assert int(response.headers["retry-after"]) >= 1
