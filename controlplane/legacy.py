"""Import of a data directory written before the control plane: keys.db, jobs.db, kb.json files.

Earlier versions kept keys in `<data_dir>/api/keys.db`, jobs in `<data_dir>/api/jobs.db` (both
SQLite) and each KB's config in `<data_dir>/kbs/NAME/kb.json`. Rows missing from the control plane
are copied in, never overwritten; the two files are then renamed `*.imported` (kept, not deleted:
an operator can still read them) so a key revoked afterwards is not brought back. KB folders stay
where they are, since the local engine's data lives in them.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, Table, select

from controlplane.schema import api_keys, jobs, knowledge_bases
from controlplane.tenants import ensure_tenants
from rag.config import Settings
from rag.kb import CONFIG_FILE, KBConfig

log = logging.getLogger("controlplane")

IMPORTED = ".imported"
_KEY_COLUMNS = ("key_id", "key_hash", "tenant", "scopes", "kbs", "name", "created_at", "revoked_at")
_JOB_COLUMNS = ("id", "tenant", "kb", "state", "data")


@dataclass(frozen=True)
class LegacyImport:
    """How many rows of each kind were copied in."""

    keys: int = 0
    jobs: int = 0
    kbs: int = 0


def import_legacy(settings: Settings, engine: Engine) -> LegacyImport:
    """Copy in whatever an older data directory holds that the control plane lacks."""
    report = LegacyImport(
        keys=_import_table(settings.api_dir / "keys.db", engine, api_keys, _KEY_COLUMNS, "key_id"),
        jobs=_import_table(settings.api_dir / "jobs.db", engine, jobs, _JOB_COLUMNS, "id"),
        kbs=_import_kb_folders(settings.kb_root, engine),
    )
    if report != LegacyImport():
        log.info("control plane: imported %s from %s", report, settings.data_dir)
    return report


def _import_table(
    path: Path, engine: Engine, table: Table, columns: tuple[str, ...], key: str
) -> int:
    if not path.is_file():
        return 0
    # Arrival order (rowid) is kept: the jobs table's seq orders resumes.
    with closing(sqlite3.connect(path)) as old:
        rows = old.execute(
            f"SELECT {', '.join(columns)} FROM {table.name} ORDER BY rowid"
        ).fetchall()
    added = 0
    with engine.begin() as conn:
        have = set(conn.execute(select(table.c[key])).scalars())
        fresh = [dict(zip(columns, row, strict=True)) for row in rows if row[0] not in have]
        if fresh:
            conn.execute(table.insert(), fresh)
            added = len(fresh)
        ensure_tenants(conn, {row["tenant"] for row in fresh})
    # Closing the last connection folded the WAL into the file: moving the file moves it all.
    path.rename(path.with_name(path.name + IMPORTED))
    for extra in ("-wal", "-shm"):
        path.with_name(path.name + extra).unlink(missing_ok=True)
    return added


def _import_kb_folders(root: Path, engine: Engine) -> int:
    if not root.is_dir():
        return 0
    with engine.begin() as conn:
        known = set(conn.execute(select(knowledge_bases.c.name)).scalars())
        configs = [
            KBConfig.model_validate(json.loads((folder / CONFIG_FILE).read_text()))
            for folder in sorted(root.iterdir())
            if folder.name not in known and (folder / CONFIG_FILE).is_file()
        ]
        if configs:
            conn.execute(knowledge_bases.insert(), [kb_row(c) for c in configs])
            ensure_tenants(conn, {c.tenant for c in configs})
    return len(configs)


def kb_row(config: KBConfig) -> dict[str, str]:
    """A registry row for a KB config."""
    return {
        "name": config.name,
        "tenant": config.tenant,
        "engine": config.engine,
        "config": config.model_dump_json(),
        "created_at": config.created_at,
    }
