"""The FAISS wrapper of the embedded engine: add, remove, selectors, save/load, IVF-PQ."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rag.embedding.base import Vectors
from rag.errors import StoreError
from rag.stores.local.vectors import Ids, VectorIndex, ivfpq_shape, kind_for
from rag.stores.settings import VectorIndexSettings

DIM = 32


def unit_rows(rng: np.random.Generator, n: int, dim: int = DIM) -> Vectors:
    x = rng.standard_normal((n, dim)).astype(np.float32)
    unit: Vectors = x / np.linalg.norm(x, axis=1, keepdims=True)
    return unit


def clustered(n: int, clusters: int, dim: int = DIM) -> Vectors:
    """Unit vectors around a few centres: the shape of real embeddings, in miniature."""
    rng = np.random.default_rng(7)
    centres = unit_rows(rng, clusters, dim)
    x = centres[rng.integers(0, clusters, n)] + 0.25 * rng.standard_normal((n, dim))
    unit: Vectors = (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)
    return unit


@pytest.fixture
def settings() -> VectorIndexSettings:
    return VectorIndexSettings(ivfpq_min_chunks=1000, hnsw_m=16, ivf_nprobe=32)


@pytest.fixture
def data() -> tuple[Ids, Vectors]:
    vectors = unit_rows(np.random.default_rng(0), 300)
    return np.arange(1000, 1300, dtype=np.int64), vectors


def top1(index: VectorIndex, query: Vectors, allowed: Ids | None = None) -> int:
    _, ids = index.search(query, 1, allowed)
    return int(ids[0])


def test_kind_for_waits_for_enough_vectors_before_ivfpq(settings: VectorIndexSettings) -> None:
    assert kind_for("ivfpq", 999, settings) == "flat"
    assert kind_for("ivfpq", 1000, settings) == "ivfpq"
    assert kind_for("hnsw", 5, settings) == "hnsw"
    assert kind_for("flat", 10**6, settings) == "flat"


@pytest.mark.parametrize(("dim", "m"), [(384, 48), (768, 96), (64, 8), (100, 10), (7, 1)])
def test_ivfpq_shape_uses_a_divisor_of_dim(dim: int, m: int) -> None:
    nlist, sub = ivfpq_shape(10_000, dim)
    assert (nlist, sub) == (400, m)
    assert dim % sub == 0


@pytest.mark.parametrize("kind", ["flat", "hnsw"])
def test_add_search_remove(
    kind: str, settings: VectorIndexSettings, data: tuple[Ids, Vectors]
) -> None:
    ids, vectors = data
    index = VectorIndex.empty(kind, DIM, settings)  # type: ignore[arg-type]
    index.add(ids, vectors)
    assert index.size == 300
    assert np.array_equal(index.ids(), ids)
    scores, found = index.search(vectors[5], 3)
    assert found[0] == 1005
    assert scores[0] == pytest.approx(1.0, abs=1e-5)

    index.remove(np.array([1005, 1006, 999_999], dtype=np.int64))
    assert 1005 not in index.search(vectors[5], 50)[1]
    assert 1005 not in index.ids()
    assert index.size == 298
    assert index.tombstones == (2 if kind == "hnsw" else 0)
    # 999_999 was never there: nothing to remove, not even a tombstone.
    assert index.max_id() == 1299


@pytest.mark.parametrize("kind", ["flat", "hnsw"])
def test_selector_restricts_candidates(
    kind: str, settings: VectorIndexSettings, data: tuple[Ids, Vectors]
) -> None:
    ids, vectors = data
    index = VectorIndex.empty(kind, DIM, settings)  # type: ignore[arg-type]
    index.add(ids, vectors)
    allowed = np.array([1010, 1020, 1030], dtype=np.int64)
    _, found = index.search(vectors[0], 10, allowed)
    assert set(found.tolist()) <= set(allowed.tolist())
    assert top1(index, vectors[20], allowed) == 1020
    assert len(index.search(vectors[0], 10, np.empty(0, dtype=np.int64))[1]) == 0


@pytest.mark.parametrize("kind", ["flat", "hnsw"])
def test_save_and_load_round_trip(
    kind: str, settings: VectorIndexSettings, data: tuple[Ids, Vectors], tmp_path: Path
) -> None:
    ids, vectors = data
    index = VectorIndex.empty(kind, DIM, settings)  # type: ignore[arg-type]
    index.add(ids, vectors)
    path = tmp_path / "vectors.faiss"
    index.save(path)
    assert not (tmp_path / "vectors.faiss.tmp").exists()

    loaded = VectorIndex.load(path, DIM, settings)
    assert loaded.kind == kind
    assert np.array_equal(loaded.ids(), ids)
    for row in (0, 150, 299):
        assert np.array_equal(loaded.search(vectors[row], 5)[1], index.search(vectors[row], 5)[1])


def test_hnsw_tombstones_are_not_saved_as_live(
    settings: VectorIndexSettings, data: tuple[Ids, Vectors], tmp_path: Path
) -> None:
    # A saved HNSW still holds removed vectors; the owner (the store) re-derives tombstones
    # from SQLite on open, so the file is loaded with every id it holds.
    ids, vectors = data
    index = VectorIndex.empty("hnsw", DIM, settings)
    index.add(ids, vectors)
    index.remove(ids[:10])
    index.save(tmp_path / "v.faiss")
    loaded = VectorIndex.load(tmp_path / "v.faiss", DIM, settings)
    assert loaded.size == 300
    loaded.remove(ids[:10])
    assert np.array_equal(loaded.ids(), ids[10:])


@pytest.mark.parametrize(
    "content", [b"", b"not a faiss index at all" * 10, "truncate", "wrong-dim", "no-id-map"]
)
def test_load_refuses_what_it_cannot_use(
    content: bytes | str, settings: VectorIndexSettings, data: tuple[Ids, Vectors], tmp_path: Path
) -> None:
    import faiss

    path = tmp_path / "vectors.faiss"
    if content == "truncate":
        index = VectorIndex.empty("flat", DIM, settings)
        index.add(*data)
        index.save(path)
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    elif content == "wrong-dim":
        VectorIndex.empty("flat", DIM * 2, settings).save(path)
    elif content == "no-id-map":
        faiss.write_index(faiss.IndexFlatIP(DIM), str(path))
    else:
        assert isinstance(content, bytes)
        path.write_bytes(content)
    with pytest.raises(StoreError):
        VectorIndex.load(path, DIM, settings)


def test_ivfpq_trains_searches_removes_and_reloads(
    settings: VectorIndexSettings, tmp_path: Path
) -> None:
    vectors = clustered(1200, clusters=12)
    ids = np.arange(1, 1201, dtype=np.int64)
    assert kind_for("ivfpq", len(ids), settings) == "ivfpq"
    index = VectorIndex.train_ivfpq(vectors, len(ids), DIM, settings)
    index.add(ids, vectors)
    assert index.kind == "ivfpq"

    queries = range(0, 1200, 40)
    recall = np.mean([row + 1 in index.search(vectors[row], 10)[1] for row in queries])
    assert recall >= 0.9  # PQ codes are approximate; the store re-ranks on exact vectors

    allowed = np.array([3, 500, 900], dtype=np.int64)
    assert set(index.search(vectors[0], 10, allowed)[1].tolist()) <= {3, 500, 900}

    index.remove(np.array([1, 2], dtype=np.int64))
    assert 1 not in index.search(vectors[0], 20)[1]
    assert index.size == 1198 and index.tombstones == 0
    assert np.array_equal(index.ids(), ids[2:])
    # Ids still name the right vectors after a removal (an id map over IVF would shift them).
    after = np.mean([row + 1 in index.search(vectors[row], 10)[1] for row in queries[1:]])
    assert after >= 0.9

    index.save(tmp_path / "v.faiss")
    loaded = VectorIndex.load(tmp_path / "v.faiss", DIM, settings)
    assert loaded.kind == "ivfpq"
    assert np.array_equal(loaded.ids(), ids[2:])
    assert np.array_equal(loaded.search(vectors[600], 5)[1], index.search(vectors[600], 5)[1])


def test_empty_index_searches_to_nothing(settings: VectorIndexSettings) -> None:
    index = VectorIndex.empty("hnsw", DIM, settings)
    scores, ids = index.search(np.ones(DIM, dtype=np.float32), 5)
    assert len(scores) == len(ids) == 0
    assert index.max_id() == 0


def test_a_search_runs_on_one_openmp_thread_and_leaves_the_setting_as_it_was(
    settings: VectorIndexSettings, data: tuple[Ids, Vectors], monkeypatch: pytest.MonkeyPatch
) -> None:
    import faiss

    index = VectorIndex.empty("flat", DIM, settings)
    ids, vectors = data
    index.add(ids, vectors)
    seen: list[int] = []
    search = faiss.IndexIDMap2.search

    def recording(self: faiss.Index, *args: object, **kwargs: object) -> object:
        seen.append(faiss.omp_get_max_threads())
        return search(self, *args, **kwargs)

    monkeypatch.setattr(faiss.IndexIDMap2, "search", recording)
    original = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(2)
    try:
        assert top1(index, vectors[5]) == 1005
        assert seen == [1]  # one query: OpenMP helpers would only wait (vectors.py)
        assert faiss.omp_get_max_threads() == 2  # builds on this thread keep their threads
    finally:
        faiss.omp_set_num_threads(original)
