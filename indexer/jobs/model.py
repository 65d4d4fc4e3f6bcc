"""An ingestion job as the manager keeps it: state, inputs, progress, errors and timings."""

from __future__ import annotations

import copy
import uuid
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, get_args

JobState = Literal["queued", "running", "succeeded", "failed", "cancelled"]
JobKind = Literal["files", "records"]
JOB_STATES: tuple[JobState, ...] = get_args(JobState)
FINAL_STATES: frozenset[JobState] = frozenset({"succeeded", "failed", "cancelled"})
RECORDS_FILE = "records.json"  # a records job's one input, in its upload folder


def now() -> str:
    """A timestamp as jobs and KB configs record it (ISO 8601, UTC)."""
    return datetime.now(UTC).isoformat()


def new_job_id() -> str:
    return f"job_{uuid.uuid4().hex}"


@dataclass(frozen=True)
class JobTarget:
    """The KB a job writes to: its owner, its registry name and the name its owner uses."""

    tenant: str
    stored: str
    name: str


@dataclass
class JobCounts:
    """Progress by stage: documents parsed; chunks made, embedded and written."""

    files: int = 0  # uploaded files (0 for a records job)
    parsed: int = 0  # documents loaded and hashed (unchanged ones included)
    chunked: int = 0  # chunks cut from new and changed documents
    embedded: int = 0  # chunks embedded
    indexed: int = 0  # chunks written to the store
    unchanged: int = 0  # documents skipped: the same content is already stored
    deleted: int = 0  # stored rows of a re-uploaded file that its new version lacks
    failed: int = 0  # files (or .jsonl lines) that could not be loaded


@dataclass
class JobTimings:
    """Seconds spent per stage; `parse` covers loading, hashing and chunking."""

    parse: float = 0.0
    embed: float = 0.0
    index: float = 0.0
    total: float = 0.0


@dataclass(frozen=True)
class FileError:
    """One input that could not be ingested, named as it was uploaded."""

    file: str
    error: str


@dataclass
class Job:
    """One ingestion job; `inputs` are the uploaded file names in upload order."""

    id: str
    tenant: str
    kb: str  # registry (stored) name
    kb_name: str  # the tenant's name for the KB
    kind: JobKind
    inputs: list[str]
    state: JobState = "queued"
    created_at: str = field(default_factory=now)
    started_at: str | None = None
    finished_at: str | None = None
    counts: JobCounts = field(default_factory=JobCounts)
    errors: list[FileError] = field(default_factory=list)
    timings: JobTimings = field(default_factory=JobTimings)
    message: str | None = None
    resumed: int = 0  # times a restart found it unfinished and queued it again

    @property
    def finished(self) -> bool:
        return self.state in FINAL_STATES

    def copy(self) -> Job:
        """An independent copy (the live job keeps changing on the worker thread)."""
        return copy.deepcopy(self)

    def to_dict(self) -> dict[str, Any]:
        """Everything, for the job store."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Job:
        return cls(
            **{
                **data,
                "counts": JobCounts(**data["counts"]),
                "timings": JobTimings(**data["timings"]),
                "errors": [FileError(**e) for e in data["errors"]],
            }
        )

    def public(self) -> dict[str, Any]:
        """The Job object of the HTTP API (docs/api.md): the KB by its tenant-side name."""
        timings = {k: round(v, 3) for k, v in asdict(self.timings).items()}
        return {
            "id": self.id,
            "kb": self.kb_name,
            "state": self.state,
            "created_at": self.created_at,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "counts": asdict(self.counts),
            "errors": [asdict(e) for e in self.errors],
            "timings": timings,
            "message": self.message,
            "resumed": self.resumed,
        }
