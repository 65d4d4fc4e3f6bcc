"""Ingestion jobs: a KB's jobs, one job's progress, cancelling a job."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field

from api.deps import Reader, ReadKB, ServicesDep, Writer
from controlplane.principal import Principal
from indexer.jobs.errors import JobNotFoundError
from indexer.jobs.manager import JobManager
from indexer.jobs.model import Job, JobState

router = APIRouter(tags=["ingestion jobs"])

JobId = Annotated[
    str, Path(description="the job id", max_length=64, examples=["job_8f14e45fceea167a5a36dedd"])
]


class CountsOut(BaseModel):
    files: int = Field(description="uploaded files (0 for JSON records)")
    parsed: int = Field(description="documents loaded and hashed, unchanged ones included")
    chunked: int = Field(description="chunks cut from new and changed documents")
    embedded: int = Field(description="chunks embedded")
    indexed: int = Field(description="chunks written to the KB")
    unchanged: int = Field(description="documents skipped: the same content is already stored")
    deleted: int = Field(description="stored rows of a re-uploaded file its new version lacks")
    failed: int = Field(description="files (or .jsonl lines) that could not be loaded")


class FileErrorOut(BaseModel):
    file: str = Field(examples=["scan.pdf"])
    error: str = Field(examples=["encrypted PDF"])


class TimingsOut(BaseModel):
    parse: float = Field(description="seconds loading, hashing and chunking")
    embed: float
    index: float
    total: float


class JobOut(BaseModel):
    """An ingestion job; poll `GET /v1/jobs/{id}` until `state` is final."""

    id: str
    kb: str
    state: JobState
    created_at: str
    started_at: str | None
    finished_at: str | None
    counts: CountsOut
    errors: list[FileErrorOut]
    timings: TimingsOut
    message: str | None
    resumed: int = Field(description="times a service restart found the job unfinished")

    @classmethod
    def of(cls, job: Job) -> JobOut:
        return cls.model_validate(job.public())


class JobList(BaseModel):
    data: list[JobOut]


def _visible(jobs: JobManager, job_id: str, principal: Principal) -> Job:
    """The caller's job; one of a KB outside its allow-list is reported as missing."""
    job = jobs.get(job_id, principal.tenant)
    if not principal.may_use(job.kb_name):
        raise JobNotFoundError(job_id)
    return job


@router.get("/kbs/{kb}/jobs", response_model=JobList, summary="A KB's ingestion jobs, newest first")
async def list_jobs(
    kb: ReadKB,
    services: ServicesDep,
    limit: Annotated[int, Query(ge=1, le=1000, description="at most this many")] = 100,
) -> JobList:
    jobs = await asyncio.to_thread(services.jobs.list, kb.stored, limit, kb.config.created_at)
    return JobList(data=[JobOut.of(j) for j in jobs])


@router.get("/jobs/{job_id}", response_model=JobOut, summary="An ingestion job's progress")
async def get_job(job_id: JobId, services: ServicesDep, principal: Reader) -> JobOut:
    job = await asyncio.to_thread(_visible, services.jobs, job_id, principal)
    return JobOut.of(job)


@router.post("/jobs/{job_id}/cancel", response_model=JobOut, summary="Cancel an ingestion job")
async def cancel_job(job_id: JobId, services: ServicesDep, principal: Writer) -> JobOut:
    """A queued job ends at once; a running one after the batch being written (409 if over)."""

    def cancel() -> Job:
        _visible(services.jobs, job_id, principal)
        return services.jobs.cancel(job_id, principal.tenant)

    return JobOut.of(await asyncio.to_thread(cancel))
