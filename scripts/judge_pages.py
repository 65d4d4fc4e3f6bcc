"""Candidate evidence pages of the filings page set: pages whose text holds every evidence string.

How evaluation/sets/filings_pages.jsonl was judged: each question names the filing and the
strings that answer it (a statement line's label and figure, or a sentence's words). This
script extracts every page's text with the loader's own pypdfium2 reading lines and prints
the pages holding all of a question's strings, with the matching line; each page was then
read, and pages where the strings match something else (a "1,463" inside "81,463") are in
the record's `excluded` list. Usage:

    .venv/bin/python scripts/judge_pages.py evaluation/sets/filings_pages.jsonl
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pypdfium2 as pdfium

from indexer.loaders.pdf_layout import page_text


def pages_of(pdf_path: Path) -> list[str]:
    pdf = pdfium.PdfDocument(pdf_path)
    try:
        texts = []
        for i in range(len(pdf)):
            page = pdf[i]
            texts.append(page_text(page))
            page.close()
        return texts
    finally:
        pdf.close()


def main(set_file: Path) -> None:
    lines = [json.loads(line) for line in set_file.read_text().splitlines() if line.strip()]
    corpus = set_file.parent / next(r["corpus"] for r in lines if "corpus" in r)
    cache: dict[str, list[str]] = {}
    for record in (r for r in lines if "id" in r):
        texts = cache.setdefault(record["file"], pages_of(corpus / record["file"]))
        found = [
            n for n, text in enumerate(texts, start=1) if all(e in text for e in record["evidence"])
        ]
        kept = [n for n in found if n not in record.get("excluded", [])]
        status = "ok" if kept == record["pages"] else f"DIFFERS from {record['pages']}"
        print(f"{record['id']}: candidates {found}, kept {kept} {status}")
        for n in found:
            line = next(ln for ln in texts[n - 1].splitlines() if record["evidence"][-1] in ln)
            print(f"    p.{n}: {line[:140]}")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
