"""Document loaders: every format, every failure reason, ids, include/exclude, real PDFs."""

from __future__ import annotations

import json
from pathlib import Path

import docx
import pytest
from docx.enum.style import WD_STYLE_TYPE
from pypdf import PdfReader, PdfWriter
from pypdf.generic import ContentStream, DictionaryObject, NameObject

from indexer.loaders import SUPPORTED_SUFFIXES, LoadFailure, iter_documents, load_file
from indexer.loaders.patterns import matches_any
from rag.errors import LoaderError
from rag.types import Document

SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
SAMPLES = SHARED_DATA / "samples"
AMCOR = SAMPLES / "AMCOR_2023Q4_EARNINGS.pdf"
PEPSICO = SAMPLES / "PEPSICO_2023_8K_dated-2023-05-05.pdf"

needs_samples = pytest.mark.skipif(
    not PEPSICO.exists() or not AMCOR.exists(),
    reason=f"real SEC filing PDFs not found under {SAMPLES} (shared data folder absent)",
)


# ---------------------------------------------------------------- helpers


def write(path: Path, content: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    else:
        path.write_bytes(content)
    return path


def load_one(path: Path, doc_id: str = "doc") -> Document:
    docs = load_file(path, doc_id)
    assert len(docs) == 1
    return docs[0]


def reason_of(path: Path) -> str:
    with pytest.raises(LoaderError) as info:
        load_file(path, path.name)
    return str(info.value)


def pdf_text(x: float, y: float, text: str) -> str:
    return f"BT /F1 10 Tf {x} {y} Td ({text}) Tj ET\n"


def pdf_grid(xs: list[int], ys: list[int]) -> str:
    lines = [f"{xs[0]} {y} m {xs[-1]} {y} l S\n" for y in ys]
    lines += [f"{x} {ys[0]} m {x} {ys[-1]} l S\n" for x in xs]
    return "0.5 w\n" + "".join(lines)


def make_pdf(path: Path, pages: list[str], user_password: str | None = None) -> Path:
    """A real PDF whose pages draw the given content streams in Helvetica."""
    writer = PdfWriter()
    font = DictionaryObject(
        {
            NameObject("/Type"): NameObject("/Font"),
            NameObject("/Subtype"): NameObject("/Type1"),
            NameObject("/BaseFont"): NameObject("/Helvetica"),
        }
    )
    for content in pages:
        page = writer.add_blank_page(612, 792)
        page[NameObject("/Resources")] = DictionaryObject(
            {NameObject("/Font"): DictionaryObject({NameObject("/F1"): font})}
        )
        stream = ContentStream(None, None)
        stream.set_data(content.encode("latin-1"))
        page.replace_contents(stream)
    if user_password is not None:
        writer.encrypt(user_password=user_password, owner_password="owner", algorithm="AES-128")
    path.parent.mkdir(parents=True, exist_ok=True)
    writer.write(path)
    return path


def table_page() -> str:
    """Prose, a ruled 3x3 table, more prose."""
    xs, ys = [72, 200, 300, 400], [700, 680, 660, 640]
    cells = [["Item", "2022", "2023"], ["Revenue", "1,234", "1,456"], ["Net income", "99", "101"]]
    content = pdf_text(72, 740, "Quarterly results are below.") + pdf_grid(xs, ys)
    for r, row in enumerate(cells):
        for c, value in enumerate(row):
            content += pdf_text(xs[c] + 4, ys[r] - 14, value)
    return content + pdf_text(72, 600, "Closing remarks after the table.")


# ---------------------------------------------------------------- text and decoding


def test_supported_suffixes() -> None:
    expected = {".txt", ".md", ".markdown", ".html", ".htm", ".pdf", ".docx", ".csv", ".jsonl"}
    assert expected == SUPPORTED_SUFFIXES


def test_txt_is_one_section_titled_by_stem(tmp_path: Path) -> None:
    doc = load_one(write(tmp_path / "notes.txt", "line one\r\nline two\r\n"), "notes.txt")
    assert doc.title == "notes"
    assert doc.text == "line one\nline two"
    assert doc.sections[0].page is None and doc.sections[0].heading_path == ()
    assert doc.metadata == {
        "path": "notes.txt",
        "filename": "notes.txt",
        "type": "txt",
        "title": "notes",
    }
    assert doc.source == str((tmp_path / "notes.txt").resolve())


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("\ufeffcafé crème".encode(), "café crème"),  # UTF-8 with BOM
        (b"caf\xe9 \x93quoted\x94 \x80", "café “quoted” €"),  # cp1252
        (b"undefined \x81 byte", "undefined \ufffd byte"),  # no cp1252 mapping: no crash
        ("\ufeffwide text".encode("utf-16-le"), "wide text"),  # UTF-16 with BOM
    ],
)
def test_text_decoding_never_fails(tmp_path: Path, raw: bytes, expected: str) -> None:
    assert load_one(write(tmp_path / "a.txt", raw)).text == expected


@pytest.mark.parametrize("name", ["a.txt", "a.md", "a.html", "a.csv", "a.jsonl", "a.pdf"])
@pytest.mark.parametrize("content", [b"", b"  \n\t\r\n  "])
def test_empty_files_fail(tmp_path: Path, name: str, content: bytes) -> None:
    path = write(tmp_path / name, content)
    reason = reason_of(path)
    if name == "a.pdf" and content:
        assert reason.startswith("corrupt PDF")  # whitespace is not an empty PDF but a bad one
    else:
        assert reason == "empty file"


def test_unsupported_suffix_fails(tmp_path: Path) -> None:
    assert reason_of(write(tmp_path / "a.xyz", "x")) == "unsupported file type '.xyz'"
    assert reason_of(write(tmp_path / "Makefile", "x")) == "unsupported file type (no suffix)"


# ---------------------------------------------------------------- markdown

MARKDOWN = """Preamble before any heading.

# Guide

Intro text.

## Install

```bash
# not a heading, a shell comment
pip install rag
```

### Linux

Use apt.

## Usage
Run `rag serve`.
"""


def test_markdown_sections_follow_headings(tmp_path: Path) -> None:
    doc = load_one(write(tmp_path / "guide.md", MARKDOWN))
    assert doc.title == "Guide"
    assert [s.heading_path for s in doc.sections] == [
        (),
        ("Guide",),
        ("Guide", "Install"),
        ("Guide", "Install", "Linux"),
        ("Guide", "Usage"),
    ]
    install = doc.sections[2].text
    assert install.startswith("Install\n\n")
    assert "# not a heading, a shell comment" in install
    assert doc.sections[0].text == "Preamble before any heading."
    assert doc.sections[4].text == "Usage\n\nRun `rag serve`."
    assert doc.metadata["type"] == "md"


def test_markdown_headings_inside_quotes_and_lists_are_body(tmp_path: Path) -> None:
    text = "# Top\n\n> # Quoted\n\n- # In a list\n"
    doc = load_one(write(tmp_path / "q.md", text))
    assert [s.heading_path for s in doc.sections] == [("Top",)]
    assert "> # Quoted" in doc.text and "- # In a list" in doc.text


def test_markdown_title_falls_back_to_stem(tmp_path: Path) -> None:
    doc = load_one(write(tmp_path / "notes.markdown", "## Only level two\n\nbody\n"))
    assert doc.title == "notes"
    assert doc.sections[0].heading_path == ("Only level two",)
    assert doc.metadata["type"] == "md"


def test_markdown_front_matter_and_setext_headings(tmp_path: Path) -> None:
    text = "---\ntitle: 'Release notes'\ntags: x\n---\nVersion 2\n=========\n\nFaster.\n"
    doc = load_one(write(tmp_path / "rel.md", text))
    assert doc.title == "Release notes"
    assert [(s.heading_path, s.text) for s in doc.sections] == [
        (("Version 2",), "Version 2\n\nFaster.")
    ]


def test_markdown_heading_markup_is_stripped(tmp_path: Path) -> None:
    doc = load_one(write(tmp_path / "a.md", "# The `rag` *tool*\n\ntext\n"))
    assert doc.title == "The rag tool"
    assert doc.sections[0].heading_path == ("The rag tool",)


def test_markdown_with_only_front_matter_fails(tmp_path: Path) -> None:
    assert reason_of(write(tmp_path / "a.md", "---\ntitle: x\n---\n")) == "no text content"


# ---------------------------------------------------------------- html

HTML = """<!DOCTYPE html>
<html><head><title> Pricing  page </title><style>.x { color: red }</style>
<script>var tracking = 1;</script></head>
<body>
<header><a href="/">Site banner</a></header>
<nav>Home | Docs</nav>
<div class="sidebar">Sidebar outside main</div>
<main>
  <h1>Plans</h1>
  <p>Choose a   plan.<!-- hidden comment --></p>
  <h2>Enterprise</h2>
  <p>Call us<br>today.</p>
  <table><caption>Prices</caption>
    <tr><th>Plan</th><th>USD</th></tr>
    <tr><td>Basic</td><td>10</td></tr>
  </table>
  <form><label>Email</label><input></form>
  <aside>Related links</aside>
  <noscript>Enable JS</noscript>
  <pre>line 1
  line 2</pre>
</main>
<footer>Copyright footer</footer>
</body></html>
"""


def test_html_keeps_main_text_only(tmp_path: Path) -> None:
    doc = load_one(write(tmp_path / "pricing.html", HTML))
    assert doc.title == "Pricing page"
    for chrome in ["tracking", "color", "Site banner", "Home", "Sidebar", "Email", "Related",
                   "Enable JS", "Copyright", "hidden comment"]:  # fmt: skip
        assert chrome not in doc.text
    assert [s.heading_path for s in doc.sections] == [("Plans",), ("Plans", "Enterprise")]
    assert doc.sections[0].text == "Plans\n\nChoose a plan."
    enterprise = doc.sections[1].text
    assert "Call us\ntoday." in enterprise
    assert "Prices\nPlan | USD\nBasic | 10" in enterprise
    assert "line 1\n  line 2" in enterprise
    assert doc.metadata["type"] == "html"


def test_html_article_with_its_own_header(tmp_path: Path) -> None:
    page = """<html><body><header>Banner</header>
    <article><header><h1>Post title</h1></header><p>Post body.</p>
    <footer>Posted by Ann</footer></article>
    <div>Comments widget</div></body></html>"""
    doc = load_one(write(tmp_path / "post.htm", page))
    assert doc.title == "Post title"  # no <title>: the first h1
    assert "Banner" not in doc.text and "Comments widget" not in doc.text
    assert doc.sections[0].heading_path == ("Post title",)
    assert "Post body." in doc.text and "Posted by Ann" in doc.text


def test_html_without_main_uses_body_and_stem_title(tmp_path: Path) -> None:
    doc = load_one(write(tmp_path / "plain.html", "<p>Just <b>a</b> paragraph.</p>"))
    assert doc.title == "plain"
    assert doc.text == "Just a paragraph."


def test_html_with_only_chrome_fails(tmp_path: Path) -> None:
    path = write(tmp_path / "x.html", "<html><body><nav>menu</nav><script>x()</script></body>")
    assert reason_of(path) == "no text content"


# ---------------------------------------------------------------- pdf (generated)


def test_pdf_pages_and_table_rows(tmp_path: Path) -> None:
    path = make_pdf(tmp_path / "report.pdf", [table_page(), "", pdf_text(72, 700, "Page three")])
    doc = load_one(path, "report.pdf")
    assert [s.page for s in doc.sections] == [1, 3]  # the blank page has no section
    assert doc.sections[0].text == (
        "Quarterly results are below.\n"
        "Item 2022 2023\n"
        "Revenue 1,234 1,456\n"
        "Net income 99 101\n"
        "Closing remarks after the table."
    )
    assert doc.metadata == {
        "pages": 3,
        "path": "report.pdf",
        "filename": "report.pdf",
        "type": "pdf",
        "title": "report",
    }
    assert doc.title == "report"


def test_pdf_untrusted_table_falls_back_to_prose(tmp_path: Path) -> None:
    # One cell holds two stacked numbers: the rulings miss a row, so rows would mislead.
    xs, ys = [72, 200, 300], [700, 660, 640]
    content = pdf_grid(xs, ys) + pdf_text(76, 686, "Sales") + pdf_text(204, 686, "10")
    content += pdf_text(76, 672, "Costs") + pdf_text(204, 672, "(7)")
    content += pdf_text(76, 646, "Total") + pdf_text(204, 646, "3")
    doc = load_one(make_pdf(tmp_path / "t.pdf", [content]))
    assert " | " not in doc.text
    assert doc.text.split("\n") == ["Sales 10", "Costs (7)", "Total 3"]


def test_pdf_table_that_loses_a_cell_falls_back_to_prose(tmp_path: Path) -> None:
    # The middle row's right border is missing, so the finder returns None for "65,112".
    content = "0.5 w\n" + "".join(f"72 {y} m 300 {y} l S\n" for y in [700, 680, 660, 640])
    content += "72 700 m 72 640 l S\n200 700 m 200 640 l S\n"
    content += "300 700 m 300 680 l S\n300 660 m 300 640 l S\n"
    for r, (label, value) in enumerate([("For", "1,125"), ("Against", "65,112"), ("No", "9")]):
        content += pdf_text(76, 686 - 20 * r, label) + pdf_text(204, 686 - 20 * r, value)
    doc = load_one(make_pdf(tmp_path / "votes.pdf", [content]))
    assert doc.text == "For 1,125\nAgainst 65,112\nNo 9"


def test_pdf_without_text_fails(tmp_path: Path) -> None:
    path = make_pdf(tmp_path / "scan.pdf", ["", pdf_grid([72, 100], [700, 650])])
    assert reason_of(path) == "no extractable text on any of 2 pages (scanned PDF?)"


def test_encrypted_pdf_fails(tmp_path: Path) -> None:
    path = make_pdf(tmp_path / "locked.pdf", [pdf_text(72, 700, "secret")], user_password="pw")
    assert PdfReader(path).is_encrypted
    assert reason_of(path) == "encrypted PDF"


def test_pdf_with_empty_user_password_loads(tmp_path: Path) -> None:
    # Owner-only encryption restricts editing, not reading.
    path = make_pdf(tmp_path / "owner.pdf", [pdf_text(72, 700, "readable")], user_password="")
    assert load_one(path).text == "readable"


def test_corrupt_pdfs_name_the_cause(tmp_path: Path) -> None:
    garbage = write(tmp_path / "garbage.pdf", b"this is not a pdf " * 20)
    assert reason_of(garbage) == (
        "corrupt PDF: Failed to load document (PDFium: Data format error)."
    )
    whole = make_pdf(tmp_path / "whole.pdf", [table_page()]).read_bytes()
    truncated = write(tmp_path / "truncated.pdf", whole[: len(whole) // 2])
    assert reason_of(truncated).startswith("corrupt PDF: ")


# ---------------------------------------------------------------- pdf (real filings)


@needs_samples
def test_real_earnings_release_is_readable() -> None:
    doc = load_one(AMCOR, "AMCOR.pdf")
    assert doc.title == "Amcor 4Q 2023 Exhibit 99.1 - June 30, 2023"
    assert [s.page for s in doc.sections] == list(range(1, 15))
    first = doc.sections[0].text
    assert first.startswith("Amcor reports fiscal 2023 results and provides outlook")
    assert "Net sales 14,544 14,694" in first  # the key-financials table, row intact
    reconciliation = doc.sections[10].text
    assert "Adjusted EBITDA, EBIT, Net income, and EPS 609 505 368 24.4 540 436 282 19.3" in (
        reconciliation
    )


@needs_samples
def test_real_8k_votes_table_rows_without_duplicates() -> None:
    doc = load_one(PEPSICO, "PEPSICO.pdf")
    assert [s.page for s in doc.sections] == [1, 2, 3, 4, 5]
    votes = doc.sections[2].text
    assert "Segun Agbaje 1,005,178,935 12,334,137 2,634,817 172,969,325" in votes
    assert votes.count("1,005,178,935") == 1  # the table's words are not repeated as prose
    assert votes.index("Nominee For Against") < votes.index("Segun Agbaje")
    assert votes.index("Alberto Weisser") < votes.index("(2) The shareholders ratified")
    # The finder loses "Against" values in these small tables; the prose keeps every number.
    assert "Against 65,112,424" in votes
    assert "Against 746,982,272" in doc.sections[3].text


@needs_samples
def test_truncated_real_pdf_fails(tmp_path: Path) -> None:
    data = PEPSICO.read_bytes()
    assert reason_of(write(tmp_path / "cut.pdf", data[: len(data) // 3])).startswith(
        "corrupt PDF: "
    )


# ---------------------------------------------------------------- docx


def make_docx(path: Path) -> Path:
    document = docx.Document()
    document.add_heading("Annual Report", level=0)  # "Title" style
    document.add_paragraph("Opening words.")
    document.add_heading("Results", level=1)
    document.add_paragraph("Revenue grew.")
    table = document.add_table(rows=3, cols=3)
    for r, row in enumerate([["Metric", "2022", "2023"], ["Revenue", "10", "12"]]):
        for c, value in enumerate(row):
            table.cell(r, c).text = value
    merged = table.cell(2, 0).merge(table.cell(2, 1))
    merged.text = "Merged note"
    table.cell(2, 2).text = "x"
    document.add_heading("Regions", level=2)
    document.add_paragraph("Europe led.")
    chapter = document.styles.add_style("Chapter", WD_STYLE_TYPE.PARAGRAPH)
    chapter.base_style = document.styles["Heading 1"]
    document.add_paragraph("Outlook", style="Chapter")
    document.add_paragraph("Steady.")
    document.save(str(path))
    return path


def test_docx_headings_and_tables(tmp_path: Path) -> None:
    doc = load_one(make_docx(tmp_path / "report.docx"))
    assert doc.title == "Annual Report"
    assert [s.heading_path for s in doc.sections] == [
        ("Annual Report",),
        ("Annual Report", "Results"),
        ("Annual Report", "Results", "Regions"),
        ("Annual Report", "Outlook"),  # a custom style based on Heading 1
    ]
    assert doc.sections[1].text == (
        "Results\n\nRevenue grew.\n\nMetric | 2022 | 2023\nRevenue | 10 | 12\nMerged note | x"
    )
    assert doc.metadata["type"] == "docx"


def test_docx_core_title_wins(tmp_path: Path) -> None:
    path = make_docx(tmp_path / "r.docx")
    document = docx.Document(str(path))
    document.core_properties.title = "Official title"
    document.save(str(path))
    assert load_one(path).title == "Official title"


def test_docx_failures(tmp_path: Path) -> None:
    assert reason_of(write(tmp_path / "bad.docx", b"PK\x03\x04 not really a zip")).startswith(
        "corrupt DOCX: "
    )
    blank = tmp_path / "blank.docx"
    docx.Document().save(str(blank))
    assert reason_of(blank) == "no text content"


# ---------------------------------------------------------------- csv


def test_csv_rows_with_id_column(tmp_path: Path) -> None:
    path = write(tmp_path / "tickets.csv", 'id,subject,body\nT-1,Login,"cannot, log in"\nT-2,,x\n')
    docs = load_file(path, "data/tickets.csv")
    assert [d.id for d in docs] == ["data/tickets.csv#T-1", "data/tickets.csv#T-2"]
    assert docs[0].text == "id: T-1\nsubject: Login\nbody: cannot, log in"
    assert docs[1].text == "id: T-2\nbody: x"  # empty values stay out of the text ...
    assert docs[1].metadata == {  # ... but every column is in the metadata
        "id": "T-2",
        "subject": "",
        "body": "x",
        "row": 2,
        "path": "data/tickets.csv",
        "filename": "tickets.csv",
        "type": "csv",
        "title": "tickets",
    }
    assert {d.title for d in docs} == {"tickets"}


def test_csv_sniffs_delimiter_and_numbers_rows(tmp_path: Path) -> None:
    raw = "name;city;\nAnn;Oslo;\n\nBo;Lund;\n".encode("cp1252")
    docs = load_file(write(tmp_path / "people.csv", raw), "people.csv")
    # Row numbers count records as written (blank line included), so ids stay stable.
    assert [d.id for d in docs] == ["people.csv#row1", "people.csv#row3"]
    assert docs[1].text == "name: Bo\ncity: Lund"
    assert docs[1].metadata["column3"] == ""


def test_csv_tab_separated_in_cp1252(tmp_path: Path) -> None:
    raw = "term\tmeaning\ncafé\t“coffee” house\n".encode("cp1252")
    docs = load_file(write(tmp_path / "g.csv", raw), "g.csv")
    assert docs[0].text == "term: café\nmeaning: “coffee” house"


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("id,text\n", "no data rows"),
        ("id,text\n1,a\n1,b\n", "row 2: duplicate id 'f.csv#1'"),
        ("id,text\n,a\n", "row 1: empty 'id'"),
        ("a,b\n1,2,3\n", "row 1: 3 fields, header has 2"),
        ("a,a\n1,2\n", "duplicate column 'a'"),
    ],
)
def test_csv_failures(tmp_path: Path, content: str, reason: str) -> None:
    with pytest.raises(LoaderError, match=f"^{reason}$"):
        load_file(write(tmp_path / "f.csv", content), "f.csv")


# ---------------------------------------------------------------- jsonl


def jsonl(*records: object) -> str:
    return "".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records)


def test_jsonl_beir_and_generic_records(tmp_path: Path) -> None:
    path = write(
        tmp_path / "corpus.jsonl",
        jsonl(
            {"_id": "4983", "title": "White matter", "text": "Diffusion MRI.", "metadata": {}},
            "",
            {"id": 7, "text": "Generic record.", "metadata": {"lang": "en"}},
            {"_id": "t-only", "title": "Title only", "text": ""},
        ),
    )
    docs = load_file(path, "corpus.jsonl")
    assert [d.id for d in docs] == ["4983", "7", "t-only"]
    assert docs[0].title == "White matter" and docs[0].text == "Diffusion MRI."
    assert docs[1].metadata == {
        "lang": "en",
        "path": "corpus.jsonl",
        "filename": "corpus.jsonl",
        "type": "jsonl",
    }
    assert docs[2].text == "Title only"
    assert {d.source for d in docs} == {str(path.resolve())}


BAD_LINES = [
    ("{not json", "invalid JSON: Expecting property name enclosed in double quotes at column 2"),
    ('["a list"]', "expected a JSON object, got list"),
    ({"text": "no id"}, "missing '_id' or 'id'"),
    ({"id": True, "text": "x"}, "id must be a string or integer, got bool"),
    ({"id": " ", "text": "x"}, "empty id"),
    ({"id": "a"}, "missing 'text'"),
    ({"id": "b", "text": " ", "title": ""}, "empty 'text' and 'title'"),
    ({"id": "c", "text": 3}, "'text' must be a string"),
    ({"id": "d", "text": "x", "metadata": [1]}, "'metadata' must be an object"),
    ({"id": "good", "text": "again"}, "duplicate id 'good'"),
]


def test_jsonl_bad_lines_fail_alone_in_a_walk(tmp_path: Path) -> None:
    records: list[object] = [{"id": "good", "text": "kept"}, *(line for line, _ in BAD_LINES)]
    records.append({"id": "last", "text": "also kept"})
    path = write(tmp_path / "c.jsonl", jsonl(*records))
    items = list(iter_documents([path]))
    docs = [i for i in items if isinstance(i, Document)]
    failures = [i for i in items if isinstance(i, LoadFailure)]
    assert [d.id for d in docs] == ["good", "last"]
    assert failures == [
        LoadFailure(path, reason, line=n) for n, (_, reason) in enumerate(BAD_LINES, start=2)
    ]
    assert failures[0].location() == f"{path}:2"  # how the CLI and jobs name a bad line


def test_jsonl_load_file_is_strict(tmp_path: Path) -> None:
    path = write(tmp_path / "c.jsonl", jsonl({"id": "a", "text": "x"}, "{oops"))
    with pytest.raises(LoaderError, match=r"^line 2: invalid JSON"):
        load_file(path, "c.jsonl")


def test_jsonl_blank_file_is_one_failure(tmp_path: Path) -> None:
    path = write(tmp_path / "e.jsonl", "\n \n")
    assert list(iter_documents([path])) == [LoadFailure(path, "empty file")]


@pytest.mark.skipif(
    not (SHARED_DATA / "scifact" / "corpus.jsonl").exists(),
    reason=f"BEIR SciFact corpus not found under {SHARED_DATA} (shared data folder absent)",
)
def test_real_beir_corpus_loads_every_line() -> None:
    items = list(iter_documents([SHARED_DATA / "scifact" / "corpus.jsonl"]))
    assert len(items) == 5183
    assert all(isinstance(i, Document) and i.text for i in items)


# ---------------------------------------------------------------- iter_documents


def make_tree(root: Path) -> None:
    write(root / "guide" / "intro.md", "# Intro\n\nHello.\n")
    write(root / "guide" / "setup.txt", "Setup steps.")
    write(root / "a.txt", "Top level.")
    write(root / "drafts" / "wip.md", "# WIP\n\nnot ready\n")
    write(root / "drafts" / "old.pdf", b"garbage")
    write(root / "image.png", b"\x89PNG")
    write(root / ".hidden.txt", "secret")
    write(root / ".git" / "config.txt", "git internals")
    write(root / "broken.csv", "id,text\n")


def outcome(items: list[Document | LoadFailure]) -> list[str]:
    return [i.id if isinstance(i, Document) else f"FAIL {i.path}: {i.reason}" for i in items]


def test_folder_walk_ids_order_and_failures(tmp_path: Path) -> None:
    docs_dir = tmp_path / "docs"
    make_tree(docs_dir)
    items = list(iter_documents([docs_dir]))
    assert outcome(items) == [
        "docs/a.txt",
        f"FAIL {docs_dir / 'broken.csv'}: no data rows",
        f"FAIL {docs_dir / 'drafts' / 'old.pdf'}: corrupt PDF: "
        "Failed to load document (PDFium: Data format error).",
        "docs/drafts/wip.md",
        "docs/guide/intro.md",
        "docs/guide/setup.txt",
    ]
    intro = next(i for i in items if isinstance(i, Document) and i.id == "docs/guide/intro.md")
    assert intro.source == str((docs_dir / "guide" / "intro.md").resolve())
    assert intro.metadata == {
        "path": "docs/guide/intro.md",
        "filename": "intro.md",
        "type": "md",
        "title": "Intro",
    }


def test_folder_argument_dot_uses_the_folder_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_tree(tmp_path / "kb")
    monkeypatch.chdir(tmp_path / "kb" / "guide")
    assert outcome(list(iter_documents([Path(".")]))) == ["guide/intro.md", "guide/setup.txt"]


@pytest.mark.parametrize(
    ("include", "exclude", "expected"),
    [
        (["**/*.md"], [], ["docs/drafts/wip.md", "docs/guide/intro.md"]),
        (["*.md"], ["drafts/**"], ["docs/guide/intro.md"]),
        (["guide/*"], [], ["docs/guide/intro.md", "docs/guide/setup.txt"]),
        (["*.txt"], ["*.txt"], []),  # exclude wins
        ([], ["drafts", "*.csv", "guide/setup.txt"], ["docs/a.txt", "docs/guide/intro.md"]),
        (["*.png"], [], ["FAIL {root}/image.png: unsupported file type '.png'"]),
    ],
)
def test_include_exclude(
    tmp_path: Path, include: list[str], exclude: list[str], expected: list[str]
) -> None:
    root = tmp_path / "docs"
    make_tree(root)
    got = outcome(list(iter_documents([root], include, exclude)))
    assert got == [e.replace("{root}", str(root)) for e in expected]


def test_named_files_and_missing_paths(tmp_path: Path) -> None:
    make_tree(tmp_path / "docs")
    named = tmp_path / "docs" / "guide" / "intro.md"
    unknown = tmp_path / "docs" / "image.png"
    missing = tmp_path / "nope.md"
    # Globs scope folder walks; a named file is always attempted.
    items = list(iter_documents([named, unknown, missing], exclude=["*.md"]))
    assert outcome(items) == [
        "intro.md",
        f"FAIL {unknown}: unsupported file type '.png'",
        f"FAIL {missing}: no such file or directory",
    ]


def test_walk_does_not_follow_folder_links(tmp_path: Path) -> None:
    root = tmp_path / "kb"
    write(root / "sub" / "a.txt", "text")
    (root / "sub" / "loop").symlink_to(root, target_is_directory=True)
    (root / "b.txt").symlink_to(root / "sub" / "a.txt")  # a linked file is still a file
    assert outcome(list(iter_documents([root]))) == ["kb/b.txt", "kb/sub/a.txt"]


def test_csv_rows_in_a_walk_get_file_scoped_ids(tmp_path: Path) -> None:
    write(tmp_path / "kb" / "t.csv", "subject\nhello\n")
    items = list(iter_documents([tmp_path / "kb"]))
    assert outcome(items) == ["kb/t.csv#row1"]
    assert isinstance(items[0], Document)
    assert items[0].metadata["path"] == "kb/t.csv"


@pytest.mark.parametrize(
    ("patterns", "path", "expected"),
    [
        (["*.md"], "a.md", True),
        (["*.md"], "x/y/a.md", True),
        (["*.md"], "a.mdx", False),
        (["/*.md"], "x/a.md", False),  # anchored: top level only
        (["docs/*.md"], "docs/sub/a.md", False),
        (["docs/**/*.md"], "docs/a.md", True),
        (["docs/**/*.md"], "docs/sub/deep/a.md", True),
        (["drafts/**"], "drafts/x/y.txt", True),
        (["drafts"], "notes/drafts/y.txt", True),
        (["draft?.txt"], "drafts.txt", True),
        (["[!a]*.txt"], "b.txt", True),
        (["[!a]*.txt"], "a.txt", False),
        (["a+b(1).txt"], "a+b(1).txt", True),
        (["*.md", "!README.md"], "README.md", False),  # a later `!` takes a match back
        (["*.md", "!README.md"], "docs/a.md", True),
        (["./notes"], "notes/a.txt", True),
        ([], "a.txt", False),
    ],
)
def test_glob_patterns(patterns: list[str], path: str, expected: bool) -> None:
    assert matches_any(patterns, path) is expected
