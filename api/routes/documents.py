"""Documents of a KB: upload files or JSON records (as a background job), list, get, delete.

An upload becomes an ingestion job (202 with the job); the files are streamed to the job's
folder first, so the job survives a restart. An uploaded file's document id is its file name:
uploading a file again replaces that document, and unchanged content costs nothing.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from api.deps import KBRef, ReadKB, ServicesDep, WriteKB
from api.errors import ApiError, not_found
from api.schemas import (
    KB_ERRORS,
    Deleted,
    DeleteWhere,
    DocumentOut,
    DocumentPage,
    JobOut,
    RecordsIn,
    error_responses,
)
from api.services import Services
from api.uploads import save_multipart, too_large
from indexer.jobs.model import Job, JobTarget, new_job_id
from rag.types import StoredDocument

router = APIRouter(tags=["documents"])

DocId = Annotated[str, Path(description="document id", min_length=1, max_length=1024)]


def _inline_refs(schema: dict[str, Any]) -> dict[str, Any]:
    """A model's JSON schema with its `$defs` inlined, to embed in `openapi_extra`."""
    defs = schema.pop("$defs", {})

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                return walk(defs[ref.removeprefix("#/$defs/")])
            return {k: walk(v) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    result: dict[str, Any] = walk(schema)
    return result


_UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["files"],
                    "properties": {
                        "files": {
                            "type": "array",
                            "items": {"type": "string", "format": "binary"},
                            "description": "one or more files (txt, md, html, pdf, docx, csv, "
                            "jsonl); each file name becomes its document id",
                        }
                    },
                }
            },
            "application/json": {"schema": _inline_refs(RecordsIn.model_json_schema())},
        },
    }
}


def _target(kb: KBRef) -> JobTarget:
    return JobTarget(tenant=kb.principal.tenant, stored=kb.stored, name=kb.name)


def _body_error(loc: tuple[str | int, ...], message: str, kind: str = "missing") -> Exception:
    return RequestValidationError([{"type": kind, "loc": ("body", *loc), "msg": message}])


async def _submit_records(request: Request, services: Services, kb: KBRef) -> Job:
    raw = await request.body()
    if not raw.strip():
        raise _body_error((), 'a body is required: JSON {"documents": [...]} or multipart files')
    try:
        body = RecordsIn.model_validate_json(raw)
    except ValidationError as exc:
        errors = [{**e, "loc": ("body", *e["loc"])} for e in exc.errors(include_url=False)]
        raise RequestValidationError(errors) from None
    records = [r.model_dump(exclude_none=True) for r in body.documents]
    return await asyncio.to_thread(services.jobs.submit_records, _target(kb), records)


async def _submit_files(request: Request, services: Services, kb: KBRef) -> Job:
    limit = services.settings.api_max_upload_bytes
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_large(limit)
    job_id = new_job_id()
    folder = await asyncio.to_thread(services.jobs.upload_folder, job_id)
    try:
        content_type = request.headers["content-type"]
        names = await save_multipart(request.stream(), content_type, folder, limit)
        if not names:
            raise _body_error(("files",), "no files: send one or more files in the field 'files'")
        return await asyncio.to_thread(services.jobs.submit_files, _target(kb), job_id, names)
    except BaseException:
        # A refused or broken upload leaves nothing behind (the job does not exist yet).
        await asyncio.to_thread(services.jobs.discard_upload, job_id)
        raise


@router.post(
    "/kbs/{kb}/documents",
    status_code=202,
    response_model=JobOut,
    summary="Upload files or JSON records; returns the ingestion job",
    openapi_extra=_UPLOAD_BODY,
    responses=error_responses(*KB_ERRORS, 400, 413, 415),
)
async def add_documents(
    request: Request, response: Response, kb: WriteKB, services: ServicesDep
) -> JobOut:
    """Multipart `files`, or JSON `{"documents": [{"id", "text", "title"?, "metadata"?}]}`."""
    content_type = request.headers.get("content-type", "").lower()
    if content_type.startswith("multipart/form-data"):
        job = await _submit_files(request, services, kb)
    elif content_type.startswith("application/json") or not content_type:
        job = await _submit_records(request, services, kb)
    else:
        raise ApiError(
            415,
            f"unsupported content type {content_type!r}: send multipart/form-data files "
            "or an application/json body",
            type="invalid_request_error",
            code="unsupported_media_type",
        )
    response.headers["Location"] = f"/v1/jobs/{job.id}"
    return JobOut.of(job)


@router.get(
    "/kbs/{kb}/documents",
    response_model=DocumentPage,
    summary="List a KB's documents",
    responses=error_responses(*KB_ERRORS),
)
async def list_documents(
    kb: ReadKB,
    services: ServicesDep,
    offset: Annotated[int, Query(ge=0, le=1_000_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> DocumentPage:
    def page() -> tuple[list[StoredDocument], int]:
        store = services.kbs.get(kb.stored).store
        return store.documents(offset, limit), store.stats().documents

    docs, total = await asyncio.to_thread(page)
    return DocumentPage(
        data=[DocumentOut.of(d) for d in docs], offset=offset, limit=limit, total=total
    )


def _document_not_found(doc_id: str) -> ApiError:
    return not_found(f"no document {doc_id!r}", "document_not_found")


@router.get(
    "/kbs/{kb}/documents/{doc_id:path}",
    response_model=DocumentOut,
    summary="A document",
    responses=error_responses(*KB_ERRORS),
)
async def get_document(kb: ReadKB, doc_id: DocId, services: ServicesDep) -> DocumentOut:
    doc = await asyncio.to_thread(lambda: services.kbs.get(kb.stored).store.get_document(doc_id))
    if doc is None:
        raise _document_not_found(doc_id)
    return DocumentOut.of(doc)


@router.delete(
    "/kbs/{kb}/documents/{doc_id:path}",
    status_code=204,
    summary="Delete a document",
    responses=error_responses(*KB_ERRORS),
)
async def delete_document(kb: WriteKB, doc_id: DocId, services: ServicesDep) -> Response:
    def delete() -> int:
        store = services.kbs.get(kb.stored).store
        count = store.delete([doc_id])
        if count:
            store.flush()
        return count

    if not await asyncio.to_thread(delete):
        raise _document_not_found(doc_id)
    return Response(status_code=204)


@router.post(
    "/kbs/{kb}/documents/delete",
    response_model=Deleted,
    summary="Delete the documents whose metadata matches",
    responses=error_responses(*KB_ERRORS, 400, 413),
)
async def delete_where(body: DeleteWhere, kb: WriteKB, services: ServicesDep) -> Deleted:
    def delete() -> int:
        store = services.kbs.get(kb.stored).store
        count = store.delete_where(body.where)
        if count:
            store.flush()
        return count

    return Deleted(deleted=await asyncio.to_thread(delete))
