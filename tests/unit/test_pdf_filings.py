"""PDF fidelity on real SEC filings: table rows stay whole lines, pages and titles are right."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pytest

from indexer.loaders import load_file
from indexer.loaders.pdf import meaningful_title
from rag.types import Document

FILINGS = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "filings"

pytestmark = pytest.mark.skipif(
    not FILINGS.is_dir(), reason=f"real SEC filings not found under {FILINGS} (shared data absent)"
)


@cache
def filing(name: str) -> Document:
    docs = load_file(FILINGS / name, name)
    assert len(docs) == 1
    return docs[0]


def page(name: str, number: int) -> list[str]:
    """The lines of one page of a filing."""
    section = next(s for s in filing(name).sections if s.page == number)
    return section.text.split("\n")


@pytest.mark.parametrize(
    ("name", "number", "row"),
    [
        (
            "APPLE_2019_10K.pdf",
            20,
            "Total net sales $ 260,174 $ 265,595 $ 229,234 $ 215,639 $ 233,715",
        ),
        (
            "COCACOLA_2019_10K.pdf",
            31,
            "Net operating revenues $ 37,266 $ 34,300 $ 36,212 $ 41,863 $ 44,294",
        ),
        # A superscript footnote mark stays on its row.
        (
            "AMD_2020_10K.pdf",
            41,
            "Net income (loss) (3) $ 2,490 $ 341 $ 337 $ (33) $ (498)",
        ),
        ("BOEING_2019_10K.pdf", 29, "Deliveries 580 (18) 6 27 (10) 48 145 806"),
        # A cell that wraps: the row's other cells stay on its first line, as a reader sees
        # them (pdfium's stream order would put them after the wrapped text).
        (
            "APPLE_2019_10K.pdf",
            64,
            "4.2 Indenture, dated as of April 29, 2013, between the Registrant and The Bank of "
            "New York Mellon S-3 4.1 4/29/13",
        ),
        # A two-line label beside a column on other baselines: its lines do not interleave.
        ("JPMORGAN_2022Q1_10Q.pdf", 11, "equipment(a) 2,360 2,519 (6)"),
        (
            "JPMORGAN_2022Q1_10Q.pdf",
            135,
            "Total retained loans $ 120,367 $ 118,835 $ 155,197 $ 145,691 $ 294,389 $ 295,828 "
            "$ 569,953 $ 560,354",
        ),
    ],
)
def test_a_table_row_is_one_line_with_its_label(name: str, number: int, row: str) -> None:
    assert row in page(name, number)


def test_every_page_keeps_its_number() -> None:
    doc = filing("APPLE_2019_10K.pdf")
    assert doc.metadata["pages"] == 101
    numbers = [s.page for s in doc.sections]
    assert numbers == sorted(numbers) and numbers[0] == 1 and numbers[-1] == 101
    assert page("APPLE_2019_10K.pdf", 20)[-1] == "Apple Inc. | 2019 Form 10-K | 17"


def test_accession_numbers_and_placeholders_are_not_titles() -> None:
    assert filing("APPLE_2019_10K.pdf").title == "APPLE_2019_10K"  # was 0000320193-19-000119
    assert filing("COCACOLA_2019_10K.pdf").title == "COCACOLA_2019_10K"  # was "Document"
    pepsico = load_file(FILINGS / "PEPSICO_2023Q2_EARNINGS.pdf", "p.pdf")[0]
    assert pepsico.title == "Q2 2023 8-K - Exhibit 99.1"  # a real title is kept


@pytest.mark.parametrize(
    ("title", "kept"),
    [
        ("0001018724-18-000005", ""),
        ("Document", ""),
        ("  ", ""),
        ("Microsoft Word - draft7.docx", ""),
        ("report_final.docx", ""),
        ("2023-05-03", ""),
        ("Amcor 4Q 2023  Exhibit 99.1", "Amcor 4Q 2023 Exhibit 99.1"),
    ],
)
def test_meaningful_title(title: str, kept: str) -> None:
    assert meaningful_title(title) == kept


def test_filings_carry_file_name_and_title_metadata() -> None:
    doc = filing("BOEING_2019_10K.pdf")
    assert doc.metadata["filename"] == "BOEING_2019_10K.pdf"
    assert doc.metadata["title"] == "BOEING_2019_10K"
