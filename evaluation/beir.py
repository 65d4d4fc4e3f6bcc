"""Reading BEIR-format evaluation folders: corpus.jsonl, queries.jsonl, qrels/<split>.tsv."""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

from rag.errors import InvalidInputError


@dataclass(frozen=True)
class BeirDataset:
    name: str
    corpus: Path
    queries: dict[str, str]  # only the queries judged in the split
    qrels: dict[str, dict[str, int]]  # query id -> doc id -> grade


def load_beir(folder: Path, split: str = "test") -> BeirDataset:
    """Read a BEIR folder; the corpus stays on disk for the ingest to stream."""
    corpus, queries_file = folder / "corpus.jsonl", folder / "queries.jsonl"
    qrels_file = folder / "qrels" / f"{split}.tsv"
    for f in (corpus, queries_file, qrels_file):
        if not f.exists():
            raise InvalidInputError(f"not a BEIR dataset folder: {f} is missing")
    qrels: dict[str, dict[str, int]] = {}
    with open(qrels_file, newline="") as fh:
        for row in csv.DictReader(fh, delimiter="\t"):
            qrels.setdefault(row["query-id"], {})[row["corpus-id"]] = int(row["score"])
    queries: dict[str, str] = {}
    with open(queries_file) as fh:
        for line in fh:
            if line.strip():
                q = json.loads(line)
                if str(q["_id"]) in qrels:
                    queries[str(q["_id"])] = q["text"]
    missing = set(qrels) - set(queries)
    if missing:
        raise InvalidInputError(f"{len(missing)} judged queries have no text in {queries_file}")
    return BeirDataset(folder.resolve().name, corpus, queries, qrels)
