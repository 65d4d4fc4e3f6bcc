"""API keys: `rag_<key id>_<secret>`, bound to a tenant, scopes and an optional KB allow-list.

Only the SHA-256 hash of a whole key is stored. A slow password hash (bcrypt, argon2) exists
to make guessing *low-entropy* secrets expensive; our secrets are 256 random bits, so no
guess can succeed and a fast hash loses nothing while keeping every request's check cheap.

The store is one SQLite file shared by the service (many worker threads) and the `rag keys`
command (another process): WAL lets both work at once, and a revocation is seen by the very
next request because nothing is cached.
"""

from __future__ import annotations

import builtins
import hashlib
import hmac
import json
import re
import secrets
import sqlite3
import string
import threading
from collections.abc import Collection
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, field_serializer

from controlplane.principal import SCOPES, Principal, Scope
from rag.errors import InvalidInputError
from rag.files import private_dir, private_file
from rag.tenancy import check_public_name, check_tenant

KEY_PREFIX = "rag_"
KEY_ID_LENGTH = 12
# Letters and digits only: the id never holds the '_' that separates it from the secret, so
# `rag_<id>_<secret>` parses unambiguously although the url-safe secret may contain '_'.
_ID_ALPHABET = string.ascii_letters + string.digits
_SECRET_BYTES = 32
_KEY = re.compile(rf"^{KEY_PREFIX}([A-Za-z0-9]{{{KEY_ID_LENGTH}}})_([A-Za-z0-9_-]{{40,128}})$")
MAX_LABEL = 200

_SCHEMA = """
CREATE TABLE IF NOT EXISTS api_keys (
    key_id     TEXT PRIMARY KEY,
    key_hash   TEXT NOT NULL,
    tenant     TEXT NOT NULL,
    scopes     TEXT NOT NULL,
    kbs        TEXT,
    name       TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL,
    revoked_at TEXT
);
CREATE INDEX IF NOT EXISTS api_keys_tenant ON api_keys (tenant);
"""
_COLUMNS = "key_id, tenant, scopes, kbs, name, created_at, revoked_at"


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
    """Keys in SQLite at `path`; safe to share between threads."""

    def __init__(self, path: Path) -> None:
        private_dir(path.parent)
        self.path = private_file(path)
        self._lock = threading.Lock()
        # One connection guarded by a lock: SQLite calls are short and the lock keeps the
        # connection's state consistent across the service's worker threads.
        self._db = sqlite3.connect(path, check_same_thread=False, timeout=10.0)
        with self._lock:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.executescript(_SCHEMA)
            self._db.commit()

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
        with self._lock:
            while True:
                key_id = "".join(secrets.choice(_ID_ALPHABET) for _ in range(KEY_ID_LENGTH))
                token = f"{KEY_PREFIX}{key_id}_{secrets.token_urlsafe(_SECRET_BYTES)}"
                try:
                    with self._db:
                        self._db.execute(
                            "INSERT INTO api_keys (key_id, key_hash, tenant, scopes, kbs, name,"
                            " created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                            (
                                key_id,
                                _hash(token),
                                tenant,
                                json.dumps(ordered_scopes(info_scopes)),
                                None if allowed is None else json.dumps(sorted(allowed)),
                                name,
                                created,
                            ),
                        )
                    break
                except sqlite3.IntegrityError:  # an id collision (62^12 ids): draw again
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
        with self._lock:
            row = self._db.execute(
                f"SELECT key_hash, {_COLUMNS} FROM api_keys WHERE key_id = ?", (key_id,)
            ).fetchone()
        if row is None:
            return None
        # Constant-time: the comparison must not tell how much of a guessed secret was right.
        if not hmac.compare_digest(row[0], _hash(token)):
            return None
        info = _info(row[1:])
        return info.principal() if info.active else None

    def get(self, key_id: str) -> KeyInfo | None:
        with self._lock:
            row = self._db.execute(
                f"SELECT {_COLUMNS} FROM api_keys WHERE key_id = ?", (key_id,)
            ).fetchone()
        return None if row is None else _info(row)

    def is_active(self, key_id: str) -> bool:
        """Whether the key exists and is not revoked (JWTs of a revoked key stop working)."""
        info = self.get(key_id)
        return info is not None and info.active

    def list(self, tenant: str | None = None) -> builtins.list[KeyInfo]:
        """Every key (or a tenant's), oldest first, revoked ones included."""
        query = f"SELECT {_COLUMNS} FROM api_keys"
        params: tuple[str, ...] = ()
        if tenant is not None:
            query += " WHERE tenant = ?"
            params = (tenant,)
        with self._lock:
            rows = self._db.execute(query + " ORDER BY created_at, key_id", params).fetchall()
        return [_info(row) for row in rows]

    def revoke(self, key_id: str) -> bool:
        """Revoke an active key; False when no active key has that id."""
        with self._lock, self._db:
            cursor = self._db.execute(
                "UPDATE api_keys SET revoked_at = ? WHERE key_id = ? AND revoked_at IS NULL",
                (_now(), key_id),
            )
        return cursor.rowcount == 1

    def close(self) -> None:
        with self._lock:
            self._db.close()


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
