"""uvicorn's HTTP protocol, answering requests it cannot parse with the service's error object.

A request line or headers the C parser refuses (malformed, or a URL or headers past its limit,
about 80 KiB) never reach the app: uvicorn answers them itself with a plain-text 400. Every
response of the service is the JSON error object with a request id (docs/api.md), so this
subclass overrides only that one answer. Hand-written because uvicorn offers no hook for it.
"""

from __future__ import annotations

import json

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from api.context import new_request_id
from api.schemas import ErrorDetail, ErrorOut

MESSAGE = (
    "the request could not be parsed: malformed, or its URL or headers are longer than the "
    "server accepts (about 80 KiB)"
)


def unparsable_response(server_headers: list[tuple[bytes, bytes]]) -> bytes:
    """The whole HTTP/1.1 400 response for a request that could not be parsed."""
    rid = new_request_id()
    detail = ErrorDetail(
        message=MESSAGE, type="invalid_request_error", param=None, code="unparsable_request"
    )
    body = json.dumps(ErrorOut(error=detail, request_id=rid).model_dump()).encode()
    lines = [b"HTTP/1.1 400 Bad Request\r\n"]
    lines += [name + b": " + value + b"\r\n" for name, value in server_headers]
    lines += [
        b"content-type: application/json\r\n",
        b"content-length: " + str(len(body)).encode() + b"\r\n",
        b"x-request-id: " + rid.encode() + b"\r\n",
        b"connection: close\r\n",
        b"\r\n",
        body,
    ]
    return b"".join(lines)


class JsonErrorHttpTools(HttpToolsProtocol):
    """`uvicorn.run(..., http=JsonErrorHttpTools)`."""

    def send_400_response(self, msg: str) -> None:
        self.transport.write(unparsable_response(list(self.server_state.default_headers)))
        self.transport.close()
