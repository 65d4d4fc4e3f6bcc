"""Ingestion jobs in SQLite, so a restarted service finds the jobs it must resume.

One row per job: the columns the manager queries by (tenant, KB, state, arrival order) and the
whole job as the JSON of the `Job` model (its field names are the stored format).
Thread-safe: one connection behind a lock, every write its own transaction.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from indexer.jobs.model import FINAL_STATES, Job, JobState
from rag.files import private_dir, private_file

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    tenant TEXT NOT NULL,
    kb TEXT NOT NULL,
    state TEXT NOT NULL,
    data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS jobs_by_kb ON jobs (kb, seq);
CREATE INDEX IF NOT EXISTS jobs_by_state ON jobs (state, seq);
"""


class JobStore:
    """Insert, update and read jobs; `seq` keeps arrival order for FIFO resume."""

    def __init__(self, path: Path) -> None:
        private_dir(path.parent)
        self._conn = sqlite3.connect(
            private_file(path), isolation_level=None, check_same_thread=False
        )
        self._lock = threading.Lock()
        with self._lock:
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA busy_timeout=5000")
            self._conn.executescript(_SCHEMA)

    def insert(self, job: Job) -> None:
        with self._lock:
            self._conn.execute(
                "INSERT INTO jobs (id, tenant, kb, state, data) VALUES (?, ?, ?, ?, ?)",
                (job.id, job.tenant, job.kb, job.state, _encode(job)),
            )

    def save(self, job: Job) -> None:
        """Overwrite a stored job with this state of it."""
        with self._lock:
            self._conn.execute(
                "UPDATE jobs SET state = ?, data = ? WHERE id = ?",
                (job.state, _encode(job), job.id),
            )

    def get(self, job_id: str) -> Job | None:
        with self._lock:
            row = self._conn.execute("SELECT data FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return _decode(row[0]) if row else None

    def for_kb(self, kb: str, limit: int) -> list[Job]:
        """A KB's jobs, newest first."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT data FROM jobs WHERE kb = ? ORDER BY seq DESC LIMIT ?", (kb, limit)
            ).fetchall()
        return [_decode(r[0]) for r in rows]

    def unfinished(self) -> list[Job]:
        """Jobs not in a final state, oldest first: the order they were submitted in."""
        marks = ",".join("?" * len(FINAL_STATES))
        with self._lock:
            rows = self._conn.execute(
                f"SELECT data FROM jobs WHERE state NOT IN ({marks}) ORDER BY seq",
                sorted(FINAL_STATES),
            ).fetchall()
        return [_decode(r[0]) for r in rows]

    def count_by_state(self) -> dict[JobState, int]:
        with self._lock:
            rows = self._conn.execute("SELECT state, COUNT(*) FROM jobs GROUP BY state").fetchall()
        return {state: n for state, n in rows}

    def close(self) -> None:
        with self._lock:
            self._conn.close()


def _encode(job: Job) -> str:
    return job.model_dump_json()


def _decode(data: str) -> Job:
    return Job.model_validate_json(data)
