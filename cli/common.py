"""Helpers shared by CLI commands: settings, error reporting, `--where` parsing."""

from __future__ import annotations

import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import typer
from sqlalchemy import Engine

from controlplane.kbs import SqlRegistry
from controlplane.migrate import open_control_plane
from rag.config import get_settings
from rag.errors import InvalidInputError, RagError
from rag.workspace import OpenKB, Workspace


def workspace() -> Workspace:
    """The data directory's KBs, registered in the control plane."""
    settings = get_settings()
    # Left open for the command's life (one process, one short command): the registry and
    # any OpenKB built from it keep using it.
    engine = open_control_plane(settings)
    return Workspace(settings, registry=SqlRegistry(engine, settings.kb_root))


@contextmanager
def control_plane() -> Iterator[Engine]:
    """The control plane's database for one command."""
    engine = open_control_plane(get_settings())
    try:
        yield engine
    finally:
        engine.dispose()


@contextmanager
def reported_errors() -> Iterator[None]:
    """Turn domain errors into one readable line on stderr and exit code 2."""
    try:
        yield
    except RagError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None


@contextmanager
def opened(name: str) -> Iterator[OpenKB]:
    kb = workspace().open(name)
    try:
        yield kb
    finally:
        kb.close()


def parse_where(items: Sequence[str]) -> dict[str, str]:
    """`key=value` pairs from the command line, ANDed."""
    filters: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise InvalidInputError(f"--where expects key=value, got {item!r}")
        filters[key.strip()] = value
    return filters


def stderr_is_tty() -> bool:
    return sys.stderr.isatty()
