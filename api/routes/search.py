"""Search one KB: dense, BM25 or hybrid, with metadata filters."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from api.deps import ReadKB, ServicesDep
from rag.types import Hit, SearchMode

router = APIRouter(tags=["search"])

FilterValue = str | int | float | bool


class SearchBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    query: str = Field(min_length=1, max_length=4000, examples=["how does hybrid search work"])
    mode: SearchMode = "hybrid"
    k: int = Field(default=10, ge=1, le=100)
    filters: dict[str, FilterValue] | None = Field(
        default=None,
        max_length=32,
        description="metadata equality filters, ANDed",
        examples=[{"year": 2023}],
    )


class HitOut(BaseModel):
    score: float
    chunk_id: str
    doc_id: str
    text: str
    title: str
    page: int | None
    heading_path: list[str]
    metadata: dict[str, Any]

    @classmethod
    def of(cls, hit: Hit) -> HitOut:
        c = hit.chunk
        return cls(
            score=hit.score,
            chunk_id=c.id,
            doc_id=c.doc_id,
            text=c.text,
            title=c.title,
            page=c.page,
            heading_path=list(c.heading_path),
            metadata=dict(c.metadata),
        )


class SearchOut(BaseModel):
    data: list[HitOut]
    mode: SearchMode
    k: int


@router.post("/kbs/{kb}/search", response_model=SearchOut, summary="Search a KB")
async def search(body: SearchBody, kb: ReadKB, services: ServicesDep) -> SearchOut:
    def run() -> list[Hit]:
        opened = services.kbs.get(kb.stored)
        return opened.retriever.search(body.query, body.mode, body.k, body.filters)

    started = time.perf_counter()
    hits = await asyncio.to_thread(run)
    services.metrics.retrieval.labels(body.mode).observe(time.perf_counter() - started)
    return SearchOut(data=[HitOut.of(h) for h in hits], mode=body.mode, k=body.k)
