"""Ingestion jobs: a KB's jobs, one job's progress, cancelling a job."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Path, Query

from api.deps import Reader, ReadKB, ServicesDep, Writer
from api.schemas import AUTH_ERRORS, JobList, JobOut, error_responses
from controlplane.principal import Principal
from indexer.jobs.errors import JobNotFoundError
from indexer.jobs.manager import JobManager
from indexer.jobs.model import Job

router = APIRouter(tags=["ingestion jobs"])

JobId = Annotated[
    str, Path(description="the job id", max_length=64, examples=["job_8f14e45fceea167a5a36dedd"])
]
_ERRORS = error_responses(*AUTH_ERRORS, 404, 422)


def _visible(jobs: JobManager, job_id: str, principal: Principal) -> Job:
    """The caller's job; one of a KB outside its allow-list is reported as missing."""
    job = jobs.get(job_id, principal.tenant)
    if not principal.may_use(job.kb_name):
        raise JobNotFoundError(job_id)
    return job


@router.get(
    "/kbs/{kb}/jobs",
    response_model=JobList,
    summary="A KB's ingestion jobs, newest first",
    responses=_ERRORS,
)
async def list_jobs(
    kb: ReadKB,
    services: ServicesDep,
    limit: Annotated[int, Query(ge=1, le=1000, description="at most this many")] = 100,
) -> JobList:
    jobs = await asyncio.to_thread(services.jobs.list, kb.stored, limit, kb.config.created_at)
    return JobList(data=[JobOut.of(j) for j in jobs])


@router.get(
    "/jobs/{job_id}",
    response_model=JobOut,
    summary="An ingestion job's progress",
    responses=_ERRORS,
)
async def get_job(job_id: JobId, services: ServicesDep, principal: Reader) -> JobOut:
    job = await asyncio.to_thread(_visible, services.jobs, job_id, principal)
    return JobOut.of(job)


@router.post(
    "/jobs/{job_id}/cancel",
    response_model=JobOut,
    summary="Cancel an ingestion job",
    responses=error_responses(*AUTH_ERRORS, 404, 409, 422),
)
async def cancel_job(job_id: JobId, services: ServicesDep, principal: Writer) -> JobOut:
    """A queued job ends at once; a running one after the batch being written (409 if over)."""

    def cancel() -> Job:
        _visible(services.jobs, job_id, principal)
        return services.jobs.cancel(job_id, principal.tenant)

    return JobOut.of(await asyncio.to_thread(cancel))
