"""Schema migrations (Alembic) and opening the control plane at the current schema.

`rag db upgrade` runs `upgrade`. The embedded deployment (SQLite) also upgrades on open, so
`make run` needs no extra step and a data directory from before the control plane moves over on
its first start; PostgreSQL is never migrated behind an operator's back: replicas refuse to
start on an old schema and say which command to run.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, inspect, text

from controlplane.db import connect, database_url, is_sqlite
from controlplane.legacy import LegacyImport, import_legacy
from rag.config import Settings
from rag.errors import ConfigError

# The newest revision under migrations/versions (a test checks it against Alembic's head):
# comparing against a constant keeps Alembic out of every start's import time.
HEAD = "0002"
_MIGRATIONS = Path(__file__).parent / "migrations"
_LOCK_KEY = 0x7261675F6462  # "rag_db": the advisory lock of `rag db upgrade`


def current_revision(engine: Engine) -> str | None:
    """The schema revision the database is at; None before the first migration."""
    with engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return None
        return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


def upgrade(engine: Engine) -> None:
    """Apply every migration the database lacks."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "head")


def upgrade_data_dir(settings: Settings, engine: Engine) -> LegacyImport:
    """Migrate the schema, then import what a data directory from before it holds."""
    with _exclusive(engine):
        upgrade(engine)
        return import_legacy(settings, engine)


@contextmanager
def _exclusive(engine: Engine) -> Iterator[None]:
    """One `rag db upgrade` at a time: every replica of a compose deployment runs it at start.

    A PostgreSQL advisory lock, held by a connection of its own for the whole upgrade; SQLite
    serialises writers by itself.
    """
    if engine.dialect.name != "postgresql":
        yield
        return
    with engine.connect() as conn:
        conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": _LOCK_KEY})
        try:
            yield
        finally:
            conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": _LOCK_KEY})


def open_control_plane(settings: Settings) -> Engine:
    """The control plane's engine, its schema current (see the module docstring)."""
    engine = connect(database_url(settings))
    revision = current_revision(engine)
    if is_sqlite(engine):
        if revision != HEAD:
            upgrade(engine)
        # Cheap when nothing is left to import; picks up KBs created by a folder registry.
        import_legacy(settings, engine)
    elif revision != HEAD:
        engine.dispose()
        raise ConfigError(
            f"the control plane database is at schema revision {revision or 'none'}, this "
            f"version needs {HEAD}: run `rag db upgrade` once (with the same RAG_DATABASE_URL)"
        )
    return engine
