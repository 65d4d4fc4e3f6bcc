"""The fine-grained corpus: every 1- to 4-sentence window of the shared corpora's text.

Sources: SciFact abstracts (with their titles), PubMedQA contexts and long answers, TAT-QA
paragraphs, plus TAT-QA table rows as one piece each. Windows never cross a paragraph, so each
piece is a plausible small chunk; overlapping windows are how a 12 MB corpus yields 182,735
pieces (windows of 1-3 sentences alone give 150k). To pass 200k, the ten long SEC filings add
the chunks the service itself makes of them: the real PDF loader and chunker at 48 and 96
tokens (a filing's page has no paragraph breaks and its table rows no sentence ends, so
sentence windows would not fit it). Queries are the SciFact claims, in none of the sources.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from bench.paths import cache_dir, require_data
from indexer.chunking.chunker import chunk_document
from indexer.loaders.limits import LoadLimits
from indexer.loaders.pdf import load_pdf
from rag.embedding.ort import FastTokenizer
from rag.embedding.sentence import packaged_model_dir

WINDOWS = (1, 2, 3, 4)
# End of a sentence: . ? or ! (maybe closed by a quote or bracket), space, then a capital,
# digit or opening quote/bracket. Abbreviations like "e.g. the" stay inside the sentence.
_SENTENCE_END = re.compile(r"(?<=[.?!])[\"'\u201d\u2019)\]]*\s+(?=[\"'\u201c\u2018(\[]?[A-Z0-9])")


@dataclass(frozen=True)
class Piece:
    """One small chunk: its stable id, source document, corpus, title and text."""

    id: str
    doc_id: str
    corpus: str
    title: str
    text: str


def sentences(paragraph: str) -> list[str]:
    """The sentences of one paragraph, stripped, empty ones dropped."""
    return [s.strip() for s in _SENTENCE_END.split(paragraph.strip()) if s.strip()]


def windows(doc_id: str, corpus: str, title: str, paragraphs: list[str]) -> Iterator[Piece]:
    """Every 1-4 sentence window of each paragraph, ids `doc:paragraph:start+size`."""
    for p, paragraph in enumerate(paragraphs):
        sents = sentences(paragraph)
        for size in WINDOWS:
            for start in range(len(sents) - size + 1):
                text = " ".join(sents[start : start + size])
                yield Piece(f"{doc_id}:{p}:{start}+{size}", doc_id, corpus, title, text)


def _scifact() -> Iterator[Piece]:
    with require_data("scifact", "corpus.jsonl").open() as fh:
        for line in fh:
            rec = json.loads(line)
            text = rec["text"].strip() or rec["title"]
            yield from windows(f"scifact-{rec['_id']}", "scifact", rec["title"], [text])


def _pubmedqa() -> Iterator[Piece]:
    with require_data("pubmedqa", "qa.jsonl").open() as fh:
        for line in fh:
            rec = json.loads(line)
            paragraphs = [*rec["contexts"], rec["long_answer"]]
            yield from windows(f"pubmedqa-{rec['id']}", "pubmedqa", "", paragraphs)


def _tatqa() -> Iterator[Piece]:
    contexts = json.loads(require_data("tatqa", "tatqa_dataset_dev.json").read_text())
    for ctx in contexts:
        doc_id = f"tatqa-{ctx['table']['uid']}"
        paragraphs = [p["text"] for p in sorted(ctx["paragraphs"], key=lambda p: p["order"])]
        yield from windows(doc_id, "tatqa", "", paragraphs)
        for r, row in enumerate(ctx["table"]["table"]):
            cells = [c.strip() for c in row if c.strip()]
            if cells:
                yield Piece(f"{doc_id}:table:{r}", doc_id, "tatqa", "", " | ".join(cells))


# (max tokens, overlap) of the filings' chunkings: small chunks, as the windows above are.
FILING_CHUNKS = ((48, 12), (96, 24))


def _filings() -> Iterator[Piece]:
    folder = require_data("filings")
    tokenizer = FastTokenizer(packaged_model_dir(), max_tokens=256)
    for path in sorted(folder.glob("*.pdf")):
        (doc,) = load_pdf(path, path.stem, LoadLimits())
        for size, overlap in FILING_CHUNKS:
            for chunk in chunk_document(doc, tokenizer, size, overlap):
                pid = f"filing-{path.stem}:{size}:{chunk.position}"
                yield Piece(pid, path.stem, "filings", chunk.title, chunk.text)


def fine_pieces() -> list[Piece]:
    """All pieces, in a fixed order (corpus, document, paragraph, window size, start)."""
    return [*_scifact(), *_pubmedqa(), *_tatqa(), *_filing_pieces()]


def _filing_pieces() -> list[Piece]:
    """The filings' chunks, parsed once and kept under the bench cache (parsing takes minutes)."""
    folder = require_data("filings")
    stamp = "|".join(f"{p.name}:{p.stat().st_size}" for p in sorted(folder.glob("*.pdf")))
    sizes = ",".join(f"{a}-{b}" for a, b in FILING_CHUNKS)
    key = hashlib.blake2b(f"{stamp}|{sizes}".encode(), digest_size=8).hexdigest()
    cached = cache_dir("fine") / f"filings-{key}.jsonl"
    if not cached.exists():
        tmp = cached.with_suffix(".tmp")
        tmp.write_text("".join(json.dumps(asdict(p)) + "\n" for p in _filings()))
        tmp.replace(cached)
    return [Piece(**json.loads(line)) for line in cached.read_text().splitlines()]


def scifact_queries() -> list[tuple[str, str]]:
    """(id, claim) of every SciFact query: held-out texts, none of them in the pieces."""
    path: Path = require_data("scifact", "queries.jsonl")
    with path.open() as fh:
        return [(str(r["_id"]), r["text"]) for r in map(json.loads, fh) if r["text"].strip()]
