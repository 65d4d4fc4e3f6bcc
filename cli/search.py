"""`rag search`: query a KB in one of three modes."""

from __future__ import annotations

import json

import typer

from cli.common import opened, parse_where, reported_errors
from rag.types import FusionKind, Hit, SearchMode


def search(
    kb: str = typer.Argument(..., help="knowledge base name"),
    query: str = typer.Argument(..., help="what to look for"),
    mode: SearchMode = typer.Option("hybrid", help="dense, bm25, or hybrid (a fusion of both)"),
    fusion: FusionKind | None = typer.Option(
        None, help="hybrid fusion: rrf, minmax or tmm (default: the KB's)"
    ),
    fusion_weight: float | None = typer.Option(
        None, help="the dense ranking's weight in hybrid fusion, 0..1 (default: the KB's)"
    ),
    k: int = typer.Option(10, "-k", help="how many chunks to return"),
    where: list[str] = typer.Option([], help="metadata filter key=value (repeatable, ANDed)"),
    as_json: bool = typer.Option(False, "--json", help="print hits as JSON"),
) -> None:
    """Search a knowledge base."""
    with reported_errors(), opened(kb) as handle:
        how = handle.retriever.fusion_for(fusion, fusion_weight)
        hits = handle.retriever.search(query, mode, k, parse_where(where), fusion=how)
    if as_json:
        typer.echo(json.dumps([hit_json(h) for h in hits], indent=2))
        return
    if not hits:
        typer.echo("no results")
    for rank, hit in enumerate(hits, start=1):
        c = hit.chunk
        where_ = f" p.{c.page}" if c.page is not None else ""
        heading = f" > {' > '.join(c.heading_path)}" if c.heading_path else ""
        typer.echo(f"{rank:>2}. [{hit.score:.4f}] {c.doc_id}{where_}{heading}")
        typer.echo(f"    {_snippet(c.text)}")


def hit_json(hit: Hit) -> dict[str, object]:
    c = hit.chunk
    return {
        "score": hit.score,
        "chunk_id": c.id,
        "doc_id": c.doc_id,
        "title": c.title,
        "page": c.page,
        "heading_path": list(c.heading_path),
        "position": c.position,
        "text": c.text,
        "metadata": c.metadata,
    }


def _snippet(text: str, width: int = 160) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"
