"""Operations: liveness, readiness and Prometheus metrics (no API key, no /v1).

/metrics and the checks of /readyz are the operator's: see `api.ops_access`.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST

from api.deps import ServicesDep
from api.ops_access import allowed
from api.readiness import Warmup, checks, is_ready
from api.schemas import HealthOut, ReadyOut

router = APIRouter(tags=["operations"])


@router.get("/healthz", response_model=HealthOut, summary="The process is alive")
async def healthz() -> HealthOut:
    return HealthOut()


@router.get(
    "/readyz",
    response_model=ReadyOut,
    summary="Models loaded and backends reachable",
    responses={503: {"model": ReadyOut, "description": "not ready: a check is not `ok`"}},
)
async def readyz(request: Request, services: ServicesDep) -> JSONResponse:
    warmup: Warmup = request.app.state.warmup
    results = await checks(services.settings, services.workspace, warmup)
    ready = is_ready(results)
    # The status is for every probe; what each backend says is the operator's.
    shown = (
        results
        if allowed(request.scope, services.settings.api_ops_access, services.settings)
        else {}
    )
    body = ReadyOut(status="ready" if ready else "not_ready", checks=shown)
    return JSONResponse(body.model_dump(), status_code=200 if ready else 503)


@router.get(
    "/metrics",
    response_class=PlainTextResponse,
    summary="Prometheus metrics",
    response_description=f"the Prometheus text format ({CONTENT_TYPE_LATEST})",
)
async def metrics(services: ServicesDep) -> Response:
    stats = getattr(services.embedder, "stats", None)
    if stats is not None:
        services.metrics.embed_batches.set(stats.batches)
        services.metrics.embed_texts.set(stats.texts)
    return Response(services.metrics.render(), media_type=CONTENT_TYPE_LATEST)
