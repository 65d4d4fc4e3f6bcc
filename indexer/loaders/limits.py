"""Bounds on what one file may cost to parse; each is a setting (`RAG_INGEST_*`).

A loader that meets a file past a bound raises `LoaderError` naming the bound and the setting
that raises it, so the file is reported and the rest of the batch goes on. The per-file parse
timeout is not here: the parse pool enforces it by killing the worker (`indexer.parsing`).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class LoadLimits:
    """Per-file bounds the loaders check; picklable, so parse workers receive it."""

    # Zip containers (.docx): the sum of the members' declared sizes. zipfile never reads
    # past a member's declared size, so this bounds what the parser can inflate.
    max_unpacked_bytes: int = 100 << 20
    # XML elements in a container's main part: about 600 pages of a real Word document. An
    # element costs python-docx far more than its bytes (2 MB of empty paragraphs: 35 s).
    max_xml_elements: int = 200_000
    # HTML nesting; the tree walk recurses per level and Python's stack holds about 1,000.
    max_html_depth: int = 256
