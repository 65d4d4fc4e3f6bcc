"""Embeds the fine-grained corpus (bench.fine_corpus) once and caches the vectors as .npy.

Run `python -m bench.embed_cache` under nohup: on 2 CPU cores, partly shared with other jobs, it
took 38 minutes (ONNX Runtime int8), hours on a busy machine (the time it took is printed and
kept in meta.json). It embeds `embedding_text(title, text)` of every piece with the project's
packaged MiniLM embedder, in shards of 4,096 pieces saved as they finish, so a killed run
resumes where it stopped. The reported time is the sum of the shard encode times (pure
embedding, resumes included). Everything lives under `<cache>/fine/<fingerprint>/`, the
fingerprint being a hash of the piece ids and texts, so a change to the corpus or windows never
reuses stale vectors. The SciFact claims (the queries) are embedded first. Until every shard is
done, benchmarks can run with `--partial` on the leading pieces embedded so far (whole SciFact
abstracts come first).
A file named PAUSE in that folder holds the job between shards, so other benchmarks can time
on an otherwise idle CPU without the pause counting as embedding time.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from bench.fine_corpus import Piece, fine_pieces, scifact_queries
from bench.machine import machine_info
from bench.paths import cache_dir
from rag.embedding import Embedder, load_embedder
from rag.embedding.base import embedding_text
from rag.embedding.variants import EmbedRuntime

SHARD = 4096
# int8 ONNX embeds 1.8-2.1x as fast as float32 (bench.embed_variants: 69.9 against 37.9
# abstracts/s, 743 against 347 claims/s). The benchmarks on this cache compare indexes with exact
# search over the same vectors, so what they need is a real embedding distribution, which int8
# keeps (cosine >= 0.97 against float32, mean 0.995); the runtime is part of the cache folder's
# name.
RUNTIME: EmbedRuntime = "onnx-int8"
F32 = npt.NDArray[np.float32]


@dataclass
class FineSet:
    """The cached corpus: pieces with their vectors, and held-out queries with theirs."""

    pieces: list[Piece]
    vectors: F32
    query_ids: list[str]
    queries: list[str]
    query_vectors: F32
    meta: dict[str, object]


def fingerprint(pieces: list[Piece]) -> str:
    """A short hash of every piece's id, title and text, in order."""
    h = hashlib.blake2b(digest_size=8)
    for p in pieces:
        h.update(f"{p.id}\x1f{p.title}\x1f{p.text}\x1e".encode())
    return h.hexdigest()


def _folder(pieces: list[Piece]) -> Path:
    return cache_dir("fine", f"{fingerprint(pieces)}-{RUNTIME}")


def load_fine(partial: bool = False) -> FineSet:
    """The cached fine corpus; with `partial`, the leading pieces whose shards are done."""
    pieces = fine_pieces()
    folder = _folder(pieces)
    if (folder / "meta.json").exists():
        vectors = np.load(folder / "vectors.npy")
        meta = json.loads((folder / "meta.json").read_text())
    elif partial:
        vectors, seconds = _done_shards(folder)
        if not len(vectors):
            sys.exit(f"no embedded shard in {folder} yet: start `python -m bench.embed_cache`")
        meta = {"pieces": len(vectors), "partial_of": len(pieces), "embed_seconds": seconds}
    else:
        sys.exit(
            f"no cached embeddings in {folder}: run `.venv/bin/python -m bench.embed_cache` "
            "first (hours on 2 busy CPU cores), or pass --partial to use the shards done so far"
        )
    query_ids, queries, query_vectors = _queries(folder)
    return FineSet(pieces[: len(vectors)], vectors, query_ids, queries, query_vectors, meta)


def _done_shards(folder: Path) -> tuple[F32, float]:
    """Vectors of the leading completed shards, and their summed encode seconds."""
    parts, seconds, n = [], 0.0, 0
    while (folder / "shards" / f"{n:05d}.json").exists():
        parts.append(np.load(folder / "shards" / f"{n:05d}.npy"))
        seconds += json.loads((folder / "shards" / f"{n:05d}.json").read_text())["seconds"]
        n += 1
    if not parts:
        return np.empty((0, 0), dtype=np.float32), 0.0
    return np.concatenate(parts), seconds


def _queries(folder: Path, batch_size: int = 64) -> tuple[list[str], list[str], F32]:
    """(ids, texts, vectors) of the SciFact queries, embedded and cached on first use."""
    if not (folder / "query_vectors.npy").exists():
        queries = scifact_queries()
        embedder = _embedder(batch_size)
        t0 = time.perf_counter()
        vectors = embedder.embed([text for _, text in queries])
        record = {"queries": len(queries), "seconds": round(time.perf_counter() - t0, 2)}
        lines = (json.dumps({"id": i, "text": t}) for i, t in queries)
        (folder / "queries.jsonl").write_text("\n".join(lines) + "\n")
        (folder / "queries.json").write_text(json.dumps(record))
        np.save(folder / "query_vectors.npy", vectors)  # last: its presence means complete
    qs = [json.loads(line) for line in (folder / "queries.jsonl").read_text().splitlines()]
    return [q["id"] for q in qs], [q["text"] for q in qs], np.load(folder / "query_vectors.npy")


def _embedder(batch_size: int) -> Embedder:
    return load_embedder(batch_size=batch_size, runtime=RUNTIME, cache_dir=cache_dir("onnx"))


def _wait_while_paused(folder: Path) -> None:
    """Hold between shards while `<folder>/PAUSE` exists (timing runs want the CPU alone)."""
    if (folder / "PAUSE").exists():
        print(f"paused: {folder / 'PAUSE'} exists", flush=True)
        while (folder / "PAUSE").exists():
            time.sleep(5)
        print("resumed", flush=True)


def build(batch_size: int) -> Path:
    """Embed the queries, then every piece not embedded yet; returns the cache folder."""
    pieces = fine_pieces()
    folder = _folder(pieces)
    if (folder / "meta.json").exists():
        return folder
    _queries(folder, batch_size)
    shards = folder / "shards"
    shards.mkdir(exist_ok=True)
    embedder = _embedder(batch_size)
    for n, start in enumerate(range(0, len(pieces), SHARD)):
        if (shards / f"{n:05d}.json").exists():  # written after its vectors: complete
            continue
        _wait_while_paused(folder)
        part = pieces[start : start + SHARD]
        t0 = time.perf_counter()
        vectors = embedder.embed([embedding_text(p.title, p.text) for p in part])
        took = time.perf_counter() - t0
        np.save(shards / f"{n:05d}.npy", vectors)
        (shards / f"{n:05d}.json").write_text(json.dumps({"seconds": took, "count": len(part)}))
        end = start + len(part)
        eta = (len(pieces) - end) * took / len(part)
        print(f"{end:,}/{len(pieces):,} pieces, {len(part) / took:.0f}/s, eta {eta / 60:.0f} min")
        sys.stdout.flush()
    vectors, seconds = _done_shards(folder)
    np.save(folder / "vectors.npy", vectors)
    meta = {
        "pieces": len(pieces),
        "documents": len({p.doc_id for p in pieces}),
        "embedder": embedder.name,
        "runtime": RUNTIME,
        "dim": embedder.dim,
        "batch_size": batch_size,
        "embed_seconds": round(seconds, 1),
        "pieces_per_second": round(len(pieces) / seconds, 1),
        "queries": json.loads((folder / "queries.json").read_text()),
        "machine": machine_info(),
    }
    (folder / "meta.json").write_text(json.dumps(meta, indent=2))  # last: marks the cache done
    return folder


def main() -> None:
    """Build the cache (or report it is there) and print what it holds."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=64, help="encode batch size")
    args = parser.parse_args()
    folder = build(args.batch_size)
    print(f"cache: {folder}")
    print(json.dumps(json.loads((folder / "meta.json").read_text()), indent=2))


if __name__ == "__main__":
    main()
