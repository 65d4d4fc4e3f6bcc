"""Short-lived JWT access tokens (HS256) for the OAuth2 client-credentials grant.

A token carries the principal it was issued for (key id, tenant, scopes, KB allow-list), so a
request with one needs no key lookup. The signing secret comes from the settings or is made
once and kept under the data directory, so tokens stay valid across restarts.
"""

from __future__ import annotations

import logging
import os
import secrets
import time
import uuid
from collections.abc import Callable, Collection
from pathlib import Path
from typing import Any

import jwt

from api.errors import invalid_token
from controlplane.principal import SCOPES, Principal, Scope
from rag.config import Settings
from rag.errors import ConfigError, InvalidInputError
from rag.files import private_dir

log = logging.getLogger("api.auth.tokens")

ISSUER = "rag-service"
ALGORITHM = "HS256"
# RFC 7518 3.2: an HS256 key must be at least as long as the hash output.
MIN_SECRET_BYTES = 32
SECRET_FILE = "jwt.secret"
# Far above any token we issue; refuses absurd input before any parsing.
MAX_TOKEN_CHARS = 4096
_REQUIRED = ["sub", "tenant", "scopes", "iat", "exp", "iss", "jti"]


class TokenIssuer:
    """Issues and verifies access tokens; `clock` returns Unix seconds (tests pass a fake one)."""

    def __init__(
        self, secret: bytes, ttl_seconds: int, clock: Callable[[], float] = time.time
    ) -> None:
        if len(secret) < MIN_SECRET_BYTES:
            raise ConfigError(f"the JWT secret must be at least {MIN_SECRET_BYTES} bytes")
        if ttl_seconds < 1:
            raise ConfigError("the access-token lifetime must be at least 1 second")
        self._secret = secret
        self.ttl_seconds = ttl_seconds
        self._clock = clock

    @classmethod
    def from_settings(cls, settings: Settings) -> TokenIssuer:
        """The configured secret, else the one kept at `<api dir>/jwt.secret` (made once).

        Scaled out the secret must be configured: replicas that each made their own would
        refuse one another's tokens.
        """
        if settings.api_jwt_secret is not None:
            secret = settings.api_jwt_secret.get_secret_value().encode("utf-8")
        elif settings.scaled_out:
            raise ConfigError(
                "set RAG_API_JWT_SECRET (the same value for every API replica): this deployment "
                "is scaled out, and a token issued by one replica must verify on the others"
            )
        else:
            secret = load_or_create_secret(settings.api_dir / SECRET_FILE)
        return cls(secret, settings.api_jwt_ttl)

    def issue(
        self, principal: Principal, scopes: Collection[Scope] | None = None
    ) -> tuple[str, int]:
        """A signed token for `principal`, optionally narrowed to `scopes`; and its lifetime."""
        granted = principal.scopes if scopes is None else frozenset(scopes)
        if not granted or not all(principal.has(s) for s in granted):
            raise InvalidInputError(f"scopes {sorted(granted)} are not within the key's scopes")
        now = int(self._clock())
        claims: dict[str, Any] = {
            "sub": principal.key_id,
            "tenant": principal.tenant,
            "scopes": [s for s in SCOPES if s in granted],
            "kbs": None if principal.kbs is None else sorted(principal.kbs),
            "iat": now,
            "exp": now + self.ttl_seconds,
            "iss": ISSUER,
            "jti": uuid.uuid4().hex,
        }
        return jwt.encode(claims, self._secret, algorithm=ALGORITHM), self.ttl_seconds

    def verify(self, token: str) -> Principal:
        """The token's principal; 401 when it is malformed, forged, expired or not ours."""
        if len(token) > MAX_TOKEN_CHARS:
            raise invalid_token("malformed access token")
        try:
            claims = jwt.decode(
                token,
                self._secret,
                # Pinned: the header's `alg` never chooses (no `none`, no key confusion).
                algorithms=[ALGORITHM],
                issuer=ISSUER,
                # Time claims are checked below against the injected clock.
                options={"require": _REQUIRED, "verify_exp": False, "verify_iat": False},
            )
        except jwt.InvalidSignatureError:
            raise invalid_token("invalid access token signature") from None
        except jwt.InvalidTokenError:
            raise invalid_token("malformed or foreign access token") from None
        exp = claims["exp"]
        if not isinstance(exp, int) or isinstance(exp, bool):
            raise invalid_token("malformed access token")
        if self._clock() >= exp:
            raise invalid_token("access token expired")
        return _principal(claims)


def _principal(claims: dict[str, Any]) -> Principal:
    """The principal a verified token names; a signed but ill-shaped payload is refused."""
    sub, tenant, scopes, kbs = claims["sub"], claims["tenant"], claims["scopes"], claims.get("kbs")
    well_formed = (
        isinstance(sub, str)
        and isinstance(tenant, str)
        and isinstance(scopes, list)
        and bool(scopes)
        and all(s in SCOPES for s in scopes)
        and (kbs is None or (isinstance(kbs, list) and all(isinstance(k, str) for k in kbs)))
    )
    if not well_formed:
        raise invalid_token("malformed access token")
    return Principal(sub, tenant, frozenset(scopes), None if kbs is None else frozenset(kbs))


def load_or_create_secret(path: Path) -> bytes:
    """The secret kept at `path`; the first caller writes 32 random bytes (hex) with mode 0600.

    Created under a temporary name and linked into place, so a reader never sees a partial
    file and two processes starting at once agree on one secret (the loser reads the winner's).
    The key is the file's text, so copying it into RAG_API_JWT_SECRET (say, for a second
    replica) signs and verifies the same tokens.
    """
    private_dir(path.parent)
    if not path.exists():
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w") as out:
                out.write(secrets.token_hex(MIN_SECRET_BYTES))
                out.flush()
                os.fsync(out.fileno())
            try:
                os.link(tmp, path)
                log.info("created the JWT signing secret at %s", path)
            except FileExistsError:
                pass
        finally:
            tmp.unlink(missing_ok=True)
    secret = path.read_bytes().strip()
    if len(secret) < MIN_SECRET_BYTES:
        raise ConfigError(f"{path} holds fewer than {MIN_SECRET_BYTES} bytes: delete it or fix it")
    return secret
