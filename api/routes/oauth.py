"""OAuth2 client credentials (RFC 6749 4.4): trade an API key for a short-lived access token.

`client_id` is the key id and `client_secret` the whole API key, sent in the form or as HTTP
Basic auth (2.3.1). Errors use the service's error object with the OAuth error name as `code`.
"""

from __future__ import annotations

import asyncio
from typing import Annotated
from urllib.parse import unquote_plus

from fastapi import APIRouter, Depends, Form, HTTPException, Response
from fastapi.security import HTTPBasic, HTTPBasicCredentials
from starlette.requests import HTTPConnection

from api.deps import ServicesDep
from api.errors import ApiError
from api.schemas import TokenResponse, error_responses
from controlplane.keys import ordered_scopes
from controlplane.principal import SCOPES, Principal, Scope

router = APIRouter(tags=["auth"])

GRANT_TYPE = "client_credentials"


def _bad_request(message: str, code: str, param: str | None = None) -> ApiError:
    return ApiError(400, message, type="invalid_request_error", code=code, param=param)


def _invalid_client(basic: bool) -> ApiError:
    # RFC 6749 5.2: a client that authenticated through the header is challenged in its scheme.
    challenge = 'Basic realm="rag-service"' if basic else "Bearer"
    return ApiError(
        401,
        "invalid client credentials",
        type="authentication_error",
        code="invalid_client",
        headers={"WWW-Authenticate": challenge},
    )


class ClientBasic(HTTPBasic):
    """Client credentials from an `Authorization: Basic` header (RFC 6749 2.3.1); None without.

    FastAPI answers undecodable credentials with its own 401 even with `auto_error=False`;
    ours is the service's error object with the OAuth error name.
    """

    # HTTPBasic itself overrides HTTPBase.__call__ with this return type (and the same ignore).
    async def __call__(self, request: HTTPConnection) -> HTTPBasicCredentials | None:  # type: ignore[override]
        try:
            credentials = await super().__call__(request)
        except HTTPException:
            raise _invalid_client(basic=True) from None
        if credentials is None:
            return None
        # 2.3.1: both parts are form-urlencoded before they are joined and encoded.
        return HTTPBasicCredentials(
            username=unquote_plus(credentials.username),
            password=unquote_plus(credentials.password),
        )


Basic = Annotated[
    HTTPBasicCredentials | None,
    Depends(
        ClientBasic(
            auto_error=False, scheme_name="HTTPBasic", description="client_id:client_secret"
        )
    ),
]


def requested_scopes(principal: Principal, scope: str | None) -> frozenset[Scope]:
    """The scopes asked for (all the key's when none are); each must be within the key's."""
    if scope is None or not scope.strip():
        return principal.scopes
    granted: set[Scope] = set()
    for name in scope.split():
        matched = next((s for s in SCOPES if s == name), None)
        if matched is None or not principal.has(matched):
            raise _bad_request(
                f"scope {name!r} is not one this key holds", "invalid_scope", param="scope"
            )
        granted.add(matched)
    return frozenset(granted)


@router.post(
    "/oauth/token",
    response_model=TokenResponse,
    summary="Issue an access token (OAuth2 client credentials)",
    responses=error_responses(400, 401, 413, 422, 429),
)
async def issue_token(
    response: Response,
    services: ServicesDep,
    basic: Basic,
    grant_type: Annotated[str, Form(max_length=64, description="must be `client_credentials`")],
    client_id: Annotated[
        str | None, Form(max_length=64, description="the API key's id (or use HTTP Basic)")
    ] = None,
    client_secret: Annotated[
        str | None, Form(max_length=256, description="the whole API key (or use HTTP Basic)")
    ] = None,
    scope: Annotated[
        str | None,
        Form(max_length=256, description="space-separated subset of the key's scopes"),
    ] = None,
) -> TokenResponse:
    """Trade an API key for a short-lived JWT carrying the same tenant, scopes and KBs."""
    if grant_type != GRANT_TYPE:
        raise _bad_request(
            f"unsupported grant_type {grant_type!r}: use {GRANT_TYPE!r}",
            "unsupported_grant_type",
            param="grant_type",
        )
    if basic is not None and (client_id is not None or client_secret is not None):
        # 2.3: a client must not use more than one authentication method in a request.
        raise _bad_request(
            "send client credentials either as HTTP Basic auth or in the form, not both",
            "invalid_request",
        )
    if basic is not None:
        client_id, client_secret = basic.username, basic.password
    if not client_id or not client_secret:
        raise _invalid_client(basic=basic is not None)
    # A key lookup is a SQLite read: off the event loop.
    principal = await asyncio.to_thread(services.keys.authenticate, client_secret)
    if principal is None or principal.key_id != client_id:
        raise _invalid_client(basic=basic is not None)
    services.limiter.hit(principal.key_id)
    granted = requested_scopes(principal, scope)
    token, expires_in = services.tokens.issue(principal, granted)
    # 5.1: responses holding tokens must not be cached.
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    return TokenResponse(
        access_token=token, expires_in=expires_in, scope=" ".join(ordered_scopes(granted))
    )
