"""Keeping the derived FAISS index equal to SQLite: reconcile after a crash, rebuild from rows.

SQLite commits first and FAISS follows, and the FAISS file is only saved now and then, so after
a crash the file can hold ids SQLite no longer has (deleted or replaced since the save) and miss
ids SQLite committed after it. Chunk ids are never reused, so comparing the two id sets is
enough to repair the index; no log of operations is needed.
"""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

import numpy as np

from rag.errors import StoreError
from rag.stores.local import sqlite as rows
from rag.stores.local.schema import get_meta, transaction
from rag.stores.local.vectors import VectorIndex, ivfpq_train_size, kind_for
from rag.stores.settings import VectorIndexSettings
from rag.types import IndexKind

log = logging.getLogger(__name__)

# Vectors fetched from SQLite per round trip while repairing or rebuilding.
BATCH = 20_000
# HNSW keeps removed vectors as tombstones; past this share, searches get slower and less
# accurate than a rebuild costs.
TOMBSTONE_LIMIT = 0.2


def open_index(
    conn: sqlite3.Connection,
    path: Path,
    requested: IndexKind,
    dim: int,
    settings: VectorIndexSettings,
) -> tuple[VectorIndex, bool]:
    """Load the saved index and repair it, or rebuild it; returns it and whether it changed."""
    # A temp file is a save that never reached its rename: the saved file is still whole.
    path.with_name(path.name + ".tmp").unlink(missing_ok=True)
    index: VectorIndex | None = None
    if path.exists():
        try:
            index = VectorIndex.load(path, dim, settings)
        except StoreError as exc:
            log.warning("rebuilding the vector index from SQLite: %s", exc)
    elif get_meta(conn, "vectors_saved") is not None:
        log.warning("%s is missing; rebuilding it from SQLite", path)
    # A Flat index of an IVF-PQ KB is fine: `rebuild_due` upgrades it once there is enough data.
    usable = {requested, "flat"} if requested == "ivfpq" else {requested}
    if index is None or index.kind not in usable:
        index, changed = rebuild(conn, requested, dim, settings), True
    else:
        changed = reconcile(conn, index)
    # Ids in a saved file that SQLite lost (power loss before a commit reached the disk) must
    # never be handed out again: HNSW may still hold them as tombstones.
    if index.max_id() > rows.max_chunk_id(conn):
        with transaction(conn):
            rows.reserve_chunk_ids(conn, index.max_id())
    return index, changed


def rebuild_due(index: VectorIndex, requested: IndexKind, settings: VectorIndexSettings) -> bool:
    """Whether the index should be rebuilt: too many tombstones, or big enough for IVF-PQ."""
    dead = index.tombstones > TOMBSTONE_LIMIT * (index.size + index.tombstones)
    grow = index.kind == "flat" and kind_for(requested, index.size, settings) == "ivfpq"
    return dead or grow


def reconcile(conn: sqlite3.Connection, index: VectorIndex) -> bool:
    """Make the index hold exactly the chunk ids SQLite holds; True if anything changed."""
    stored = rows.all_chunk_ids(conn)
    present = index.ids()
    stale = np.setdiff1d(present, stored, assume_unique=True)
    missing = np.setdiff1d(stored, present, assume_unique=True)
    if len(stale) or len(missing):
        log.info("vector index: removing %d stale and adding %d missing", len(stale), len(missing))
    index.remove(stale)
    for start in range(0, len(missing), BATCH):
        ids, vectors = rows.vectors_of(conn, missing[start : start + BATCH], index.dim)
        index.add(ids, vectors)
    return bool(len(stale) or len(missing))


def rebuild(
    conn: sqlite3.Connection, requested: IndexKind, dim: int, settings: VectorIndexSettings
) -> VectorIndex:
    """A fresh index of every stored vector, of the kind that suits how many there are."""
    ids = rows.all_chunk_ids(conn)
    kind = kind_for(requested, len(ids), settings)
    log.info("vector index: building %s over %d vectors", kind, len(ids))
    if kind == "ivfpq":
        # A uniform sample: chunk ids follow ingest order, which is often grouped by source.
        rng = np.random.default_rng(0)
        sample = np.sort(rng.choice(ids, size=ivfpq_train_size(len(ids)), replace=False))
        _, training = rows.vectors_of(conn, sample, dim)
        index = VectorIndex.train_ivfpq(training, len(ids), dim, settings)
    else:
        index = VectorIndex.empty(kind, dim, settings)
    for batch_ids, vectors in rows.iter_vectors(conn, dim, BATCH):
        index.add(batch_ids, vectors)
    return index
