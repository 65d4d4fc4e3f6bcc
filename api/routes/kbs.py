"""KBs: create, list, get (config and counts), delete, all within the caller's tenant."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Response

from api.deps import Admin, AdminKB, KBRef, Reader, ReadKB, ServicesDep, visible_kbs
from api.errors import ApiError
from api.schemas import AUTH_ERRORS, KB_ERRORS, KBCreate, KBList, KBOut, error_responses
from api.services import Services
from rag.errors import KBExistsError
from rag.kb import KBConfig
from rag.tenancy import stored_name

router = APIRouter(tags=["knowledge bases"])


def _describe(services: Services, config: KBConfig) -> KBOut:
    stats = services.kbs.get(config.name).store.stats()
    return KBOut.of(config, stats.documents, stats.chunks)


@router.get(
    "/kbs",
    response_model=KBList,
    summary="List the caller's KBs",
    responses=error_responses(*AUTH_ERRORS),
)
async def list_kbs(services: ServicesDep, principal: Reader) -> KBList:
    mine = await visible_kbs(services, principal)
    # Counts need the KB open; listing must not load every index, so they come with GET.
    return KBList(data=[KBOut.of(c, None, None) for c in mine])


@router.post(
    "/kbs",
    status_code=201,
    response_model=KBOut,
    summary="Create a KB",
    responses=error_responses(*AUTH_ERRORS, 400, 409, 413, 422, 503),
)
async def create_kb(body: KBCreate, services: ServicesDep, principal: Admin) -> KBOut:
    stored = stored_name(principal.tenant, body.name)

    def create() -> KBConfig:
        return services.workspace.create(
            stored,
            engine=body.engine,
            index=body.index,
            chunk_tokens=body.chunk_tokens,
            chunk_overlap=body.chunk_overlap,
            domain=body.domain,
            tenant=principal.tenant,
            fusion=body.fusion,
            fusion_weight=body.fusion_weight,
            chunk_headers=body.chunk_headers,
        )

    try:
        config = await asyncio.to_thread(create)
    except KBExistsError:
        # Named as the tenant named it: the stored name is the registry's business.
        raise ApiError(
            409,
            f"knowledge base {body.name!r} already exists",
            type="conflict_error",
            code="kb_exists",
        ) from None
    return KBOut.of(config, 0, 0)


@router.get(
    "/kbs/{kb}",
    response_model=KBOut,
    summary="A KB's config and counts",
    responses=error_responses(*KB_ERRORS),
)
async def get_kb(kb: ReadKB, services: ServicesDep) -> KBOut:
    return await asyncio.to_thread(_describe, services, kb.config)


@router.delete(
    "/kbs/{kb}",
    status_code=204,
    summary="Delete a KB and everything in it",
    responses=error_responses(*KB_ERRORS),
)
async def delete_kb(kb: AdminKB, services: ServicesDep) -> Response:
    await asyncio.to_thread(_drop, services, kb)
    return Response(status_code=204)


def _drop(services: Services, kb: KBRef) -> None:
    services.jobs.forget_kb(kb.stored)
    services.kbs.drop(kb.stored)
