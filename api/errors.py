"""Errors on the wire: every failure becomes one status and the OpenAI error object.

The mapping from domain errors to statuses lives here and nowhere else. Bodies carry the
error's own message (domain errors are written for the caller) and the request id; an
unexpected exception says only "internal error", its trace goes to the log. Unexpected
exceptions are answered by the request-id middleware (`unexpected_response`), not by a
Starlette handler: Starlette's ServerErrorMiddleware sits outside every middleware, so its
answer would lack the request id and it re-raises, which makes the server drop the connection.
"""

from __future__ import annotations

import errno
import logging
import sqlite3
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.context import request_id
from api.schemas import ErrorDetail, ErrorOut
from controlplane.principal import Principal
from indexer.jobs.errors import JobFinishedError, JobNotFoundError
from rag.answer.errors import AnswerError
from rag.errors import (
    BackendUnavailableError,
    ConfigError,
    EmbedderUnavailableError,
    InvalidInputError,
    KBExistsError,
    KBNotFoundError,
    LoaderError,
    RagError,
    StoreError,
)
from rag.generation.errors import GeneratorError, GeneratorUnavailableError
from rag.tenancy import unqualified

log = logging.getLogger("api.errors")


class ApiError(Exception):
    """An error raised by the API layer itself (auth, limits, missing objects)."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str,
        code: str | None = None,
        param: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.code = code
        self.param = param
        self.headers = dict(headers or {})


def not_found(what: str, code: str) -> ApiError:
    return ApiError(404, what, type="not_found_error", code=code)


def invalid_token(message: str) -> ApiError:
    """401 for a missing, unknown, revoked or expired bearer token."""
    return ApiError(
        401,
        message,
        type="authentication_error",
        code="invalid_token",
        headers={"WWW-Authenticate": "Bearer"},
    )


# Most specific first: the first class an error is an instance of decides.
_DOMAIN: tuple[tuple[type[RagError], int, str, str], ...] = (
    (JobNotFoundError, 404, "not_found_error", "job_not_found"),
    (JobFinishedError, 409, "conflict_error", "job_finished"),
    (KBNotFoundError, 404, "not_found_error", "kb_not_found"),
    (KBExistsError, 409, "conflict_error", "kb_exists"),
    (InvalidInputError, 400, "invalid_request_error", "invalid_input"),
    (ConfigError, 400, "invalid_request_error", "invalid_config"),
    (LoaderError, 400, "invalid_request_error", "unreadable_file"),
    (BackendUnavailableError, 503, "service_unavailable", "backend_unavailable"),
    (EmbedderUnavailableError, 503, "service_unavailable", "embedder_unavailable"),
    (StoreError, 500, "server_error", "store_error"),
    (GeneratorUnavailableError, 503, "service_unavailable", "generator_unavailable"),
    (AnswerError, 502, "generator_error", "answer_unusable"),
    (GeneratorError, 502, "generator_error", "generator_failed"),
)


def domain_status(exc: RagError) -> tuple[int, str, str]:
    """Status, error type and code of a domain error."""
    for cls, status, type_, code in _DOMAIN:
        if isinstance(exc, cls):
            return status, type_, code
    return 500, "server_error", "internal"


def error_body(
    message: str, type_: str, code: str | None = None, param: str | None = None
) -> dict[str, Any]:
    """The OpenAI error object, with the request id beside it (`api.schemas.ErrorOut`)."""
    detail = ErrorDetail(message=message, type=type_, param=param, code=code)
    return ErrorOut(error=detail, request_id=request_id()).model_dump()


def public_message(exc: RagError) -> str:
    """What the caller reads of a domain error: a backend's says which, never where it runs."""
    if isinstance(exc, BackendUnavailableError):
        return f"{exc.backend} is unavailable; try again later"
    if isinstance(exc, GeneratorUnavailableError):
        # Its text names the vLLM endpoint and the client's exception: the operator's.
        return "the generator is unavailable; try again later"
    if isinstance(exc, StoreError):
        # Its text names files, indices and server replies: the operator's, in the log.
        return "the storage engine failed (the server log has the details)"
    return str(exc)


def exception_body(exc: ApiError | RagError) -> dict[str, Any]:
    """The error body of an API or domain error, for a stream that has already started."""
    if isinstance(exc, ApiError):
        return error_body(exc.message, exc.type, exc.code, exc.param)
    _, type_, code = domain_status(exc)
    return error_body(public_message(exc), type_, code)


def error_response(
    status: int,
    message: str,
    type_: str,
    code: str | None = None,
    param: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    return JSONResponse(
        error_body(message, type_, code, param), status_code=status, headers=dict(headers or {})
    )


def api_error_response(exc: ApiError) -> JSONResponse:
    return error_response(exc.status, exc.message, exc.type, exc.code, exc.param, exc.headers)


def rag_error_response(exc: RagError, principal: Principal | None = None) -> JSONResponse:
    """The domain error's status and body; the caller's stored KB names read as its own."""
    status, type_, code = domain_status(exc)
    if status >= 500 and status != 502:
        log.error("domain error %s: %s", type(exc).__name__, exc)
    message = public_message(exc)
    if principal is not None:
        message = unqualified(message, principal.tenant)
    return error_response(status, message, type_, code)


def _validation_param(exc: RequestValidationError) -> tuple[str, str]:
    """The first offending field as `body.k`, and a message naming every problem."""
    problems = []
    first = None
    for err in exc.errors():
        loc = ".".join(str(p) for p in err.get("loc", ()))
        first = first or loc
        problems.append(f"{loc}: {err.get('msg', 'invalid')}")
    return first or "body", "; ".join(problems) or "invalid request"


# A full disk (or quota) is the operator's to fix, and the caller's to retry later: 507.
_NO_SPACE = frozenset({errno.ENOSPC, errno.EDQUOT})


def unexpected_response(exc: Exception) -> JSONResponse:
    """500 "internal error" (507 for a full disk) for an exception no handler mapped."""
    no_space = (isinstance(exc, OSError) and exc.errno in _NO_SPACE) or (
        isinstance(exc, sqlite3.OperationalError)
        and getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL
    )
    if no_space:
        log.error("out of disk space: %s", exc)
        return error_response(
            507,
            "the server has no disk space left; retry later",
            "server_error",
            "insufficient_storage",
        )
    log.error("unhandled error", exc_info=exc)
    return error_response(500, "internal error", "server_error", "internal")


_HTTP_TYPES = {
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    405: "invalid_request_error",
    413: "request_too_large",
}


def install_error_handlers(app: FastAPI) -> None:
    """Route every exception through one of the mappings above."""

    async def on_api_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ApiError)
        return api_error_response(exc)

    async def on_rag_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RagError)
        return rag_error_response(exc, getattr(request.state, "principal", None))

    async def on_validation(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        param, message = _validation_param(exc)
        return error_response(422, message, "invalid_request_error", "invalid_field", param)

    async def on_http(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        type_ = _HTTP_TYPES.get(exc.status_code, "invalid_request_error")
        headers = dict(exc.headers or {})
        code = getattr(exc, "code", None)  # set by api.middleware.BodyTooLarge
        return error_response(exc.status_code, str(exc.detail), type_, code, None, headers)

    app.add_exception_handler(ApiError, on_api_error)
    app.add_exception_handler(RagError, on_rag_error)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
