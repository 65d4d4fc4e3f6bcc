"""`rag keys create|list|revoke` as an operator drives them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli import app
from controlplane.keys import KeyStore
from controlplane.migrate import open_control_plane
from rag.config import Settings, get_settings

runner = CliRunner()


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("RAG_DATA_DIR", str(tmp_path / "data"))
    get_settings.cache_clear()
    yield tmp_path / "data"
    get_settings.cache_clear()


def rag(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


@contextmanager
def store(data_dir: Path) -> Iterator[KeyStore]:
    engine = open_control_plane(Settings(data_dir=data_dir))
    try:
        yield KeyStore(engine)
    finally:
        engine.dispose()


def test_create_prints_the_key_once_and_stores_only_its_hash(data_dir: Path) -> None:
    code, out = rag(
        "keys", "create", "--tenant", "acme", "--scope", "read", "--scope", "write",
        "--kb", "handbook", "--name", "nightly", "--json",
    )  # fmt: skip
    assert code == 0, out
    created = json.loads(out[: out.rindex("}") + 1])
    assert "cannot be shown again" in out
    assert created["tenant"] == "acme" and created["scopes"] == ["read", "write"]
    assert created["kbs"] == ["handbook"] and created["name"] == "nightly"

    with store(data_dir) as keys:
        principal = keys.authenticate(created["key"])
    assert principal is not None and principal.key_id == created["key_id"]
    on_disk = b"".join(p.read_bytes() for p in data_dir.rglob("*") if p.is_file())
    assert created["key"].encode() not in on_disk


def test_plain_create_shows_the_key_on_its_own_line(data_dir: Path) -> None:
    code, out = rag("keys", "create", "--tenant", "acme", "--scope", "admin")
    assert code == 0, out
    lines = out.splitlines()
    key = next(line for line in lines if line.startswith("rag_"))
    assert "all KBs" in lines[0]
    assert "cannot be shown again" in out
    with store(data_dir) as keys:
        assert keys.authenticate(key) is not None


def test_list_never_shows_secrets_and_filters_by_tenant(data_dir: Path) -> None:
    _, out = rag("keys", "create", "--tenant", "acme", "--scope", "read", "--json")
    acme = json.loads(out[: out.rindex("}") + 1])
    rag("keys", "create", "--tenant", "globex", "--scope", "read")

    code, listing = rag("keys", "list")
    assert code == 0 and acme["key_id"] in listing and "globex" in listing
    assert acme["key"] not in listing

    code, listing = rag("keys", "list", "--tenant", "acme", "--json")
    rows = json.loads(listing)
    assert code == 0 and [r["key_id"] for r in rows] == [acme["key_id"]]
    assert "key" not in rows[0] and "key_hash" not in rows[0]
    assert acme["key"] not in listing


def test_revoke_disables_the_key(data_dir: Path) -> None:
    _, out = rag("keys", "create", "--tenant", "acme", "--scope", "read", "--json")
    created = json.loads(out[: out.rindex("}") + 1])

    code, out = rag("keys", "revoke", created["key_id"])
    assert code == 0 and f"revoked {created['key_id']}" in out
    code, out = rag("keys", "revoke", created["key_id"])
    assert code == 0 and "already revoked" in out
    _, listing = rag("keys", "list", "--json")
    assert json.loads(listing)[0]["revoked_at"] is not None
    with store(data_dir) as keys:
        assert keys.authenticate(created["key"]) is None


def test_errors_are_one_line_with_exit_code_2(data_dir: Path) -> None:
    code, out = rag("keys", "revoke", "nosuchkey123")
    assert code == 2 and out.strip() == "error: no API key with id 'nosuchkey123'"
    code, out = rag("keys", "create", "--tenant", "Not A Tenant", "--scope", "read")
    assert code == 2 and out.startswith("error: invalid tenant")
    code, out = rag("keys", "create", "--tenant", "acme", "--scope", "read", "--kb", "a__b")
    assert code == 2 and out.startswith("error: invalid KB name")
    code, out = rag("keys", "create", "--tenant", "acme", "--scope", "root")
    assert code == 2 and out.startswith("error: unknown scope")


def test_list_json_bytes(data_dir: Path) -> None:
    """The exact listing: field order, scopes in rank order, KBs sorted, two-space indent."""
    _, out = rag(
        "keys", "create", "--tenant", "acme", "--scope", "write", "--scope", "read",
        "--kb", "b", "--kb", "a", "--name", "nightly", "--json",
    )  # fmt: skip
    created = json.loads(out[: out.rindex("}") + 1])
    code, listing = rag("keys", "list", "--json")
    assert code == 0
    assert listing == (
        "[\n  {\n"
        f'    "key_id": "{created["key_id"]}",\n'
        '    "tenant": "acme",\n'
        '    "scopes": [\n      "read",\n      "write"\n    ],\n'
        '    "kbs": [\n      "a",\n      "b"\n    ],\n'
        '    "name": "nightly",\n'
        f'    "created_at": "{created["created_at"]}",\n'
        '    "revoked_at": null\n'
        "  }\n]\n"
    )
