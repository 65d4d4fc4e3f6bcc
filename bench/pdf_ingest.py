"""PDF ingestion end to end on real SEC filings: today's path against the old one, side by side.

What it measures, in one process, on `../shared/data/filings/`:
1. old path (the loader before pypdfium2): pdfplumber with its table finder on every page, in
   this process, then chunk, embed and write. About 1 page/s, so it runs on a subset: the first
   `--pages` pages of each of `--files` (written as smaller PDFs to a temp folder).
2. new path: `Ingestor.ingest_paths` as `rag ingest` runs it: pypdfium2 reading lines, parsed
   in worker processes (one per core) while this process embeds and writes. On the same
   subset, then on every filing (1,370 pages) unless `--no-full`.
3. parse peers, on the subset's pages, one process, no embedding: the old loader, pypdf
   `extract_text` (what common RAG frameworks use by default) and the new loader.
4. fidelity: the old loader's table rows (a label and two or more numbers on one line) that
   the new loader's text does not hold whole on one line of the same page (spacing ignored).
Stage split: parse = seconds this process waited for parsed files (the critical path; parsing
hidden behind embedding costs nothing here), chunk = hashing and chunking, embed, write =
store writes and flushes. Every run uses a fresh local Flat KB and the packaged embedder.
"""

from __future__ import annotations

import argparse
import re
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pypdfium2 as pdfium
import torch
from pypdf import PdfReader, PdfWriter

from bench.legacy_pdf import legacy_load_pdf
from bench.machine import load_average, machine_info
from bench.paths import cache_dir, require_data
from bench.report import Report, Table
from bench.timed import TimedEmbedder, TimedStore
from indexer.ingest import Ingestor, Unobserved
from indexer.loaders import FileParsed, ParsePool, load_file
from indexer.settings import parse_settings
from rag.config import Settings
from rag.types import Document
from rag.workspace import Workspace

SUBSET = ["APPLE_2019_10K.pdf", "COCACOLA_2019_10K.pdf", "JPMORGAN_2022Q1_10Q.pdf"]
_NUMBER = re.compile(r"^\(?\$?\d[\d,]*\.?\d*\)?%?$")


@dataclass
class Run:
    """One end-to-end run: its size and its time split in seconds."""

    path: str
    pages: int
    chunks: int
    parse: float
    chunk: float
    embed: float
    write: float
    total: float


class ChunkClock(Unobserved):
    """An IngestObserver that adds up the hashing and chunking time the ingestor reports."""

    def __init__(self) -> None:
        self.seconds = 0.0

    def parsed(self, docs: int, seconds: float) -> None:
        self.seconds += seconds


def write_subset(folder: Path, names: list[str], pages: int) -> Path:
    """The first `pages` pages of each filing, as PDFs in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        reader = PdfReader(require_data("filings", name))
        writer = PdfWriter()
        for page in reader.pages[:pages]:
            writer.add_page(page)
        writer.write(folder / name)
    return folder


def page_count(folder: Path) -> int:
    return sum(len(pdfium.PdfDocument(p)) for p in sorted(folder.glob("*.pdf")))


def fresh_ingestor(settings: Settings, name: str) -> tuple[Ingestor, TimedEmbedder, TimedStore]:
    ws = Workspace(settings)
    ws.create(name, index="flat")
    kb = ws.open(name)
    embedder, store = TimedEmbedder(kb.embedder), TimedStore(kb.store)
    ingestor = Ingestor(
        store,
        embedder,
        kb.config,
        settings.ingest_batch_chunks,
        settings.ingest_flush_seconds,
        parse_settings(settings),
        settings.chunk_max_chars,
    )
    return ingestor, embedder, store


def run_old(folder: Path, settings: Settings) -> tuple[Run, dict[str, Document]]:
    """The old path: pdfplumber + table finder in this process, then chunk, embed, write."""
    ingestor, embedder, store = fresh_ingestor(settings, f"old-{time.time_ns()}")
    clock = ChunkClock()
    t0 = time.perf_counter()
    docs = {p.name: legacy_load_pdf(p, p.name) for p in sorted(folder.glob("*.pdf"))}
    parse = time.perf_counter() - t0
    result = ingestor.ingest_documents(list(docs.values()), progress=False, observer=clock)
    total = time.perf_counter() - t0
    store.close()
    run = Run(
        "old: pdfplumber + tables, then embed",
        page_count(folder),
        result.chunks,
        parse,
        clock.seconds,
        embedder.seconds,
        store.write_seconds + store.flush_seconds,
        total,
    )
    return run, docs


def run_new(folder: Path, settings: Settings, label: str) -> Run:
    """The new path, as `rag ingest` runs it: parse workers overlap embedding and writing."""
    ingestor, embedder, store = fresh_ingestor(settings, f"new-{time.time_ns()}")
    clock = ChunkClock()
    waited: list[FileParsed] = []
    t0 = time.perf_counter()
    with ParsePool(ingestor.parse) as pool:
        result = ingestor.ingest_paths(
            [folder],
            include=["*.pdf"],
            progress=False,
            observer=clock,
            on_file=waited.append,
            pool=pool,
        )
        total = time.perf_counter() - t0
    store.close()
    if result.failures:
        raise SystemExit(f"the new path failed on: {result.failures}")
    return Run(
        label,
        page_count(folder),
        result.chunks,
        sum(f.waited for f in waited),
        clock.seconds,
        embedder.seconds,
        store.write_seconds + store.flush_seconds,
        total,
    )


def parse_peers(folder: Path, old_parse: float) -> list[list[str | int | float]]:
    """Pages/s of each reader over the subset, parse only, one process."""
    pages = page_count(folder)
    pdfs = sorted(folder.glob("*.pdf"))
    t0 = time.perf_counter()
    for p in pdfs:
        for page in PdfReader(p).pages:
            page.extract_text()
    pypdf_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    for p in pdfs:
        load_file(p, p.name)
    ours = time.perf_counter() - t0
    return [
        ["old loader: pdfplumber + table finder", old_parse, pages / old_parse],
        ["pypdf extract_text (peer)", pypdf_s, pages / pypdf_s],
        ["new loader: pypdfium2 reading lines", ours, pages / ours],
    ]


def table_rows(text: str) -> list[tuple[str, list[str]]]:
    """Rows as a reader sees them: a label (words before the first number) and 2+ numbers."""
    rows = []
    for line in text.split("\n"):
        tokens = line.replace("|", " ").split()
        numbers = [t for t in tokens if _NUMBER.match(t)]
        if len(numbers) < 2 or not any(re.search("[A-Za-z]{3,}", t) for t in tokens):
            continue
        first = next(i for i, t in enumerate(tokens) if _NUMBER.match(t))
        rows.append(("".join(tokens[:first]), numbers))
    return rows


def _holds(line: str, label: str, numbers: list[str]) -> bool:
    """Whether one line holds the label and then the numbers, in order (spacing ignored)."""
    at = line.find(label)
    if at < 0:
        return False
    at += len(label)
    for number in numbers:
        at = line.find(number, at)
        if at < 0:
            return False
        at += len(number)
    return True


def fidelity(folder: Path, old: dict[str, Document]) -> tuple[int, int, list[str]]:
    """Old table rows, how many no single line of the new text holds whole, and examples."""
    squash = re.compile(r"[\s|]+")
    total, lost, examples = 0, 0, []
    for name, doc in old.items():
        new = load_file(folder / name, name)[0]
        pages = {s.page: [squash.sub("", ln) for ln in s.text.split("\n")] for s in new.sections}
        for section in doc.sections:
            lines = pages.get(section.page, [])
            for label, numbers in table_rows(section.text):
                total += 1
                if not any(_holds(line, label, numbers) for line in lines):
                    lost += 1
                    if len(examples) < 8:
                        examples.append(f"{name} p{section.page}: {label} {' '.join(numbers)}")
    return total, lost, examples


def main() -> None:
    """Run the comparison and print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=40, help="pages of each subset filing")
    parser.add_argument("--files", default=",".join(SUBSET), help="subset filings, comma-separated")
    parser.add_argument("--no-full", action="store_true", help="skip the new path on all filings")
    parser.add_argument("--json", action="store_true", help="print JSON instead of tables")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(dir=cache_dir("pdf-ingest")) as tmp:
        root = Path(tmp)
        settings = Settings(data_dir=root / "data")
        subset = write_subset(root / "subset", args.files.split(","), args.pages)
        Workspace(settings).embedder().embed(["warm up"] * settings.embed_batch_size)

        old, old_docs = run_old(subset, settings)
        new = run_new(subset, settings, "new: pypdfium2 in workers, overlapped")
        runs = [old, new]
        if not args.no_full:
            runs.append(run_new(require_data("filings"), settings, "new, all 10 filings"))
        peers = parse_peers(subset, old.parse)
        rows, lost, examples = fidelity(subset, old_docs)

    report = Report(
        name="PDF ingestion: old path vs new, end to end",
        machine=machine_info(),
        params={
            "subset": f"first {args.pages} pages of {args.files} ({old.pages} pages)",
            "parse workers": ParsePool(parse_settings(settings)).settings.processes,
            "chunking": f"{settings.chunk_tokens} tokens, overlap {settings.chunk_overlap}",
            "batch": f"{settings.ingest_batch_chunks} chunks per embed call and write",
            "torch threads": torch.get_num_threads(),
        },
    )
    report.tables.append(
        Table(
            "end to end (parse -> chunk -> embed -> write)",
            ["path", "pages", "chunks", "seconds", "pages/s", "chunks/s", "x old pages/s"],
            [
                [
                    r.path,
                    r.pages,
                    r.chunks,
                    r.total,
                    r.pages / r.total,
                    r.chunks / r.total,
                    (r.pages / r.total) / (old.pages / old.total),
                ]
                for r in runs
            ],
        )
    )
    report.tables.append(
        Table(
            "time split (share of wall time; parse = waiting for parsed files)",
            ["path", "parse", "chunk", "embed", "write", "other"],
            [
                [
                    r.path,
                    *(
                        f"{s:.1f}s ({100 * s / r.total:.0f}%)"
                        for s in (r.parse, r.chunk, r.embed, r.write)
                    ),
                    f"{r.total - r.parse - r.chunk - r.embed - r.write:.1f}s",
                ]
                for r in runs
            ],
        )
    )
    report.tables.append(
        Table("parse stage alone, subset, one process", ["reader", "seconds", "pages/s"], peers)
    )
    report.tables.append(
        Table(
            "table-row fidelity on the subset (old loader's rows found whole in the new text)",
            ["rows in old text", "found on one line", "lost"],
            [[rows, rows - lost, lost]],
        )
    )
    report.notes += [f"lost row: {e}" for e in examples]
    report.notes.append(f"load average at the end: {load_average()}")
    report.emit(args.json)


if __name__ == "__main__":
    main()
