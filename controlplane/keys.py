"""API keys: `rag_<key id>_<secret>`, bound to a tenant, scopes and an optional KB allow-list.

Only the SHA-256 hash of a whole key is stored. A slow password hash (bcrypt, argon2) exists
to make guessing *low-entropy* secrets expensive; our secrets are 256 random bits, so no
guess can succeed and a fast hash loses nothing while keeping every request's check cheap.

The keys live in the control plane's database (`controlplane.db`), shared by every API replica,
the service's threads and the `rag keys` command: a revocation made anywhere is seen by the very
next request on any replica because nothing is cached.
"""

from __future__ import annotations

import builtins
import hashlib
import hmac
import json
import re
import secrets
import string
from collections.abc import Collection
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, field_serializer
from sqlalchemy import ColumnElement, Engine, select
from sqlalchemy.exc import IntegrityError

from controlplane.principal import SCOPES, Principal, Scope
from controlplane.schema import api_keys
from controlplane.tenants import ensure_tenants
from rag.errors import InvalidInputError
from rag.tenancy import check_public_name, check_tenant

KEY_PREFIX = "rag_"
KEY_ID_LENGTH = 12
# Letters and digits only: the id never holds the '_' that separates it from the secret, so
# `rag_<id>_<secret>` parses unambiguously although the url-safe secret may contain '_'.
_ID_ALPHABET = string.ascii_letters + string.digits
_SECRET_BYTES = 32
_KEY = re.compile(rf"^{KEY_PREFIX}([A-Za-z0-9]{{{KEY_ID_LENGTH}}})_([A-Za-z0-9_-]{{40,128}})$")
MAX_LABEL = 200

_COLUMNS = ("key_id", "tenant", "scopes", "kbs", "name", "created_at", "revoked_at")


class KeyInfo(BaseModel):
    """A stored key, without its secret. `kbs` None means every KB of the tenant.

    Its JSON (`model_dump`, what `rag keys --json` prints) lists scopes in rank order and
    KBs sorted, and never holds the secret or its hash: neither is a field.
    """

    model_config = ConfigDict(frozen=True)

    key_id: str
    tenant: str
    scopes: frozenset[Scope]
    kbs: frozenset[str] | None
    name: str
    created_at: str
    revoked_at: str | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    def principal(self) -> Principal:
        return Principal(self.key_id, self.tenant, self.scopes, self.kbs)

    @field_serializer("scopes")
    def _ranked(self, scopes: frozenset[Scope]) -> list[str]:
        return ordered_scopes(scopes)

    @field_serializer("kbs")
    def _sorted(self, kbs: frozenset[str] | None) -> list[str] | None:
        return None if kbs is None else sorted(kbs)


def ordered_scopes(scopes: Collection[str]) -> list[str]:
    """Scopes in rank order (read, write, admin)."""
    return [s for s in SCOPES if s in scopes]


def key_id_of(token: str) -> str | None:
    """The id part of a well-formed API key, else None."""
    match = _KEY.match(token)
    return match.group(1) if match else None


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _check_scopes(scopes: Collection[str]) -> frozenset[Scope]:
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown:
        raise InvalidInputError(f"unknown scope(s) {unknown}: use {', '.join(SCOPES)}")
    if not scopes:
        raise InvalidInputError(f"a key needs at least one scope ({', '.join(SCOPES)})")
    return frozenset(s for s in SCOPES if s in scopes)


def _check_kbs(kbs: Collection[str] | None) -> frozenset[str] | None:
    if kbs is None:
        return None
    if not kbs:
        # An empty allow-list would make a key that can use no KB: almost surely a mistake.
        raise InvalidInputError("the KB allow-list is empty: name at least one KB, or none for all")
    return frozenset(check_public_name(kb) for kb in kbs)


def _check_label(name: str) -> str:
    if len(name) > MAX_LABEL or any(not ch.isprintable() for ch in name):
        raise InvalidInputError(f"invalid key name: at most {MAX_LABEL} printable characters")
    return name


class KeyStore:
    """Keys in the control plane's database; safe to share between threads and processes."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def create(
        self,
        tenant: str,
        scopes: Collection[Scope],
        kbs: Collection[str] | None = None,
        name: str = "",
    ) -> tuple[KeyInfo, str]:
        """Store a new key; returns its record and the plaintext key (shown once, never stored)."""
        info_scopes = _check_scopes(scopes)
        allowed = _check_kbs(kbs)
        check_tenant(tenant)
        _check_label(name)
        created = _now()
        while True:
            key_id = "".join(secrets.choice(_ID_ALPHABET) for _ in range(KEY_ID_LENGTH))
            token = f"{KEY_PREFIX}{key_id}_{secrets.token_urlsafe(_SECRET_BYTES)}"
            try:
                with self.engine.begin() as conn:
                    ensure_tenants(conn, [tenant])
                    conn.execute(
                        api_keys.insert().values(
                            key_id=key_id,
                            key_hash=_hash(token),
                            tenant=tenant,
                            scopes=json.dumps(ordered_scopes(info_scopes)),
                            kbs=None if allowed is None else json.dumps(sorted(allowed)),
                            name=name,
                            created_at=created,
                        )
                    )
                break
            except IntegrityError:  # an id collision (62^12 ids): draw again
                continue
        info = KeyInfo(
            key_id=key_id,
            tenant=tenant,
            scopes=info_scopes,
            kbs=allowed,
            name=name,
            created_at=created,
            revoked_at=None,
        )
        return info, token

    def authenticate(self, token: str) -> Principal | None:
        """The key's principal; None for a malformed, unknown or revoked key."""
        key_id = key_id_of(token)
        if key_id is None:
            return None
        with self.engine.connect() as conn:
            row = conn.execute(
                select(api_keys.c.key_hash, *_columns()).where(api_keys.c.key_id == key_id)
            ).first()
        if row is None:
            return None
        # Constant-time: the comparison must not tell how much of a guessed secret was right.
        if not hmac.compare_digest(row[0], _hash(token)):
            return None
        info = _info(tuple(row[1:]))
        return info.principal() if info.active else None

    def get(self, key_id: str) -> KeyInfo | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(*_columns()).where(api_keys.c.key_id == key_id)).first()
        return None if row is None else _info(tuple(row))

    def is_active(self, key_id: str) -> bool:
        """Whether the key exists and is not revoked (JWTs of a revoked key stop working)."""
        info = self.get(key_id)
        return info is not None and info.active

    def list(self, tenant: str | None = None) -> builtins.list[KeyInfo]:
        """Every key (or a tenant's), oldest first, revoked ones included."""
        query = select(*_columns()).order_by(api_keys.c.created_at, api_keys.c.key_id)
        if tenant is not None:
            query = query.where(api_keys.c.tenant == tenant)
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        return [_info(tuple(row)) for row in rows]

    def revoke(self, key_id: str) -> bool:
        """Revoke an active key; False when no active key has that id."""
        with self.engine.begin() as conn:
            result = conn.execute(
                api_keys.update()
                .where(api_keys.c.key_id == key_id, api_keys.c.revoked_at.is_(None))
                .values(revoked_at=_now())
            )
        return result.rowcount == 1


def _columns() -> tuple[ColumnElement[Any], ...]:
    return tuple(api_keys.c[name] for name in _COLUMNS)


def _info(row: tuple[Any, ...]) -> KeyInfo:
    key_id, tenant, scopes, kbs, name, created_at, revoked_at = row
    return KeyInfo(
        key_id=key_id,
        tenant=tenant,
        scopes=frozenset(json.loads(scopes)),
        kbs=None if kbs is None else frozenset(json.loads(kbs)),
        name=name,
        created_at=created_at,
        revoked_at=revoked_at,
    )
