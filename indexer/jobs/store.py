"""Ingestion jobs in the control plane's `jobs` table, so any process finds the jobs to run.

One row per job: the columns the manager queries by (tenant, KB, state, arrival order) and the
whole job as the JSON of the `Job` model (its field names are the stored format). Thread- and
process-safe: every write is its own transaction on the shared database.
"""

from __future__ import annotations

from sqlalchemy import Engine, func, select

from controlplane.schema import jobs
from indexer.jobs.model import FINAL_STATES, Job, JobState


class JobStore:
    """Insert, update and read jobs; `seq` keeps arrival order for FIFO resume."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def insert(self, job: Job) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                jobs.insert().values(
                    id=job.id, tenant=job.tenant, kb=job.kb, state=job.state, data=_encode(job)
                )
            )

    def save(self, job: Job) -> None:
        """Overwrite a stored job with this state of it."""
        with self.engine.begin() as conn:
            conn.execute(
                jobs.update().where(jobs.c.id == job.id).values(state=job.state, data=_encode(job))
            )

    def get(self, job_id: str) -> Job | None:
        with self.engine.connect() as conn:
            data = conn.execute(select(jobs.c.data).where(jobs.c.id == job_id)).scalar()
        return _decode(data) if data is not None else None

    def for_kb(self, kb: str, limit: int) -> list[Job]:
        """A KB's jobs, newest first."""
        query = select(jobs.c.data).where(jobs.c.kb == kb).order_by(jobs.c.seq.desc()).limit(limit)
        with self.engine.connect() as conn:
            return [_decode(data) for data in conn.execute(query).scalars()]

    def unfinished(self) -> list[Job]:
        """Jobs not in a final state, oldest first: the order they were submitted in."""
        query = select(jobs.c.data).where(jobs.c.state.not_in(sorted(FINAL_STATES)))
        with self.engine.connect() as conn:
            return [_decode(data) for data in conn.execute(query.order_by(jobs.c.seq)).scalars()]

    def count_by_state(self) -> dict[JobState, int]:
        query = select(jobs.c.state, func.count()).group_by(jobs.c.state)
        with self.engine.connect() as conn:
            return {row[0]: row[1] for row in conn.execute(query)}


def _encode(job: Job) -> str:
    return job.model_dump_json()


def _decode(data: str) -> Job:
    return Job.model_validate_json(data)
