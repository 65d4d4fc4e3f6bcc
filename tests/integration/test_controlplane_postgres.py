"""The control plane on a real PostgreSQL: migrations, keys, the KB registry and job claims.

Needs RAG_TEST_DATABASE_URL (a user that may create databases); each test module run gets a
database of its own. The same code runs on SQLite in tests/unit/controlplane.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr
from serving import fresh_database
from sqlalchemy import Engine

from controlplane.kbs import SqlRegistry
from controlplane.keys import KeyStore
from controlplane.migrate import HEAD, current_revision, open_control_plane, upgrade_data_dir
from indexer.jobs.model import Job
from indexer.jobs.store import JobStore
from rag.config import Settings
from rag.errors import ConfigError, KBExistsError
from rag.kb import KBConfig

pytestmark = pytest.mark.postgres


@pytest.fixture(scope="module")
def database() -> Iterator[str]:
    url = os.environ.get("RAG_TEST_DATABASE_URL")
    if not url:
        pytest.skip("RAG_TEST_DATABASE_URL is not set (a PostgreSQL server)")
    yield from fresh_database(url, "rag_cp")


@pytest.fixture(scope="module")
def settings(database: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return Settings(data_dir=tmp_path_factory.mktemp("pg"), database_url=SecretStr(database))


@pytest.fixture(scope="module")
def control(settings: Settings) -> Iterator[Engine]:
    with pytest.raises(ConfigError, match="run `rag db upgrade`"):
        open_control_plane(settings)  # never migrated behind the operator's back
    from controlplane.db import connect

    engine = connect(settings.database_url.get_secret_value())  # type: ignore[union-attr]
    # Three replicas starting at once: the advisory lock lets one migrate, the others wait.
    threads = [threading.Thread(target=upgrade_data_dir, args=(settings, engine)) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert current_revision(engine) == HEAD
    engine.dispose()
    opened = open_control_plane(settings)
    yield opened
    opened.dispose()


def test_keys_and_registry(control: Engine, tmp_path: Path) -> None:
    keys = KeyStore(control)
    info, key = keys.create("acme", ["write"])
    assert keys.authenticate(key) == info.principal()
    assert keys.revoke(info.key_id) and keys.authenticate(key) is None

    registry = SqlRegistry(control, tmp_path)
    registry.create(KBConfig(name="acme__docs", embedder="e", dim=8, tenant="acme"))
    with pytest.raises(KBExistsError):
        registry.create(KBConfig(name="acme__docs", embedder="e", dim=8, tenant="acme"))
    assert [c.name for c in registry.list()] == ["acme__docs"]


def test_racing_workers_claim_each_job_once_and_a_kb_in_order(control: Engine) -> None:
    store = JobStore(control)
    kbs = [f"kb{n}" for n in range(3)]
    ids = [f"job_{uuid.uuid4().hex}" for _ in range(12)]
    for n, job_id in enumerate(ids):
        kb = kbs[n % 3]
        store.insert(Job(id=job_id, tenant="acme", kb=kb, kb_name=kb, kind="files", inputs=[]))
    claims: list[tuple[str, str]] = []
    lock = threading.Lock()

    def worker(name: str) -> None:
        for job_id in ids:
            claim = store.claim(job_id, name, time.time() + 30)
            if isinstance(claim, Job):
                with lock:
                    claims.append((claim.id, claim.kb))

    threads = [threading.Thread(target=worker, args=(f"w{n}",)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # Each KB's oldest job, once: the others wait behind it (busy), whoever asked.
    assert sorted(claims) == sorted((ids[n], kbs[n]) for n in range(3))
