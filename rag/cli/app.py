"""Top-level Typer app: wires the sub-commands together."""

from __future__ import annotations

import os

import typer

from rag.cli import evaluate, kb, keys
from rag.cli.ask import ask
from rag.cli.docs import delete, ingest
from rag.cli.search import search
from rag.cli.serve import serve

# Everything runs offline: model weights come from installed packages, never from a hub.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

app = typer.Typer(
    help="rag-service: build knowledge bases from documents, search them, evaluate them.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(kb.app, name="kb")
app.add_typer(evaluate.app, name="eval")
app.add_typer(keys.app, name="keys")
app.command()(ingest)
app.command()(delete)
app.command()(search)
app.command()(ask)
app.command()(serve)
