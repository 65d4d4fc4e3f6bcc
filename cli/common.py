"""Helpers shared by CLI commands: settings, error reporting, `--where` parsing."""

from __future__ import annotations

import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import typer

from rag.config import get_settings
from rag.errors import InvalidInputError, RagError
from rag.workspace import OpenKB, Workspace


def workspace() -> Workspace:
    return Workspace(get_settings())


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
