"""Typed dependencies: the shared services, the authenticated caller, a tenant's KB.

Routes stay thin: they declare `ServicesDep`, `Caller(scope)` or `TenantKB` parameters and
get objects that are already authenticated, rate-limited and checked for tenancy.
"""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Path, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.errors import ApiError, invalid_token, not_found
from api.services import Services
from controlplane.keys import KEY_PREFIX
from controlplane.principal import LOCAL_PRINCIPAL, Principal, Scope
from rag.errors import InvalidInputError, KBNotFoundError
from rag.kb import KBConfig
from rag.tenancy import owns, public_name, stored_name


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


def _loopback_client(request: Request) -> bool:
    # Test transports name their client "testclient"; a TCP peer is always an IP address.
    if request.client is None:
        return True
    try:
        return ipaddress.ip_address(request.client.host).is_loopback
    except ValueError:
        return True


# auto_error=False: a missing or foreign header is ours to answer (our 401 body, and no-auth
# local mode needs no header at all); the scheme also puts bearer auth into /openapi.json.
bearer = HTTPBearer(
    auto_error=False, description="an API key (`rag_...`) or an access token from /v1/oauth/token"
)
Bearer = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]


def bearer_token(credentials: HTTPAuthorizationCredentials | None) -> str:
    """The token of an `Authorization: Bearer` header; 401 without one."""
    if credentials is None:
        raise invalid_token("missing bearer token: send 'Authorization: Bearer <API key>'")
    return credentials.credentials


async def authenticated(request: Request, services: ServicesDep, credentials: Bearer) -> Principal:
    """The caller, from an API key or a JWT access token; counts against its rate limit."""
    if services.settings.api_no_auth:
        if not _loopback_client(request):
            # Defence in depth: `rag serve` refuses a non-loopback bind in this mode, but an
            # app started some other way (uvicorn --factory) must not serve strangers either.
            raise ApiError(
                403,
                "this service runs in no-auth local mode and serves only loopback clients",
                type="permission_error",
                code="local_mode_only",
            )
        principal = LOCAL_PRINCIPAL
    else:
        token = bearer_token(credentials)
        if token.startswith(KEY_PREFIX):
            # A key lookup is a SQLite read: off the event loop.
            found = await asyncio.to_thread(services.keys.authenticate, token)
            if found is None:
                raise invalid_token("unknown or revoked API key")
            principal = found
        else:
            principal = services.tokens.verify(token)
            # Revoking a key ends its access tokens too, not only when they expire.
            if not await asyncio.to_thread(services.keys.is_active, principal.key_id):
                raise invalid_token("the API key behind this access token was revoked")
    services.limiter.hit(principal.key_id)
    request.state.principal = principal
    return principal


def require(scope: Scope) -> Callable[..., Awaitable[Principal]]:
    """A dependency: the authenticated caller, who must hold `scope`."""

    # Plain defaults, not Annotated: under postponed annotations FastAPI resolves annotation
    # strings in module globals, where this closure's `scope` does not exist.
    async def dependency(principal: Principal = Depends(authenticated)) -> Principal:
        if not principal.has(scope):
            raise ApiError(
                403,
                f"this key lacks the '{scope}' scope",
                type="permission_error",
                code="insufficient_scope",
            )
        return principal

    return dependency


Reader = Annotated[Principal, Depends(require("read"))]
Writer = Annotated[Principal, Depends(require("write"))]
Admin = Annotated[Principal, Depends(require("admin"))]


@dataclass(frozen=True)
class KBRef:
    """A KB as its tenant names it, and where it is stored."""

    name: str  # the tenant's name for it
    stored: str  # the registry name
    config: KBConfig
    principal: Principal


def kb_not_found(name: str) -> ApiError:
    return not_found(f"no knowledge base named {name!r}", "kb_not_found")


async def resolve_kb(services: Services, principal: Principal, name: str) -> KBRef:
    """The caller's KB `name`; another tenant's KB is reported exactly like a missing one."""
    try:
        stored = stored_name(principal.tenant, name)
    except InvalidInputError:
        raise kb_not_found(name) from None
    try:
        config = await asyncio.to_thread(services.workspace.registry.get, stored)
    except KBNotFoundError:
        raise kb_not_found(name) from None
    if not owns(principal.tenant, config):
        raise kb_not_found(name)
    if not principal.may_use(name):
        raise ApiError(
            403,
            f"this key may not use knowledge base {name!r}",
            type="permission_error",
            code="kb_not_allowed",
        )
    return KBRef(name, stored, config, principal)


async def visible_kbs(services: Services, principal: Principal) -> list[KBConfig]:
    """The KBs the caller may see: its tenant's, on its key's allow-list if it has one."""
    configs = await asyncio.to_thread(services.workspace.list)
    return [c for c in configs if owns(principal.tenant, c) and principal.may_use(public_name(c))]


def kb_access(scope: Scope) -> Callable[..., Awaitable[KBRef]]:
    """A dependency: the path's `{kb}`, owned by the caller, who holds `scope`."""

    async def dependency(
        services: ServicesDep,
        kb: Annotated[str, Path(description="knowledge base name", max_length=63)],
        principal: Principal = Depends(require(scope)),
    ) -> KBRef:
        return await resolve_kb(services, principal, kb)

    return dependency


ReadKB = Annotated[KBRef, Depends(kb_access("read"))]
WriteKB = Annotated[KBRef, Depends(kb_access("write"))]
AdminKB = Annotated[KBRef, Depends(kb_access("admin"))]
