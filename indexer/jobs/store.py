"""Ingestion jobs in the control plane's `jobs` table, shared by API replicas and workers.

One row per job: the columns jobs are queried by (tenant, KB, state, arrival order), the whole
job as the JSON of the `Job` model (its field names are the stored format), the lease of the
worker running it and a stop request. Every change of state is one conditional UPDATE, so two
processes racing for one job (two workers claiming it, a cancel and a claim) cannot both win.
"""

from __future__ import annotations

from typing import Any, Literal

from sqlalchemy import Connection, Engine, Select, and_, exists, func, or_, select
from sqlalchemy.sql import ColumnElement

from controlplane.schema import jobs, knowledge_bases
from indexer.jobs.model import FINAL_STATES, Job, JobCounts, JobState, JobTimings, now

Claim = Job | Literal["busy"] | None


class JobStore:
    """Insert, read, claim, lease and end jobs; `seq` keeps arrival order."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # -- reading and writing whole jobs --------------------------------------------------------

    def insert(self, job: Job) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                jobs.insert().values(
                    id=job.id, tenant=job.tenant, kb=job.kb, state=job.state, data=_encode(job)
                )
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

    def count_by_state(self) -> dict[str, int]:
        query = select(jobs.c.state, func.count()).group_by(jobs.c.state)
        with self.engine.connect() as conn:
            return {row[0]: row[1] for row in conn.execute(query)}

    # -- the API side: ending waiting jobs, asking running ones to stop -----------------------

    def end_if_queued(self, job: Job, state: JobState, message: str) -> bool:
        """End a job that no worker has claimed; False if one has (or it already ended)."""
        ended = job.model_copy(update={"state": state, "finished_at": now(), "message": message})
        with self.engine.begin() as conn:
            result = conn.execute(
                jobs.update()
                .where(jobs.c.id == job.id, jobs.c.state == "queued")
                .values(state=state, data=_encode(ended))
            )
        return result.rowcount == 1

    def request_stop(self, job_id: str, state: JobState, message: str) -> None:
        """Ask the worker running the job to end it as `state` (the first request wins)."""
        with self.engine.begin() as conn:
            conn.execute(
                jobs.update()
                .where(jobs.c.id == job_id, jobs.c.state == "running", jobs.c.stop_state.is_(None))
                .values(stop_state=state, stop_message=message)
            )

    # -- the worker side ----------------------------------------------------------------------

    def claim(self, job_id: str, owner: str, lease_until: float) -> Claim:
        """Take a queued job: the job, now running; "busy" if its KB has a job running or an
        older one waiting (a KB's jobs run in order, one at a time), or if a tenant with fewer
        running jobs has one that could start (tenants take turns); None if it is not queued
        (cancelled, finished, or another worker has it)."""
        with self.engine.begin() as conn:
            row = conn.execute(
                select(jobs.c.data, jobs.c.state, jobs.c.kb, jobs.c.seq, jobs.c.tenant).where(
                    jobs.c.id == job_id
                )
            ).first()
            if row is None or row.state != "queued":
                return None
            if _another_tenant_first(conn, row.tenant):
                return "busy"
            _lock_kb(conn, row.kb)
            job = _decode(row.data)
            job.state, job.started_at = "running", job.started_at or now()
            # A resumed run counts afresh: what an earlier run wrote shows as `unchanged`.
            job.counts, job.errors, job.timings = (
                JobCounts(files=job.counts.files),
                [],
                JobTimings(),
            )
            other = jobs.alias("other")
            kb_busy = exists().where(
                other.c.kb == row.kb,
                other.c.id != job_id,
                or_(
                    other.c.state == "running",
                    and_(other.c.state == "queued", other.c.seq < row.seq),
                ),
            )
            result = conn.execute(
                jobs.update()
                .where(jobs.c.id == job_id, jobs.c.state == "queued", ~kb_busy)
                .values(
                    state="running",
                    data=_encode(job),
                    lease_owner=owner,
                    lease_until=lease_until,
                    stop_state=None,
                    stop_message=None,
                )
            )
            if result.rowcount == 1:
                return job
            still = conn.execute(select(jobs.c.state).where(jobs.c.id == job_id)).scalar()
        return "busy" if still == "queued" else None

    def save(self, job: Job, owner: str) -> bool:
        """Write a running job's progress; False if `owner` no longer holds its lease."""
        with self.engine.begin() as conn:
            result = conn.execute(
                jobs.update().where(_held(job.id, owner)).values(data=_encode(job))
            )
        return result.rowcount == 1

    def renew(self, job_id: str, owner: str, lease_until: float) -> bool:
        """Extend the lease; False if `owner` no longer holds it."""
        with self.engine.begin() as conn:
            result = conn.execute(
                jobs.update().where(_held(job_id, owner)).values(lease_until=lease_until)
            )
        return result.rowcount == 1

    def stop_request(self, job_id: str) -> tuple[str, str] | None:
        """The state a running job was asked to end in, and why; None if not asked."""
        query = select(jobs.c.stop_state, jobs.c.stop_message).where(jobs.c.id == job_id)
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        if row is None or row.stop_state is None:
            return None
        return row.stop_state, row.stop_message or ""

    def finish(self, job: Job, owner: str) -> bool:
        """Write the job's final (or re-queued) state and give up the lease."""
        with self.engine.begin() as conn:
            result = conn.execute(
                jobs.update()
                .where(_held(job.id, owner))
                .values(state=job.state, data=_encode(job), lease_owner=None, lease_until=None)
            )
        return result.rowcount == 1

    def stale(self, now_s: float, dead_owners: set[str]) -> list[tuple[Job, str, str | None, str]]:
        """Running jobs whose worker is gone: (job, its owner, stop state, stop message)."""
        gone = or_(jobs.c.lease_until < now_s, jobs.c.lease_owner.in_(sorted(dead_owners)))
        query = select(jobs.c.data, jobs.c.lease_owner, jobs.c.stop_state, jobs.c.stop_message)
        with self.engine.connect() as conn:
            rows = conn.execute(query.where(jobs.c.state == "running", gone).order_by(jobs.c.seq))
            return [(_decode(r[0]), r[1] or "", r[2], r[3] or "") for r in rows]

    def heads(self) -> list[str]:
        """The oldest queued job of every KB that has none running: the jobs that may start."""
        with self.engine.connect() as conn:
            return [row[0] for row in conn.execute(_heads_query())]

    def running_owners(self) -> set[str]:
        """The owners of every running job's lease."""
        query = select(jobs.c.lease_owner).where(jobs.c.state == "running").distinct()
        with self.engine.connect() as conn:
            return {owner for owner in conn.execute(query).scalars() if owner}


def _heads_query() -> Select[Any]:
    """The oldest queued job of every KB with none running: (id, tenant), oldest first."""
    running = select(jobs.c.kb).where(jobs.c.state == "running")
    first = (
        select(func.min(jobs.c.seq))
        .where(jobs.c.state == "queued", jobs.c.kb.not_in(running))
        .group_by(jobs.c.kb)
    )
    return select(jobs.c.id, jobs.c.tenant).where(jobs.c.seq.in_(first)).order_by(jobs.c.seq)


def _another_tenant_first(conn: Connection, tenant: str) -> bool:
    """Whether a tenant running fewer jobs than `tenant` has a job that could start now.

    Fairness between tenants: one tenant's many jobs never keep another's one job waiting
    while workers free up. Deciding on a moment's counts is enough; a race only delays a turn.
    """
    counts = select(jobs.c.tenant, func.count()).where(jobs.c.state == "running")
    running: dict[str, int] = {
        row[0]: row[1] for row in conn.execute(counts.group_by(jobs.c.tenant))
    }
    mine = running.get(tenant, 0)
    if mine == 0:
        return False
    return any(
        row[1] != tenant and running.get(row[1], 0) < mine for row in conn.execute(_heads_query())
    )


def _held(job_id: str, owner: str) -> ColumnElement[bool]:
    return and_(jobs.c.id == job_id, jobs.c.state == "running", jobs.c.lease_owner == owner)


def _lock_kb(conn: Connection, kb: str) -> None:
    """Serialise claims of one KB's jobs (PostgreSQL; SQLite serialises every write anyway)."""
    if conn.dialect.name == "postgresql":
        conn.execute(
            select(knowledge_bases.c.name).where(knowledge_bases.c.name == kb).with_for_update()
        )


def _encode(job: Job) -> str:
    return job.model_dump_json()


def _decode(data: str) -> Job:
    return Job.model_validate_json(data)
