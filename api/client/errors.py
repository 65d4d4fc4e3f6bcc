"""Errors the client raises: one class per status family, all parsed from the OpenAI error object.

    RagAPIError                  any error answer of the service (status, message, type, code, ...)
    ├── ValidationError          400, 422 (`param` names the offending field)
    ├── AuthenticationError      401
    ├── PermissionDeniedError    403
    ├── NotFoundError            404
    ├── ConflictError            409
    ├── RateLimitError           429 (`retry_after` seconds, when the server said)
    ├── ServerError              5xx
    └── InvalidResponseError     a success whose body the API's own models reject
    JobTimeoutError              wait_for_job gave up (a TimeoutError, not an API answer)

Connection failures that outlast the retries raise httpx's own `httpx.TransportError`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import httpx
import pydantic

from api.client.types import Job
from rag.http_retry import parse_retry_after


class RagAPIError(Exception):
    """An error answer of the service. `body` is the parsed JSON body (or the text).

    `response` is the httpx response it came in, when there was one (retries read its
    `Retry-After`).
    """

    response: httpx.Response | None = None

    def __init__(
        self,
        status: int,
        message: str,
        type: str | None = None,
        code: str | None = None,
        param: str | None = None,
        request_id: str | None = None,
        body: Any = None,
    ) -> None:
        super().__init__(f"{status} {type or 'error'}: {message}")
        self.status = status
        self.message = message
        self.type = type
        self.code = code
        self.param = param
        self.request_id = request_id
        self.body = body


class ValidationError(RagAPIError):
    """400 or 422: the request must be fixed."""


class AuthenticationError(RagAPIError):
    """401: missing, unknown, revoked or expired token."""


class PermissionDeniedError(RagAPIError):
    """403: the key lacks the scope, or the KB is not on its allow-list."""


class NotFoundError(RagAPIError):
    """404: no such KB, document or job for this tenant."""


class ConflictError(RagAPIError):
    """409: the KB already exists, or the job has already finished."""


class RateLimitError(RagAPIError):
    """429: over the key's request or token rate."""

    retry_after: float | None = None


class ServerError(RagAPIError):
    """5xx: the service or one of its backends failed."""


class InvalidResponseError(RagAPIError):
    """A success answer whose body is not what the API describes (a proxy, another service)."""


class JobTimeoutError(TimeoutError):
    """The job did not finish within the wait; `job` is its last seen state."""

    def __init__(self, job: Job, waited: float) -> None:
        super().__init__(f"job {job.id} still {job.state} after {waited:.1f}s")
        self.job = job


_BY_STATUS: dict[int, type[RagAPIError]] = {
    400: ValidationError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    422: ValidationError,
    429: RateLimitError,
}
# An `error` event of a stream has no status of its own: its type says which one it would be.
_STATUS_OF_TYPE = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "permission_error": 403,
    "not_found_error": 404,
    "conflict_error": 409,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "server_error": 500,
    "generator_error": 502,
    "service_unavailable": 503,
    "timeout_error": 504,
}


def error_class(status: int) -> type[RagAPIError]:
    """The exception class of an error status."""
    return ServerError if status >= 500 else _BY_STATUS.get(status, RagAPIError)


def from_body(
    status: int, body: Any, *, request_id: str | None = None, fallback: str = ""
) -> RagAPIError:
    """The exception for an error body; a body that is not the error object keeps `fallback`."""
    err = body.get("error") if isinstance(body, dict) else None
    if isinstance(body, dict) and isinstance(body.get("request_id"), str):
        request_id = body["request_id"]
    cls, default = error_class(status), fallback or f"HTTP {status}"
    if not isinstance(err, dict):
        return cls(status, default, None, None, None, request_id, body)
    return cls(
        status,
        str(err.get("message") or default),
        _str_or_none(err.get("type")),
        _str_or_none(err.get("code")),
        _str_or_none(err.get("param")),
        request_id,
        body,
    )


def from_response(
    status: int, content: bytes, headers: Mapping[str, str], reason: str = ""
) -> RagAPIError:
    """The exception for an error response; tolerates bodies that are not JSON (proxies)."""
    text = content.decode("utf-8", errors="replace")
    try:
        body: Any = json.loads(text)
    except ValueError:
        body = text
    fallback = text.strip()[:500] or reason
    error = from_body(status, body, request_id=headers.get("x-request-id"), fallback=fallback)
    if isinstance(error, RateLimitError):
        error.retry_after = parse_retry_after(headers.get("retry-after"))
    return error


def from_event(payload: Any) -> RagAPIError:
    """The exception for the `error` event of a streamed answer."""
    err = payload.get("error") if isinstance(payload, dict) else None
    type_ = err.get("type") if isinstance(err, dict) else None
    status = _STATUS_OF_TYPE.get(type_, 500) if isinstance(type_, str) else 500
    return from_body(status, payload, fallback="error in stream")


def invalid_response(
    status: int, what: str, content: bytes | str, error: pydantic.ValidationError
) -> RagAPIError:
    """The exception for a body (or stream event) that the API's model rejects."""
    problems = error.errors(include_url=False)
    if problems and problems[0]["type"] == "json_invalid":
        raw = content.decode("utf-8", "replace") if isinstance(content, bytes) else content
        return InvalidResponseError(status, f"{what} is not JSON: {raw[:200]!r}", code="not_json")
    named = "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in problems[:5]
    )
    return InvalidResponseError(status, f"unexpected {what}: {named}", code="invalid_body")


def _str_or_none(value: Any) -> str | None:
    return None if value is None else str(value)
