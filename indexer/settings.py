"""The indexer's own settings, built from the service's `Settings`."""

from __future__ import annotations

from indexer.loaders import LoadLimits, ParseSettings
from rag.config import Settings


def parse_settings(settings: Settings) -> ParseSettings:
    """Parse workers, per-file timeout and loader limits from the `RAG_INGEST_*` settings."""
    return ParseSettings(
        workers=settings.ingest_parse_workers,
        timeout=settings.ingest_parse_timeout,
        limits=LoadLimits(
            max_unpacked_bytes=settings.ingest_max_unpacked_mb << 20,
            max_xml_elements=settings.ingest_max_xml_elements,
            max_html_depth=settings.ingest_max_html_depth,
        ),
    )
