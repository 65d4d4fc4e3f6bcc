"""Headings of PDF pages: detected in filing text, carried across pages, or from the outline."""

from pathlib import Path

import pytest

from indexer.loaders.limits import LoadLimits
from indexer.loaders.pdf import load_pdf
from indexer.loaders.pdf_headings import OutlineEntry, PageHeadings, is_heading, outline_paths

FILINGS = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "filings"


@pytest.mark.parametrize(
    "line",
    [
        "Item 7. Management's Discussion and Analysis of Financial Condition and Results of "
        "Operations",
        "CONSOLIDATED BALANCE SHEETS",
        "Note 3 - Financial Instruments",
        "Gross Margin",
    ],
)
def test_heading_lines(line: str) -> None:
    assert is_heading(line)


@pytest.mark.parametrize(
    "line",
    [
        "Table of Contents",
        "(In millions, except number of shares which are reflected in thousands)",
        "Total net sales $ 260,174 $ 265,595",
        "The Company's investment policy and strategy are focused on the preservation.",
        "see Note 3, “Financial Instruments.”",
        "Pennsylvania 91% 7% 2%",
        "42",
    ],
)
def test_lines_that_are_not_headings(line: str) -> None:
    assert not is_heading(line)


def test_a_numbered_part_carries_over_pages_and_a_contents_page_sets_nothing() -> None:
    headings = PageHeadings()
    contents = "Item 1. Business\nItem 1A. Risk Factors\nItem 7. Markets\nItem 8. Statements"
    assert headings.page(contents) == ()
    assert headings.page("Item 1A. Risk Factors\nOur business is exposed to risks.") == (
        "Item 1A. Risk Factors",
    )
    # A later page: the part is still in effect; its own heading joins it ("Apple Inc." ends
    # in a stop like a sentence, so it is not taken for one).
    page = "Apple Inc.\nCONSOLIDATED BALANCE SHEETS\nTotal assets $ 338,516"
    assert headings.page(page) == ("Item 1A. Risk Factors", "CONSOLIDATED BALANCE SHEETS")


def test_outline_paths_follow_levels_and_pages() -> None:
    entries = [
        OutlineEntry(0, "Part I", 1),
        OutlineEntry(1, "Item 1. Financial Statements", 2),
        OutlineEntry(1, "Item 2. MD&A", 4),
        OutlineEntry(0, "Part II", 5),
    ]
    assert outline_paths(entries, 5) == [
        ("Part I",),
        ("Part I", "Item 1. Financial Statements"),
        ("Part I", "Item 1. Financial Statements"),
        ("Part I", "Item 2. MD&A"),
        ("Part II",),
    ]


@pytest.mark.skipif(not FILINGS.exists(), reason=f"{FILINGS} is absent")
def test_a_real_filing_gets_statement_headings() -> None:
    (doc,) = load_pdf(FILINGS / "APPLE_2019_10K.pdf", "apple", LoadLimits())
    pages = {s.page: s.heading_path for s in doc.sections}
    # Page 32 holds the consolidated statements of operations, under Item 8.
    assert pages[32][0] == "Item 8. Financial Statements and Supplementary Data"
    assert "CONSOLIDATED STATEMENTS OF OPERATIONS" in pages[32]
