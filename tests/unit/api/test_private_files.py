"""Everything the service writes under the data directory is its user's alone."""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture
def lax_umask() -> Iterator[None]:
    # The usual default: files 0644 and folders 0755 unless the service asks for less.
    old = os.umask(0o022)
    yield
    os.umask(old)


def _modes(root: Path) -> dict[str, int]:
    found = {".": stat.S_IMODE(os.stat(root).st_mode)}
    for path in root.rglob("*"):
        found[str(path.relative_to(root))] = stat.S_IMODE(os.lstat(path).st_mode)
    return found


def test_databases_files_and_folders_are_private(lax_umask: None, api: Any) -> None:
    # Read while the app runs, so its SQLite -wal and -shm files exist.
    headers = api.key()
    assert api.client.post("/v1/kbs", json={"name": "docs"}, headers=headers).status_code == 201
    records = {"documents": [{"id": "a", "text": "private text"}]}
    job = api.client.post("/v1/kbs/docs/documents", json=records, headers=headers).json()
    for _ in range(200):
        state = api.client.get(f"/v1/jobs/{job['id']}", headers=headers).json()["state"]
        if state == "succeeded":
            break
        time.sleep(0.05)
    assert state == "succeeded"
    files = {"files": ("notes.txt", b"uploaded text", "text/plain")}
    api.client.post("/v1/kbs/docs/documents", files=files, headers=headers)
    api.services.kbs.get("acme__docs").store.flush()
    modes = _modes(api.services.settings.data_dir)
    names = set(modes)
    for expected in ("control.db", "queue.db", "kbs/acme__docs/kb.sqlite"):
        assert expected in names, sorted(names)
    loose = {name: oct(mode) for name, mode in modes.items() if mode & 0o077}
    assert not loose, f"readable by group or others: {loose}"


def test_an_existing_world_readable_database_is_tightened(lax_umask: None, tmp_path: Path) -> None:
    from controlplane.migrate import open_control_plane
    from rag.config import Settings

    path = tmp_path / "control.db"
    path.touch(mode=0o644)
    os.chmod(path, 0o644)
    open_control_plane(Settings(data_dir=tmp_path)).dispose()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
