"""Top-level Typer app: wires the sub-commands together."""

from __future__ import annotations

import os

import typer

from cli import db, evaluate, kb, keys
from cli.ask import ask
from cli.docs import delete, ingest
from cli.search import search
from cli.serve import serve
from cli.worker import worker

app = typer.Typer(
    help="rag-service: build knowledge bases from documents, search them, evaluate them.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


@app.callback()
def main() -> None:
    """Runs before every command, at invocation rather than import (importing sets nothing)."""
    # Everything runs offline: model weights come from installed packages, never from a hub.
    # Models load with local_files_only already; this also covers libraries we do not call.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    # The tokenizers' thread pool does not survive a fork (the serve reloader, subprocesses).
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


app.add_typer(kb.app, name="kb")
app.add_typer(evaluate.app, name="eval")
app.add_typer(keys.app, name="keys")
app.add_typer(db.app, name="db")
app.command()(ingest)
app.command()(delete)
app.command()(search)
app.command()(ask)
app.command()(serve)
app.command()(worker)
