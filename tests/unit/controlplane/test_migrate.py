"""A data directory written by the pre-control-plane service moves into the control plane intact.

The old layout is built here the way that version wrote it: `api/keys.db` and `api/jobs.db`
with their exact schemas, and KB folders with `kb.json` (the folder registry, still in rag.kb).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest
from alembic.config import Config
from alembic.script import ScriptDirectory
from typer.testing import CliRunner

from cli import app
from controlplane.db import connect
from controlplane.kbs import SqlRegistry
from controlplane.keys import KeyStore
from controlplane.migrate import _MIGRATIONS, HEAD, current_revision, open_control_plane
from controlplane.tenants import list_tenants
from indexer.ingest import Ingestor
from indexer.jobs.model import Job
from indexer.jobs.store import JobStore
from rag.config import Settings, get_settings
from rag.embedding.fake import HashingEmbedder
from rag.errors import ConfigError
from rag.types import Document, Section
from rag.workspace import Workspace

EMBEDDER = HashingEmbedder(dim=32)

# The schemas of main before the control plane (controlplane/keys.py, indexer/jobs/store.py).
OLD_KEYS = """
CREATE TABLE api_keys (
    key_id TEXT PRIMARY KEY, key_hash TEXT NOT NULL, tenant TEXT NOT NULL, scopes TEXT NOT NULL,
    kbs TEXT, name TEXT NOT NULL DEFAULT '', created_at TEXT NOT NULL, revoked_at TEXT
);
CREATE INDEX api_keys_tenant ON api_keys (tenant);
"""
OLD_JOBS = """
CREATE TABLE jobs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, tenant TEXT NOT NULL,
    kb TEXT NOT NULL, state TEXT NOT NULL, data TEXT NOT NULL
);
"""
# A key as the old store kept it: only the sha256 of the whole key.
ACTIVE_KEY = "rag_AAAAAAAAAAAA_" + "s" * 43


def _sha(token: str) -> str:
    import hashlib

    return hashlib.sha256(token.encode()).hexdigest()


def _job(job_id: str, state: str) -> Job:
    return Job(id=job_id, tenant="acme", kb="acme__docs", kb_name="docs", kind="files",
               inputs=["a.md"], state=state, created_at="2024-01-01T00:00:00+00:00")  # type: ignore[arg-type]  # fmt: skip


def old_data_dir(settings: Settings) -> None:
    """What main wrote: two keys (one revoked), three jobs, a local KB with a document."""
    settings.api_dir.mkdir(parents=True)
    with closing(sqlite3.connect(settings.api_dir / "keys.db")) as db, db:
        db.execute("PRAGMA journal_mode=WAL")
        db.executescript(OLD_KEYS)
        db.executemany(
            "INSERT INTO api_keys VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                ("AAAAAAAAAAAA", _sha(ACTIVE_KEY), "acme", '["read", "write"]', '["docs"]',
                 "nightly", "2024-01-01T00:00:00+00:00", None),
                ("BBBBBBBBBBBB", _sha("rag_BBBBBBBBBBBB_" + "t" * 43), "globex", '["admin"]',
                 None, "", "2024-01-02T00:00:00+00:00", "2024-02-01T00:00:00+00:00"),
            ],
        )  # fmt: skip
    with closing(sqlite3.connect(settings.api_dir / "jobs.db")) as db, db:
        db.executescript(OLD_JOBS)
        for job in [_job("job_b", "succeeded"), _job("job_a", "running"), _job("job_c", "queued")]:
            db.execute(
                "INSERT INTO jobs (id, tenant, kb, state, data) VALUES (?, ?, ?, ?, ?)",
                (job.id, job.tenant, job.kb, job.state, job.model_dump_json()),
            )
    workspace = Workspace(settings, embedder=EMBEDDER)  # the folder registry: kb.json
    workspace.create("acme__docs", tenant="acme", chunk_tokens=48, chunk_overlap=4)
    kb = workspace.open("acme__docs")
    doc = Document(id="a.md", sections=(Section("alpha beta gamma"),), title="A")
    Ingestor.for_kb(kb, settings).ingest_documents([doc], progress=False)
    kb.close()


@pytest.fixture
def old(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    settings = Settings(data_dir=tmp_path / "data", embedder=EMBEDDER.name)
    old_data_dir(settings)
    monkeypatch.setenv("RAG_DATA_DIR", str(settings.data_dir))
    get_settings.cache_clear()
    yield settings
    get_settings.cache_clear()


def test_rag_db_upgrade_moves_an_old_data_directory_in_without_loss(old: Settings) -> None:
    result = CliRunner().invoke(app, ["db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert "empty -> 0002" in result.output
    assert "2 key(s), 3 job(s), 1 knowledge base(s)" in result.output

    engine = open_control_plane(old)
    try:
        keys = KeyStore(engine)
        principal = keys.authenticate(ACTIVE_KEY)
        assert principal is not None and principal.tenant == "acme"
        assert principal.kbs == frozenset({"docs"}) and principal.has("write")
        revoked = keys.get("BBBBBBBBBBBB")
        assert revoked is not None and not revoked.active  # a revoked key stays revoked
        assert keys.authenticate("rag_BBBBBBBBBBBB_" + "t" * 43) is None
        assert list_tenants(engine) == ["acme", "globex"]

        jobs = JobStore(engine)
        assert [j.id for j in jobs.unfinished()] == ["job_a", "job_c"]  # arrival order kept
        assert jobs.get("job_b") == _job("job_b", "succeeded")

        registry = SqlRegistry(engine, old.kb_root)
        assert [c.name for c in registry.list()] == ["acme__docs"]
        kb = Workspace(old, embedder=EMBEDDER, registry=registry).open("acme__docs")
        try:
            assert [d.id for d in kb.store.documents()] == ["a.md"]
        finally:
            kb.close()
    finally:
        engine.dispose()
    # The old files are kept, renamed, so nothing is imported twice.
    assert (old.api_dir / "keys.db.imported").is_file()
    assert not (old.api_dir / "keys.db").exists()

    again = CliRunner().invoke(app, ["db", "upgrade"])
    assert again.exit_code == 0 and "0002 -> 0002" in again.output
    assert "0 key(s), 0 job(s), 0 knowledge base(s)" in again.output


def test_a_revocation_after_the_upgrade_is_not_undone_by_another(old: Settings) -> None:
    engine = open_control_plane(old)  # the embedded service upgrades on open
    try:
        assert KeyStore(engine).revoke("AAAAAAAAAAAA")
    finally:
        engine.dispose()
    engine = open_control_plane(old)
    try:
        assert KeyStore(engine).authenticate(ACTIVE_KEY) is None
    finally:
        engine.dispose()


def test_head_constant_is_alembics_head() -> None:
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    assert ScriptDirectory.from_config(config).get_current_head() == HEAD


def test_fresh_database_starts_at_head(settings: Settings) -> None:
    engine = open_control_plane(settings)
    try:
        assert current_revision(engine) == HEAD
    finally:
        engine.dispose()


def test_an_unsupported_database_url_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"sqlite:///\.\.\. or postgresql"):
        connect("mysql://user@host/db")
    with pytest.raises(ConfigError, match="invalid RAG_DATABASE_URL"):
        connect("not a url")
