"""`rag ingest` and `rag delete`: put documents into a KB and take them out."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from cli.common import opened, parse_where, reported_errors
from indexer.ingest import Ingestor
from indexer.loaders import ParsePool
from indexer.settings import parse_settings
from rag.config import get_settings
from rag.errors import InvalidInputError

INGEST_FAILURES = 1  # exit status of an ingest in which some file failed to load


def ingest(
    kb: str = typer.Argument(..., help="knowledge base name"),
    paths: list[Path] = typer.Argument(..., help="files or folders (recursive)"),
    sync: bool = typer.Option(False, help="delete documents that vanished from PATHS"),
    include: list[str] = typer.Option([], help="glob of files to take, e.g. '**/*.md'"),
    exclude: list[str] = typer.Option([], help="glob of files to skip (wins over --include)"),
    as_json: bool = typer.Option(False, "--json", help="print the result as JSON"),
) -> None:
    """Ingest files: unchanged documents are skipped, changed ones replaced.

    Exit status: 0 when every file loaded, 1 when any file (or .jsonl line) failed (the rest
    is stored; the failures are listed), 2 when nothing ran (unknown KB, a bad option).
    """
    with reported_errors():
        for p in paths:
            if not p.exists():
                raise InvalidInputError(f"no such file or folder: {p}")
        # The parse workers start while the KB and its embedder load.
        with ParsePool(parse_settings(get_settings())).start() as pool, opened(kb) as handle:
            ingestor = Ingestor.for_kb(handle, get_settings())
            # Progress on stderr from the first file: bars on a terminal, else one line per file.
            result = ingestor.ingest_paths(
                paths, sync=sync, include=include, exclude=exclude, progress=True, pool=pool
            )
    if as_json:
        payload = {
            "added": result.added,
            "updated": result.updated,
            "unchanged": result.unchanged,
            "deleted": result.deleted,
            "chunks": result.chunks,
            "seconds": round(result.seconds, 3),
            "failures": [{"path": f.location(), "reason": f.reason} for f in result.failures],
        }
        typer.echo(json.dumps(payload, indent=2))
    else:
        typer.echo(result.summary())
        for failure in result.failures:
            typer.echo(f"  failed: {failure.location()}: {failure.reason}", err=True)
    if result.failures:
        raise typer.Exit(INGEST_FAILURES)


def delete(
    kb: str = typer.Argument(..., help="knowledge base name"),
    doc: list[str] = typer.Option([], help="document id to delete (repeatable)"),
    where: list[str] = typer.Option([], help="delete documents whose metadata key=value"),
) -> None:
    """Delete documents by id or by metadata; they are never returned by a search again."""
    with reported_errors():
        if bool(doc) == bool(where):
            raise InvalidInputError("give either --doc ID (repeatable) or --where key=value")
        filters = parse_where(where)
        with opened(kb) as handle:
            count = handle.store.delete(doc) if doc else handle.store.delete_where(filters)
    typer.echo(f"deleted {count} document(s)")
