"""API keys: hashed at rest, revocable, validated, parsed unambiguously, shareable by threads."""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path

import pytest
from sqlalchemy import Engine

from controlplane.keys import KEY_PREFIX, KeyStore, key_id_of
from controlplane.migrate import open_control_plane
from controlplane.principal import Principal
from rag.config import Settings
from rag.errors import InvalidInputError


@pytest.fixture
def store(control: Engine) -> KeyStore:
    return KeyStore(control)


def raw_bytes(directory: Path) -> bytes:
    """Everything SQLite wrote: the main file and its WAL and shared-memory files."""
    return b"".join(p.read_bytes() for p in sorted(directory.iterdir()) if p.is_file())


def test_create_returns_a_key_that_authenticates_as_its_principal(store: KeyStore) -> None:
    info, key = store.create("acme", ["read", "write"], kbs=["handbook"], name="ci")

    assert key.startswith(f"{KEY_PREFIX}{info.key_id}_")
    assert len(info.key_id) == 12 and "_" not in info.key_id
    assert len(key.removeprefix(f"{KEY_PREFIX}{info.key_id}_")) >= 43  # 32 url-safe bytes
    assert info.tenant == "acme" and info.name == "ci" and info.active
    assert info.scopes == frozenset({"read", "write"})
    assert store.authenticate(key) == Principal(
        info.key_id, "acme", frozenset({"read", "write"}), frozenset({"handbook"})
    )
    assert store.get(info.key_id) == info
    assert store.is_active(info.key_id)


def test_only_a_sha256_hash_of_the_key_reaches_the_disk(
    store: KeyStore, settings: Settings
) -> None:
    info, key = store.create("acme", ["read"])
    secret = key.removeprefix(f"{KEY_PREFIX}{info.key_id}_")

    on_disk = raw_bytes(settings.data_dir)
    assert key.encode() not in on_disk
    assert secret.encode() not in on_disk
    assert hashlib.sha256(key.encode()).hexdigest().encode() in on_disk


def test_wrong_unknown_and_malformed_keys_do_not_authenticate(store: KeyStore) -> None:
    info, key = store.create("acme", ["read"])
    head = f"{KEY_PREFIX}{info.key_id}_"
    secret = key[len(head) :]
    flipped = secret[:-1] + ("A" if secret[-1] != "A" else "B")

    assert store.authenticate(head + flipped) is None  # right id, wrong secret
    assert store.authenticate(f"{KEY_PREFIX}{'x' * 12}_{secret}") is None  # unknown id
    for malformed in ["", "rag_", key + "!", key.replace(KEY_PREFIX, "rog_"), "Bearer " + key]:
        assert store.authenticate(malformed) is None
    assert store.authenticate(key) is not None


def test_key_ids_parse_even_when_the_secret_holds_underscores() -> None:
    token = f"{KEY_PREFIX}Ab3dEf6hIj9L_{'_x-' * 15}"
    assert key_id_of(token) == "Ab3dEf6hIj9L"
    assert key_id_of(f"{KEY_PREFIX}short_{'a' * 43}") is None


def test_many_keys_all_authenticate(store: KeyStore) -> None:
    # About half of all secrets contain '_': parsing must not depend on it.
    created = [store.create("acme", ["read"]) for _ in range(40)]
    assert any("_" in key.removeprefix(f"{KEY_PREFIX}{i.key_id}_") for i, key in created)
    for info, key in created:
        principal = store.authenticate(key)
        assert principal is not None and principal.key_id == info.key_id


def test_revoked_keys_stop_authenticating(store: KeyStore) -> None:
    info, key = store.create("acme", ["admin"])
    _, other_key = store.create("acme", ["read"])

    assert store.revoke(info.key_id)
    assert store.authenticate(key) is None
    assert not store.is_active(info.key_id)
    revoked = store.get(info.key_id)
    assert revoked is not None and revoked.revoked_at is not None
    assert not store.revoke(info.key_id)  # already revoked
    assert not store.revoke("nosuchkey123")
    assert store.authenticate(other_key) is not None  # others are untouched


def test_list_filters_by_tenant_and_keeps_revoked_keys(store: KeyStore) -> None:
    a, _ = store.create("acme", ["read"])
    b, _ = store.create("globex", ["write"])
    store.revoke(b.key_id)

    assert {i.key_id for i in store.list()} == {a.key_id, b.key_id}
    assert [i.key_id for i in store.list("globex")] == [b.key_id]
    assert store.list("nobody") == []
    assert "key_hash" not in a.model_dump() and "key" not in a.model_dump()
    assert a.model_dump()["kbs"] is None


def test_keys_survive_reopening(settings: Settings) -> None:
    first = open_control_plane(settings)
    info, key = KeyStore(first).create("acme", ["read"])
    first.dispose()
    again = open_control_plane(settings)
    try:
        assert KeyStore(again).authenticate(key) == info.principal()
    finally:
        again.dispose()


@pytest.mark.parametrize(
    ("tenant", "scopes", "kbs", "name", "message"),
    [
        ("Acme", ["read"], None, "", "invalid tenant"),
        ("a" * 41, ["read"], None, "", "invalid tenant"),
        ("acme", [], None, "", "at least one scope"),
        ("acme", ["read", "root"], None, "", "unknown scope"),
        ("acme", ["read"], ["Handbook"], "", "invalid KB name"),
        ("acme", ["read"], ["a__b"], "", "invalid KB name"),
        ("acme", ["read"], [], "", "allow-list is empty"),
        ("acme", ["read"], None, "bad\nlabel", "invalid key name"),
    ],
)
def test_invalid_keys_are_refused(
    store: KeyStore,
    tenant: str,
    scopes: list[str],
    kbs: list[str] | None,
    name: str,
    message: str,
) -> None:
    with pytest.raises(InvalidInputError, match=message):
        store.create(tenant, scopes, kbs, name)  # type: ignore[arg-type]
    assert store.list() == []


def test_threads_share_one_store(store: KeyStore) -> None:
    errors: list[BaseException] = []
    found: list[bool] = []

    def work() -> None:
        try:
            for _ in range(10):
                info, key = store.create("acme", ["read"])
                principal = store.authenticate(key)
                found.append(principal is not None and principal.key_id == info.key_id)
                store.list("acme")
        except BaseException as exc:  # reported to the main thread below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert errors == []
    assert found == [True] * 80
    assert len(store.list("acme")) == 80
