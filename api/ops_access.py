"""Who may read the operational endpoints: metrics, readiness details and the API docs.

They describe the whole service (routes, backends, versions), so they belong to its operator:
`RAG_API_OPS_ACCESS` and `RAG_API_DOCS_ACCESS` say whether anyone, loopback clients or only
holders of `RAG_API_OPS_TOKEN` may read them (rag/config.py). A tenant's API key does not.
"""

from __future__ import annotations

import hmac
import ipaddress
from typing import Literal

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from api.errors import error_body
from rag.config import Settings

Access = Literal["open", "loopback", "token"]
DOCS_PATHS = frozenset({"/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json"})
OPS_PATHS = frozenset({"/metrics"})


def _loopback(scope: Scope) -> bool:
    client = scope.get("client")
    if not client:
        return True  # an in-process transport, not a network peer
    try:
        return ipaddress.ip_address(client[0]).is_loopback
    except ValueError:
        return bool(client[0] == "testclient")  # Starlette's TestClient names its peer so


def _bearer(scope: Scope) -> str | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            return token.strip() if scheme.lower() == "bearer" else None
    return None


def allowed(scope: Scope, access: Access, settings: Settings) -> bool:
    """Whether this request may read what `access` guards."""
    if access == "open":
        return True
    token = settings.api_ops_token
    given = _bearer(scope)
    secret = token.get_secret_value().encode() if token is not None else None
    if secret and given is not None and hmac.compare_digest(given.encode(), secret):
        return True
    return access == "loopback" and _loopback(scope)


class OpsAccess:
    """401 for /metrics and the docs when the request may not read them."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path = scope.get("path", "")
            access: Access | None = None
            if path in OPS_PATHS:
                access = self.settings.api_ops_access
            elif path in DOCS_PATHS:
                access = self.settings.api_docs_access
            if access is not None and not allowed(scope, access, self.settings):
                await _refuse(scope, receive, send, path)
                return
        await self.app(scope, receive, send)


async def _refuse(scope: Scope, receive: Receive, send: Send, path: str) -> None:
    message = (
        f"{path} is for the service's operator: send 'Authorization: Bearer <RAG_API_OPS_TOKEN>'"
    )
    body = error_body(message, "authentication_error", "ops_token_required")
    headers = {"www-authenticate": "Bearer"}
    await JSONResponse(body, status_code=401, headers=headers)(scope, receive, send)
