"""The control plane's database: an engine for `RAG_DATABASE_URL` (SQLite by default).

The embedded deployment keeps one SQLite file (`<data_dir>/control.db`) and needs no server;
the scaled-out one points every replica and worker at one PostgreSQL. SQLite gets WAL and a busy
timeout so the service, `rag` commands and workers (other processes) can share the file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, make_url

from rag.config import Settings
from rag.errors import ConfigError
from rag.files import private_dir, private_file

CONTROL_DB = "control.db"


def database_url(settings: Settings) -> str:
    """The configured URL, or the SQLite file in the data directory."""
    if settings.database_url:
        return settings.database_url.get_secret_value()
    return f"sqlite:///{(settings.data_dir / CONTROL_DB).resolve()}"


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def connect(url: str) -> Engine:
    """An engine for `url` (SQLite or PostgreSQL); does no I/O until first used."""
    try:
        parsed = make_url(url)
    except Exception as exc:  # SQLAlchemy raises ArgumentError with the URL's fault in it
        raise ConfigError(f"invalid RAG_DATABASE_URL: {exc}") from exc
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            # Keys' hashes and tenants' jobs: readable by the service's user only.
            private_dir(Path(parsed.database).parent)
            private_file(Path(parsed.database))
        engine = create_engine(parsed, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    if parsed.get_backend_name() != "postgresql":
        raise ConfigError(
            f"RAG_DATABASE_URL must be sqlite:///... or postgresql+psycopg://..., "
            f"not {parsed.get_backend_name()!r}"
        )
    # pool_pre_ping: a replica outlives database restarts without failing a request on a
    # connection the server already closed.
    return create_engine(parsed, pool_pre_ping=True)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()
