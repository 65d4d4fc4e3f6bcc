"""Errors of the job manager, mapped to HTTP statuses by the API like every domain error.

RagError
├── JobNotFoundError  no job of that id for this tenant (another tenant's job included)
└── JobFinishedError  the job already reached a final state (it cannot be cancelled)
"""

from rag.errors import RagError


class JobNotFoundError(RagError):
    def __init__(self, job_id: str) -> None:
        super().__init__(f"no job {job_id!r}")
        self.job_id = job_id


class JobFinishedError(RagError):
    pass
