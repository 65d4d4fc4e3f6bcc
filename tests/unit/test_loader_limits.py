"""One file can neither sink nor stall a batch: limits, binary files, parser crashes, timeouts."""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import docx
import pytest

from indexer.loaders import (
    LoadFailure,
    LoadLimits,
    ParsePool,
    ParseSettings,
    iter_documents,
    load_file,
)
from rag.errors import LoaderError
from rag.types import Document

FILINGS = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "filings"


def reason_of(path: Path, limits: LoadLimits | None = None) -> str:
    with pytest.raises(LoaderError) as info:
        load_file(path, path.name, limits)
    return str(info.value)


def docx_with_body(path: Path, body: str) -> Path:
    """A real .docx whose document part holds `body` inside <w:body>."""
    document = docx.Document()
    document.add_paragraph("placeholder")
    document.save(str(path))
    with zipfile.ZipFile(path) as source:
        parts = {name: source.read(name) for name in source.namelist()}
    xml = parts["word/document.xml"].decode()
    head, _, rest = xml.partition("<w:body>")
    _, _, tail = rest.partition("</w:body>")
    parts["word/document.xml"] = f"{head}<w:body>{body}</w:body>{tail}".encode()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as bomb:
        for name, data in parts.items():
            bomb.writestr(name, data)
    return path


def outcomes(items: list[Document | LoadFailure]) -> dict[str, str]:
    return {
        (i.id if isinstance(i, Document) else i.path.name): (
            "ok" if isinstance(i, Document) else i.reason
        )
        for i in items
    }


def test_docx_bomb_of_empty_paragraphs_fails_fast_with_the_limit(tmp_path: Path) -> None:
    # 2 MB of empty paragraphs in a few kilobytes: python-docx took 35 s over such a file.
    bomb = docx_with_body(tmp_path / "bomb.docx", "<w:p/>" * 350_000)
    assert bomb.stat().st_size < 64_000  # most of it the styles python-docx writes
    assert reason_of(bomb) == (
        "DOCX holds more than 200,000 XML elements (limit RAG_INGEST_MAX_XML_ELEMENTS)"
    )


def test_docx_that_unpacks_past_the_size_limit_fails(tmp_path: Path) -> None:
    padded = docx_with_body(tmp_path / "comment.docx", "<!--" + "x" * (3 << 20) + "-->")
    limits = LoadLimits(max_unpacked_bytes=1 << 20)
    assert reason_of(padded, limits).startswith("DOCX unpacks to 3.")
    assert "over the limit of 1.0 MB (RAG_INGEST_MAX_UNPACKED_MB)" in reason_of(padded, limits)


def test_a_normal_docx_is_within_the_limits(tmp_path: Path) -> None:
    fine = docx_with_body(tmp_path / "fine.docx", "<w:p><w:r><w:t>Hello</w:t></w:r></w:p>" * 50)
    assert load_file(fine, "fine.docx")[0].text.startswith("Hello")


def deep_html(levels: int) -> str:
    return "<html><body>" + "<div>" * levels + "deep" + "</div>" * levels + "</body></html>"


def test_deeply_nested_html_beside_a_good_txt(tmp_path: Path) -> None:
    (tmp_path / "deep.html").write_text(deep_html(5000))
    (tmp_path / "good.txt").write_text("Good files are stored whatever their neighbours do.")
    got = outcomes(list(iter_documents([tmp_path])))
    assert got == {
        "deep.html": "HTML nests elements more than 256 levels deep "
        "(limit RAG_INGEST_MAX_HTML_DEPTH)",
        f"{tmp_path.name}/good.txt": "ok",
    }


def test_a_parser_exception_is_the_files_error(tmp_path: Path) -> None:
    # With the depth limit lifted, the walk itself hits Python's recursion limit: that
    # RecursionError must be this file's failure, not the batch's.
    path = tmp_path / "deep.html"
    path.write_text(deep_html(5000))
    reason = reason_of(path, LoadLimits(max_html_depth=1_000_000))
    assert reason.startswith("the html parser failed: RecursionError: maximum recursion depth")


@pytest.mark.parametrize("name", ["tool.txt", "tool.md", "tool.csv", "tool.jsonl", "tool.html"])
def test_binary_content_is_not_text(tmp_path: Path, name: str) -> None:
    binary = tmp_path / name
    shutil.copyfile("/bin/ls", binary)  # a real ELF executable, renamed
    assert reason_of(binary) == "binary content, not text"


def test_utf16_and_legacy_text_are_still_text(tmp_path: Path) -> None:
    (tmp_path / "u16.txt").write_bytes("Grüße aus Köln".encode("utf-16"))
    (tmp_path / "cp.txt").write_bytes("Caf\xe9 na\xefve \x1b[1mbold\x1b[0m".encode("cp1252"))
    assert load_file(tmp_path / "u16.txt", "u16")[0].text == "Grüße aus Köln"
    assert load_file(tmp_path / "cp.txt", "cp")[0].text.startswith("Café")


def test_workers_parse_in_order_and_isolate_failures(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("alpha")
    (tmp_path / "b.html").write_text(deep_html(5000))
    (tmp_path / "c.md").write_text("# C\n\ngamma")
    with ParsePool(ParseSettings(workers=2)) as pool:
        items = list(iter_documents([tmp_path], pool=pool))
    assert [i.id if isinstance(i, Document) else i.path.name for i in items] == [
        f"{tmp_path.name}/a.txt",
        "b.html",
        f"{tmp_path.name}/c.md",
    ]


@pytest.mark.skipif(not FILINGS.is_dir(), reason=f"real SEC filings not found under {FILINGS}")
def test_a_file_past_the_timeout_is_killed_and_the_next_one_parses(tmp_path: Path) -> None:
    big = FILINGS / "AMERICANWATERWORKS_2019_10K.pdf"  # 326 pages: seconds, not a tenth
    (tmp_path / "after.txt").write_text("parsed by a fresh worker")
    seen = []
    with ParsePool(ParseSettings(workers=1, timeout=0.1)) as pool:
        items = list(iter_documents([big, tmp_path / "after.txt"], pool=pool, on_file=seen.append))
    assert isinstance(items[0], LoadFailure)
    assert items[0].reason == "parsing took longer than 0.1s (RAG_INGEST_PARSE_TIMEOUT)"
    assert isinstance(items[1], Document) and items[1].text == "parsed by a fresh worker"
    assert [(f.path.name, f.documents, f.failure is not None) for f in seen] == [
        (big.name, 0, True),
        ("after.txt", 1, False),
    ]
