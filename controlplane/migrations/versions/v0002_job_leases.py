"""Job leases and stop requests, for workers in several processes.

A worker holds a running job's lease and renews it; a lease past its time means the worker
died, and another worker queues the job again. A stop request (cancel, KB deleted) is written by
whichever API replica received it and read by the worker that runs the job.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("lease_owner", sa.String(200)))
        batch.add_column(sa.Column("lease_until", sa.Float))
        batch.add_column(sa.Column("stop_state", sa.String(16)))
        batch.add_column(sa.Column("stop_message", sa.Text))


def downgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        for column in ("stop_message", "stop_state", "lease_until", "lease_owner"):
            batch.drop_column(column)
