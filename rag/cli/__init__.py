"""The `rag` command line: knowledge bases, ingestion, search and evaluation."""

from rag.cli.app import app

__all__ = ["app"]
