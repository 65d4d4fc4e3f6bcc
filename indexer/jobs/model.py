"""An ingestion job as the manager keeps it: state, inputs, progress, errors and timings.

Pydantic models: the job store writes a job with `model_dump_json` and reads it back with
`model_validate_json` (the field names are the stored format), and `api.schemas.JobOut`
derives the wire form from the same counts, errors and timings.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field

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


class JobCounts(BaseModel):
    """Progress by stage: documents parsed; chunks made, embedded and written."""

    files: int = Field(default=0, description="uploaded files (0 for JSON records)")
    parsed: int = Field(
        default=0, description="documents loaded and hashed, unchanged ones included"
    )
    chunked: int = Field(default=0, description="chunks cut from new and changed documents")
    embedded: int = Field(default=0, description="chunks embedded")
    indexed: int = Field(default=0, description="chunks written to the KB")
    unchanged: int = Field(
        default=0, description="documents skipped: the same content is already stored"
    )
    deleted: int = Field(
        default=0, description="stored rows of a re-uploaded file its new version lacks"
    )
    failed: int = Field(default=0, description="files (or .jsonl lines) that could not be loaded")


class JobTimings(BaseModel):
    """Seconds spent per stage."""

    parse: float = Field(default=0.0, description="seconds loading, hashing and chunking")
    embed: float = 0.0
    index: float = 0.0
    total: float = 0.0


class FileError(BaseModel):
    """One input that could not be ingested, named as it was uploaded."""

    model_config = ConfigDict(frozen=True)

    file: str = Field(examples=["scan.pdf"])
    error: str = Field(examples=["encrypted PDF"])


class Job(BaseModel):
    """One ingestion job; `inputs` are the uploaded file names in upload order."""

    id: str
    tenant: str
    kb: str  # registry (stored) name
    kb_name: str  # the tenant's name for the KB
    kind: JobKind
    inputs: list[str]
    state: JobState = "queued"
    created_at: str = Field(default_factory=now)
    started_at: str | None = None
    finished_at: str | None = None
    counts: JobCounts = Field(default_factory=JobCounts)
    errors: list[FileError] = Field(default_factory=list)
    timings: JobTimings = Field(default_factory=JobTimings)
    message: str | None = None
    resumed: int = 0  # times a restart found it unfinished and queued it again

    @property
    def finished(self) -> bool:
        return self.state in FINAL_STATES

    def snapshot(self) -> Job:
        """An independent deep copy (the live job keeps changing on the worker thread)."""
        return self.model_copy(deep=True)
