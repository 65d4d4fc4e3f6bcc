"""Python client of the rag-service HTTP API (docs/api.md), blocking and asyncio, on httpx.

    from api.client import RagClient

    with RagClient("http://127.0.0.1:8000", api_key="rag_...") as rag:  # or env RAG_API_KEY
        job = rag.upload_files("manuals", ["guide.pdf", ("notes.md", b"# Notes")])
        rag.wait_for_job(job.id, timeout=600)
        for hit in rag.search("manuals", "how do I reset it?", k=5):
            print(hit.score, hit.title)
        for event in rag.stream_answer("manuals", "How do I reset it?"):
            ...  # PassagesEvent, then DeltaEvents, then one AnswerEvent

`AsyncRagClient` has the same methods, awaited (`stream_answer` and `iter_documents` are async
iterators). Both retry 429, 500, 502, 503, 504 and transport errors with exponential back-off
and honour `Retry-After`; `api.client._retry` says which requests are retried when. An upload
that is retried after the server may have taken it starts a second job: harmless, because
ingestion skips documents whose content hash is already stored. Errors raise the classes of
`api.client.errors`. Answers are the API's own models (`api.schemas`), validated on arrival.
"""

from api.client._base import Upload
from api.client._retry import RetryPolicy
from api.client.aio import AsyncRagClient
from api.client.errors import (
    AuthenticationError,
    ConflictError,
    InvalidResponseError,
    JobTimeoutError,
    NotFoundError,
    PermissionDeniedError,
    RagAPIError,
    RateLimitError,
    ServerError,
    ValidationError,
)
from api.client.sync import RagClient
from api.client.types import (
    KB,
    TERMINAL_STATES,
    Answer,
    AnswerEvent,
    DeltaEvent,
    Document,
    DocumentPage,
    Hit,
    Job,
    JobState,
    PassagesEvent,
    StreamEvent,
    Token,
)
from rag.http_retry import parse_retry_after

__all__ = [
    "KB",
    "TERMINAL_STATES",
    "Answer",
    "AnswerEvent",
    "AsyncRagClient",
    "AuthenticationError",
    "ConflictError",
    "DeltaEvent",
    "Document",
    "DocumentPage",
    "Hit",
    "InvalidResponseError",
    "Job",
    "JobState",
    "JobTimeoutError",
    "NotFoundError",
    "PassagesEvent",
    "PermissionDeniedError",
    "RagAPIError",
    "RagClient",
    "RateLimitError",
    "RetryPolicy",
    "ServerError",
    "StreamEvent",
    "Token",
    "Upload",
    "ValidationError",
    "parse_retry_after",
]
