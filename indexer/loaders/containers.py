"""Zip containers (.docx) checked before a parser inflates them: unpacked size, XML elements.

A .docx is a zip of XML parts. A few kilobytes can inflate to megabytes of elements that
python-docx then turns into Python objects one by one (a 31 KB file took 376 s and 840 MB),
so both bounds are checked by streaming, before the parser sees the file.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

from lxml import etree

from indexer.loaders.limits import LoadLimits
from rag.errors import LoaderError


def check_zip(path: Path, limits: LoadLimits, main_part: str, kind: str) -> None:
    """LoaderError when the container inflates past the limits; `main_part` is counted."""
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile as exc:
        raise LoaderError(f"corrupt {kind}: not a zip archive ({exc})") from exc
    with archive:
        unpacked = sum(info.file_size for info in archive.infolist())
        if unpacked > limits.max_unpacked_bytes:
            raise LoaderError(
                f"{kind} unpacks to {_mb(unpacked)}, over the limit of "
                f"{_mb(limits.max_unpacked_bytes)} (RAG_INGEST_MAX_UNPACKED_MB)"
            )
        if main_part in archive.namelist():
            with archive.open(main_part) as part:
                _count_elements(part, limits.max_xml_elements, kind)


def _count_elements(part: object, limit: int, kind: str) -> None:
    # No entities, no network: the count must not be the thing that blows up or phones out.
    events = etree.iterparse(
        part, events=("end",), resolve_entities=False, no_network=True, huge_tree=False
    )
    count = 0
    try:
        for _, element in events:
            count += 1
            if count > limit:
                raise LoaderError(
                    f"{kind} holds more than {limit:,} XML elements "
                    "(limit RAG_INGEST_MAX_XML_ELEMENTS)"
                )
            element.clear()  # the count needs no tree: memory stays flat
    except etree.XMLSyntaxError as exc:
        raise LoaderError(f"corrupt {kind}: {exc}") from exc


def _mb(size: int) -> str:
    return f"{size / (1 << 20):,.1f} MB"
