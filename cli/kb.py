"""`rag kb ...`: create, list, show, drop and reindex knowledge bases."""

from __future__ import annotations

import json

import typer

from cli.common import opened, reported_errors, workspace
from rag.errors import ConfigError
from rag.types import EngineKind, FusionKind, IndexKind

app = typer.Typer(help="Create, list, inspect and drop knowledge bases.", no_args_is_help=True)


@app.command()
def create(
    name: str = typer.Argument(..., help="KB name: lower-case letters, digits, '-' and '_'"),
    index: IndexKind | None = typer.Option(
        None, help="vector index: flat (exact), hnsw (fast), ivfpq (compact, large KBs)"
    ),
    chunk_tokens: int | None = typer.Option(None, help="largest chunk, in embedder tokens"),
    overlap: int | None = typer.Option(None, help="tokens shared by consecutive chunks"),
    engine: EngineKind = typer.Option("local", help="storage engine"),
    domain: str = typer.Option("general", help="domain tag (general, finance, medical, ...)"),
    fusion: FusionKind | None = typer.Option(
        None, help="hybrid fusion: rrf, minmax or tmm (default RAG_FUSION)"
    ),
    fusion_weight: float | None = typer.Option(
        None, help="the dense ranking's weight in hybrid fusion, 0..1 (default RAG_FUSION_WEIGHT)"
    ),
    chunk_headers: bool | None = typer.Option(
        None,
        "--chunk-headers/--no-chunk-headers",
        help="index each chunk under its document title and section (default RAG_CHUNK_HEADERS)",
    ),
) -> None:
    """Create an empty knowledge base."""
    with reported_errors():
        config = workspace().create(
            name,
            engine=engine,
            index=index,
            chunk_tokens=chunk_tokens,
            chunk_overlap=overlap,
            domain=domain,
            fusion=fusion,
            fusion_weight=fusion_weight,
            chunk_headers=chunk_headers,
        )
    typer.echo(f"created {config.name} ({config.engine}, {config.index}, {config.embedder})")


@app.command("list")
def list_(as_json: bool = typer.Option(False, "--json", help="print JSON")) -> None:
    """List knowledge bases."""
    with reported_errors():
        configs = workspace().list()
    if as_json:
        typer.echo(json.dumps([c.model_dump() for c in configs], indent=2))
        return
    for c in configs:
        typer.echo(f"{c.name}\t{c.engine}\t{c.index}\t{c.domain}\t{c.embedder}")


@app.command()
def show(name: str, as_json: bool = typer.Option(False, "--json", help="print JSON")) -> None:
    """Show a KB's configuration and counts."""
    with reported_errors(), opened(name) as kb:
        stats = kb.store.stats()
        info = kb.config.model_dump() | {"documents": stats.documents, "chunks": stats.chunks}
    if as_json:
        typer.echo(json.dumps(info, indent=2))
        return
    for key, value in info.items():
        typer.echo(f"{key}: {value}")


@app.command()
def drop(
    name: str,
    yes: bool = typer.Option(False, "--yes", "-y", help="do not ask for confirmation"),
) -> None:
    """Delete a KB and everything stored in it."""
    if not yes:
        typer.confirm(f"Drop knowledge base {name!r} and all its data?", abort=True)
    with reported_errors():
        left = workspace().drop(name)
    typer.echo(f"dropped {name}")
    if left:
        typer.echo(
            f"warning: the server could not be reached; {left} still hold the KB's data. "
            f"Creating a KB named {name!r} again clears them, or delete them by hand.",
            err=True,
        )


@app.command()
def reindex(name: str) -> None:
    """Move an Elasticsearch KB to the current index mapping, keeping its vectors.

    The server copies the KB into a new index and swaps the alias; searches keep working on
    the old index until then. Run it while nothing ingests into the KB.
    """
    from rag.stores.elasticsearch.store import ElasticsearchStore

    with reported_errors(), opened(name) as kb:
        if not isinstance(kb.store, ElasticsearchStore):
            raise ConfigError(
                f"knowledge base {name!r} uses the {kb.config.engine} engine; only "
                "Elasticsearch KBs have an index mapping to move"
            )
        copied = kb.store.reindex()
    typer.echo(f"reindexed {name}: {copied} entries copied into the current mapping")
