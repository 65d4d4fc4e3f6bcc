"""The `rag` command line: knowledge bases, ingestion, search and evaluation."""

from cli.app import app

__all__ = ["app"]
