"""Search one KB: dense, BM25 or hybrid, with metadata filters."""

from __future__ import annotations

import asyncio
import time

from fastapi import APIRouter

from api.deps import ReadKB, ServicesDep
from api.schemas import KB_ERRORS, HitOut, SearchBody, SearchOut, error_responses
from rag.types import Hit

router = APIRouter(tags=["search"])


@router.post(
    "/kbs/{kb}/search",
    response_model=SearchOut,
    summary="Search a KB",
    responses=error_responses(*KB_ERRORS, 400, 413),
)
async def search(body: SearchBody, kb: ReadKB, services: ServicesDep) -> SearchOut:
    def run() -> list[Hit]:
        opened = services.kbs.get(kb.stored)
        fusion = opened.retriever.fusion_for(body.fusion, body.fusion_weight)
        return opened.retriever.search(body.query, body.mode, body.k, body.filters, fusion=fusion)

    started = time.perf_counter()
    hits = await asyncio.to_thread(run)
    services.metrics.retrieval.labels(body.mode).observe(time.perf_counter() - started)
    return SearchOut(data=[HitOut.of(h) for h in hits], mode=body.mode, k=body.k)
