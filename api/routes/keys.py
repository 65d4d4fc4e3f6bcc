"""API keys of the caller's own tenant: list, create (the secret is returned once), revoke.

Admin only, and a key never grants more than its creator holds: no scope above the caller's,
and a caller limited to some KBs can only create keys limited to (some of) those KBs. Another
tenant's key is reported exactly like a missing one.
"""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Path

from api.deps import Admin, ServicesDep
from api.errors import ApiError, not_found
from api.schemas import (
    AUTH_ERRORS,
    ErrorOut,
    KeyCreate,
    KeyCreated,
    KeyList,
    KeyOut,
    error_responses,
)
from controlplane.keys import KeyInfo
from controlplane.principal import SCOPES, Principal

router = APIRouter(tags=["keys"])

KeyId = Annotated[str, Path(description="the key's id", max_length=64, examples=["Ab3dEf6hIj9k"])]


# The shared meanings of 403 and 409 speak of KBs and jobs; these routes' own reasons.
_CREATE_ERRORS = error_responses(*AUTH_ERRORS, 400, 413, 422) | {
    403: {
        "model": ErrorOut,
        "description": "the caller is not admin (`insufficient_scope`), or the new key would "
        "hold a scope or a KB the caller lacks (`key_exceeds_caller`)",
    }
}
_REVOKE_ERRORS = error_responses(*AUTH_ERRORS, 404, 422) | {
    409: {"model": ErrorOut, "description": "the key was revoked already (`key_revoked`)"}
}


def _forbidden(message: str) -> ApiError:
    return ApiError(403, message, type="permission_error", code="key_exceeds_caller")


def _check_within(caller: Principal, body: KeyCreate) -> None:
    """Refuse a key that could do what its creator cannot."""
    above = [s for s in SCOPES if s in body.scopes and not caller.has(s)]
    if above:
        raise _forbidden(f"a key cannot hold scope(s) {above} that the caller lacks")
    if caller.kbs is None:
        return
    if body.kbs is None:
        raise _forbidden("this key is limited to some KBs: name the new key's KBs ('kbs')")
    outside = sorted(set(body.kbs) - caller.kbs)
    if outside:
        raise _forbidden(f"this key may not use KB(s) {outside}")


def _key_not_found(key_id: str) -> ApiError:
    return not_found(f"no API key with id {key_id!r}", "key_not_found")


@router.get(
    "/keys",
    response_model=KeyList,
    summary="List the tenant's API keys (never secrets)",
    responses=error_responses(*AUTH_ERRORS),
)
async def list_keys(services: ServicesDep, principal: Admin) -> KeyList:
    infos = await asyncio.to_thread(services.keys.list, principal.tenant)
    return KeyList(data=[KeyOut.of(info) for info in infos])


@router.post(
    "/keys",
    status_code=201,
    response_model=KeyCreated,
    summary="Create an API key (shown once)",
    responses=_CREATE_ERRORS,
)
async def create_key(body: KeyCreate, services: ServicesDep, principal: Admin) -> KeyCreated:
    _check_within(principal, body)

    def create() -> tuple[KeyInfo, str]:
        return services.keys.create(principal.tenant, body.scopes, body.kbs, body.name)

    info, key = await asyncio.to_thread(create)
    return KeyCreated.model_validate(info.model_dump() | {"key": key})


@router.post(
    "/keys/{key_id}/revoke",
    response_model=KeyOut,
    summary="Revoke an API key: refused from its next request on",
    responses=_REVOKE_ERRORS,
)
async def revoke_key(key_id: KeyId, services: ServicesDep, principal: Admin) -> KeyOut:
    """409 when the key was already revoked; another tenant's key is 404."""

    def revoke() -> KeyInfo:
        info = services.keys.get(key_id)
        if info is None or info.tenant != principal.tenant:
            raise _key_not_found(key_id)
        if not services.keys.revoke(key_id):
            earlier = services.keys.get(key_id) or info
            raise ApiError(
                409,
                f"key {key_id} was already revoked at {earlier.revoked_at}",
                type="conflict_error",
                code="key_revoked",
            )
        revoked = services.keys.get(key_id)
        assert revoked is not None  # keys are never deleted
        return revoked

    return KeyOut.of(await asyncio.to_thread(revoke))
