"""The KB registry in the control plane: one row per KB, its folder under the data directory.

The row is the truth (every replica sees the same KBs); the folder holds a local-engine KB's
files and is made on create, removed on drop. The folder also gets a copy of the config as
kb.json, so it stays self-describing and the core's folder registry (benchmarks, tools and tests
working on one data directory) opens the same KB. Drop deletes the row first: a crash
mid-delete leaves an orphan folder, never a registered KB without its files.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError

from controlplane.legacy import kb_row
from controlplane.schema import knowledge_bases
from controlplane.tenants import ensure_tenants
from rag.errors import KBExistsError, KBNotFoundError
from rag.files import private_dir, write_atomic
from rag.kb import CONFIG_FILE, KBConfig, check_name


class SqlRegistry:
    """A `rag.kb.KBRegistry` on the control plane's database."""

    def __init__(self, engine: Engine, root: Path) -> None:
        self.engine = engine
        self.root = root

    def path(self, name: str) -> Path:
        return self.root / check_name(name)

    def exists(self, name: str) -> bool:
        check_name(name)
        with self.engine.connect() as conn:
            found = conn.execute(
                select(knowledge_bases.c.name).where(knowledge_bases.c.name == name)
            ).first()
        return found is not None

    def create(self, config: KBConfig) -> Path:
        folder = self.path(config.name)
        try:
            with self.engine.begin() as conn:
                ensure_tenants(conn, [config.tenant])
                conn.execute(knowledge_bases.insert().values(**kb_row(config)))
        except IntegrityError:
            raise KBExistsError(f"knowledge base {config.name!r} already exists") from None
        private_dir(folder)
        write_atomic(folder / CONFIG_FILE, config.model_dump_json(indent=2))
        return folder

    def get(self, name: str) -> KBConfig:
        check_name(name)
        with self.engine.connect() as conn:
            data = conn.execute(
                select(knowledge_bases.c.config).where(knowledge_bases.c.name == name)
            ).scalar()
        if data is None:
            raise KBNotFoundError(f"no knowledge base named {name!r}")
        return KBConfig.model_validate_json(data)

    def list(self) -> list[KBConfig]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(knowledge_bases.c.config).order_by(knowledge_bases.c.name)
            ).scalars()
            return [KBConfig.model_validate_json(data) for data in rows]

    def drop(self, name: str) -> None:
        folder = self.path(name)
        with self.engine.begin() as conn:
            gone = conn.execute(knowledge_bases.delete().where(knowledge_bases.c.name == name))
        if gone.rowcount == 0:
            raise KBNotFoundError(f"no knowledge base named {name!r}")
        # An imported folder's kb.json goes first, so no later import brings the KB back.
        (folder / CONFIG_FILE).unlink(missing_ok=True)
        shutil.rmtree(folder, ignore_errors=True)
