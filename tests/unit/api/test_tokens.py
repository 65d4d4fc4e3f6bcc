"""JWT access tokens: round trip, narrowing, expiry, forgery, pinned algorithm, kept secret."""

from __future__ import annotations

import base64
import json
import stat
from pathlib import Path
from typing import Any

import jwt
import pytest
from pydantic import SecretStr

from api.auth.tokens import TokenIssuer
from api.errors import ApiError
from controlplane.principal import Principal
from rag.config import Settings
from rag.errors import ConfigError, InvalidInputError

SECRET = b"s" * 32
WRITER = Principal("AbCdEfGhIjKl", "acme", frozenset({"write"}), frozenset({"handbook", "faq"}))


class Clock:
    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def rejected(issuer: TokenIssuer, token: str) -> ApiError:
    with pytest.raises(ApiError) as caught:
        issuer.verify(token)
    err = caught.value
    assert (err.status, err.type, err.code) == (401, "authentication_error", "invalid_token")
    assert err.headers == {"WWW-Authenticate": "Bearer"}
    return err


def claims_of(token: str) -> dict[str, Any]:
    return jwt.decode(token, options={"verify_signature": False})


def test_round_trip_keeps_the_principal() -> None:
    issuer = TokenIssuer(SECRET, 900)
    token, expires_in = issuer.issue(WRITER)

    assert expires_in == 900
    assert issuer.verify(token) == WRITER
    every_kb = Principal("AbCdEfGhIjKl", "acme", frozenset({"read", "admin"}))
    assert issuer.verify(issuer.issue(every_kb)[0]) == every_kb


def test_claims_name_key_tenant_scopes_and_lifetime() -> None:
    clock = Clock()
    token, _ = TokenIssuer(SECRET, 600, clock).issue(WRITER)
    claims = claims_of(token)

    assert jwt.get_unverified_header(token)["alg"] == "HS256"
    assert claims["sub"] == WRITER.key_id and claims["tenant"] == "acme"
    assert claims["scopes"] == ["write"] and claims["kbs"] == ["faq", "handbook"]
    assert claims["iss"] == "rag-service"
    assert claims["iat"] == int(clock.now) and claims["exp"] == int(clock.now) + 600
    assert claims["jti"] != claims_of(TokenIssuer(SECRET, 600, clock).issue(WRITER)[0])["jti"]


def test_tokens_may_be_narrowed_never_widened() -> None:
    issuer = TokenIssuer(SECRET, 900)
    token, _ = issuer.issue(WRITER, ["read"])  # write implies read

    assert issuer.verify(token).scopes == frozenset({"read"})
    with pytest.raises(InvalidInputError):
        issuer.issue(WRITER, ["admin"])
    with pytest.raises(InvalidInputError):
        issuer.issue(WRITER, [])


def test_tokens_expire_on_the_injected_clock() -> None:
    clock = Clock()
    issuer = TokenIssuer(SECRET, 60, clock)
    token, _ = issuer.issue(WRITER)

    clock.now += 59
    assert issuer.verify(token) == WRITER
    clock.now += 1
    assert rejected(issuer, token).message == "access token expired"


def test_tampered_and_foreign_tokens_are_rejected() -> None:
    issuer = TokenIssuer(SECRET, 900)
    token, _ = issuer.issue(WRITER)
    header, _, signature = token.split(".")
    claims = claims_of(token) | {"tenant": "globex", "scopes": ["admin"]}
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()

    rejected(issuer, f"{header}.{forged}.{signature}")
    rejected(issuer, TokenIssuer(b"t" * 32, 900).issue(WRITER)[0])  # another secret
    rejected(issuer, token[:-4])  # cut signature
    for garbage in ["", "abc", "a.b.c", "x" * 5000]:
        rejected(issuer, garbage)


def test_alg_none_and_other_algorithms_are_rejected() -> None:
    issuer = TokenIssuer(SECRET, 900, Clock())
    claims = claims_of(issuer.issue(WRITER)[0])

    rejected(issuer, jwt.encode(claims, None, algorithm="none"))
    rejected(issuer, jwt.encode(claims, SECRET * 2, algorithm="HS512"))


def test_signed_tokens_without_our_claims_are_rejected() -> None:
    clock = Clock()
    issuer = TokenIssuer(SECRET, 900, clock)
    good = claims_of(issuer.issue(WRITER)[0])

    def signed(claims: dict[str, Any]) -> str:
        return jwt.encode(claims, SECRET, algorithm="HS256")

    assert issuer.verify(signed(good)) == WRITER
    for missing in ["tenant", "exp", "iss", "scopes"]:
        rejected(issuer, signed({k: v for k, v in good.items() if k != missing}))
    rejected(issuer, signed(good | {"iss": "someone-else"}))
    rejected(issuer, signed(good | {"scopes": ["root"]}))
    rejected(issuer, signed(good | {"scopes": []}))
    rejected(issuer, signed(good | {"kbs": "handbook"}))


def test_short_secrets_are_refused() -> None:
    with pytest.raises(ConfigError, match="at least 32 bytes"):
        TokenIssuer(b"short", 900)


def test_generated_secret_is_private_and_reused(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", api_jwt_ttl=120)
    first = TokenIssuer.from_settings(settings)
    secret_file = settings.api_dir / "jwt.secret"

    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
    assert len(secret_file.read_bytes()) == 64  # 32 random bytes, hex
    assert [p.name for p in settings.api_dir.iterdir()] == ["jwt.secret"]  # no temp file left
    token, expires_in = first.issue(WRITER)
    assert expires_in == 120
    # A restart reads the same secret: tokens issued before it still verify.
    assert TokenIssuer.from_settings(settings).verify(token) == WRITER


def test_configured_secret_wins_over_the_file(tmp_path: Path) -> None:
    configured = "c" * 40
    settings = Settings(data_dir=tmp_path / "data", api_jwt_secret=SecretStr(configured))
    token, _ = TokenIssuer.from_settings(settings).issue(WRITER)

    assert TokenIssuer(configured.encode(), 900).verify(token) == WRITER
    assert not (settings.api_dir / "jwt.secret").exists()


def test_a_truncated_secret_file_is_reported(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    settings.api_dir.mkdir(parents=True)
    (settings.api_dir / "jwt.secret").write_text("too short")
    with pytest.raises(ConfigError, match="fewer than 32 bytes"):
        TokenIssuer.from_settings(settings)


def test_scaled_out_replicas_need_one_configured_secret(tmp_path: Path) -> None:
    scaled = Settings(data_dir=tmp_path, redis_url=SecretStr("redis://cache:6379/0"))
    with pytest.raises(ConfigError, match="set RAG_API_JWT_SECRET"):
        TokenIssuer.from_settings(scaled)
    assert not (scaled.api_dir / "jwt.secret").exists()  # no per-replica secret was made
    configured = scaled.model_copy(update={"api_jwt_secret": SecretStr("s" * 40)})
    assert TokenIssuer.from_settings(configured).ttl_seconds == scaled.api_jwt_ttl
