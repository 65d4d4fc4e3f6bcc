"""Tenants: every tenant that owns a key or a KB has a row, created on first use."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from sqlalchemy import Connection, Engine, select
from sqlalchemy.dialects import postgresql, sqlite

from controlplane.schema import tenants


def ensure_tenants(conn: Connection, names: Iterable[str]) -> None:
    """Add the tenants not yet known (inside the caller's transaction)."""
    wanted = sorted(set(names))
    if not wanted:
        return
    created = datetime.now(UTC).isoformat()
    # ON CONFLICT DO NOTHING: two replicas adding one tenant at once must both succeed.
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(tenants).on_conflict_do_nothing(index_elements=["name"])
    conn.execute(statement, [{"name": n, "created_at": created} for n in wanted])


def list_tenants(engine: Engine) -> list[str]:
    """Every tenant, by name."""
    with engine.connect() as conn:
        return list(conn.execute(select(tenants.c.name).order_by(tenants.c.name)).scalars())
