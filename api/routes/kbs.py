"""KBs: create, list, get (config and counts), delete, all within the caller's tenant."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field

from api.deps import Admin, AdminKB, KBRef, Reader, ReadKB, ServicesDep, visible_kbs
from api.services import Services
from rag.kb import KBConfig
from rag.tenancy import public_name, stored_name
from rag.types import EngineKind, IndexKind

router = APIRouter(tags=["knowledge bases"])


class KBCreate(BaseModel):
    """A new KB; omitted options take the service's defaults."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(
        min_length=1,
        max_length=63,
        pattern=r"^[a-z0-9][a-z0-9_-]*$",
        description="lower-case letters, digits, '-' or '_'; no '__'",
        examples=["handbook"],
    )
    engine: EngineKind = "local"
    index: IndexKind | None = Field(default=None, description="flat, hnsw or ivfpq")
    chunk_tokens: int | None = Field(default=None, ge=16, le=256)
    chunk_overlap: int | None = Field(default=None, ge=0, le=127)
    domain: str = Field(
        default="general",
        min_length=1,
        max_length=64,
        pattern=r"^[a-z0-9][a-z0-9_-]*$",
        description="picks the generator profile (RAG_DOMAIN_PROFILES)",
        examples=["finance"],
    )


class KBOut(BaseModel):
    name: str
    engine: EngineKind
    index: IndexKind
    chunk_tokens: int
    chunk_overlap: int
    embedder: str
    dim: int
    domain: str
    created_at: str
    documents: int | None = Field(description="null while the KB cannot be opened")
    chunks: int | None


class KBList(BaseModel):
    data: list[KBOut]


def _out(config: KBConfig, documents: int | None, chunks: int | None) -> KBOut:
    fields: dict[str, Any] = config.model_dump(exclude={"name", "tenant"})
    return KBOut(name=public_name(config), documents=documents, chunks=chunks, **fields)


def _describe(services: Services, config: KBConfig) -> KBOut:
    stats = services.kbs.get(config.name).store.stats()
    return _out(config, stats.documents, stats.chunks)


@router.get("/kbs", response_model=KBList, summary="List the caller's KBs")
async def list_kbs(services: ServicesDep, principal: Reader) -> KBList:
    mine = await visible_kbs(services, principal)
    # Counts need the KB open; listing must not load every index, so they come with GET.
    return KBList(data=[_out(c, None, None) for c in mine])


@router.post("/kbs", status_code=201, response_model=KBOut, summary="Create a KB")
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
        )

    config = await asyncio.to_thread(create)
    return _out(config, 0, 0)


@router.get("/kbs/{kb}", response_model=KBOut, summary="A KB's config and counts")
async def get_kb(kb: ReadKB, services: ServicesDep) -> KBOut:
    return await asyncio.to_thread(_describe, services, kb.config)


@router.delete("/kbs/{kb}", status_code=204, summary="Delete a KB and everything in it")
async def delete_kb(kb: AdminKB, services: ServicesDep) -> Response:
    await asyncio.to_thread(_drop, services, kb)
    return Response(status_code=204)


def _drop(services: Services, kb: KBRef) -> None:
    services.jobs.forget_kb(kb.stored)
    services.kbs.drop(kb.stored)
