"""Alembic's environment: migrations run on the connection `controlplane.migrate` hands in."""

from __future__ import annotations

from alembic import context

from controlplane.schema import metadata


def run() -> None:
    connection = context.config.attributes["connection"]
    # Batch mode: SQLite cannot ALTER most things in place; Alembic rebuilds the table instead.
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


# Alembic sets up `context` before it runs this file; a plain import (a test that imports
# every module) finds no migration under way and does nothing.
if hasattr(context, "config"):
    run()
