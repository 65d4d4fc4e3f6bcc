"""The control plane's tables: API keys, tenants, the KB registry and ingestion jobs.

SQLAlchemy Core tables, one `MetaData`: the same definitions run on SQLite (embedded) and
PostgreSQL (scaled out). Alembic's migrations (`controlplane/migrations/`) create them; this
module is what the code queries by. Change both together.
"""

from __future__ import annotations

from sqlalchemy import Column, Float, Index, Integer, MetaData, String, Table, Text

metadata = MetaData()

tenants = Table(
    "tenants",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("created_at", String(40), nullable=False),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("key_id", String(32), primary_key=True),
    Column("key_hash", String(64), nullable=False),
    Column("tenant", String(64), nullable=False, index=True),
    Column("scopes", Text, nullable=False),  # JSON list, rank order
    Column("kbs", Text),  # JSON list, or NULL for every KB of the tenant
    Column("name", String(200), nullable=False, server_default=""),
    Column("created_at", String(40), nullable=False),
    Column("revoked_at", String(40)),
)

# One row per KB: its registry name (`<tenant>__<name>` for API tenants) and its whole
# `KBConfig` as JSON (the field names are the stored format, as in kb.json before).
knowledge_bases = Table(
    "knowledge_bases",
    metadata,
    Column("name", String(200), primary_key=True),
    Column("tenant", String(64), nullable=False, index=True),
    Column("engine", String(32), nullable=False),
    Column("config", Text, nullable=False),
    Column("created_at", String(40), nullable=False),
)

# The columns jobs are queried by, and the whole job as JSON (`indexer.jobs.model.Job`).
# A running job's worker holds a lease (owner, until: epoch seconds) it renews; a stop request
# (the state to end in, and why) is how an API replica tells that worker to stop.
jobs = Table(
    "jobs",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("id", String(64), nullable=False, unique=True),
    Column("tenant", String(64), nullable=False),
    Column("kb", String(200), nullable=False),
    Column("state", String(16), nullable=False),
    Column("data", Text, nullable=False),
    Column("lease_owner", String(200)),
    Column("lease_until", Float),
    Column("stop_state", String(16)),
    Column("stop_message", Text),
    Index("jobs_by_kb", "kb", "seq"),
    Index("jobs_by_state", "state", "seq"),
)
