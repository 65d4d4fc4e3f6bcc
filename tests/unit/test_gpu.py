"""RAG_DEVICE: the GPU path of the embedder and of the local engine's FAISS indexes.

Tests that need a CUDA GPU skip elsewhere, saying why; the refusals run everywhere else.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rag.embedding import Embedder, load_embedder
from rag.embedding.device import cuda_available
from rag.embedding.fake import HashingEmbedder
from rag.errors import ConfigError
from rag.stores.base import DocumentWrite
from rag.stores.local import LocalStore
from rag.stores.local.gpu import gpu_count, use_gpu
from rag.stores.local.vectors import VectorIndex
from rag.stores.settings import VectorIndexSettings
from rag.types import Chunk, StoredDocument

FAISS_GPU = gpu_count() > 0
needs_faiss_gpu = pytest.mark.skipif(
    not FAISS_GPU, reason="needs faiss-gpu (the gpu extra) and a CUDA GPU: faiss sees none here"
)
no_gpu_only = pytest.mark.skipif(FAISS_GPU, reason="checks the refusal on machines without GPU")

DIM = 64
hashing = HashingEmbedder(dim=DIM)


def _random(n: int, dim: int = DIM, seed: int = 0) -> np.ndarray:
    vectors = np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


@no_gpu_only
def test_cuda_without_a_gpu_is_refused_with_the_reason() -> None:
    assert use_gpu("auto") is False
    assert use_gpu("cpu") is False
    with pytest.raises(ConfigError, match="RAG_DEVICE=cuda but FAISS sees no CUDA GPU"):
        use_gpu("cuda")
    with pytest.raises(ConfigError, match="RAG_DEVICE=cuda"):
        VectorIndex.empty("flat", DIM, VectorIndexSettings(device="cuda"))


@pytest.mark.skipif(cuda_available("onnx"), reason="checks the refusal without onnxruntime-gpu")
def test_onnx_embedder_on_cuda_without_a_gpu_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="RAG_DEVICE=cuda but the onnx runtime sees no CUDA"):
        load_embedder(runtime="onnx", cache_dir=tmp_path, device="cuda")


def test_hnsw_stays_on_the_cpu_under_auto() -> None:
    # faiss-gpu has no HNSW: on any machine, an HNSW index searches on the CPU.
    index = VectorIndex.empty("hnsw", DIM, VectorIndexSettings(device="auto"))
    index.add(np.arange(1, 11, dtype=np.int64), _random(10))
    _, ids = index.search(_random(1, seed=1)[0], 3)
    assert len(ids) == 3
    assert index._on_gpu is False


@needs_faiss_gpu
def test_flat_on_the_gpu_returns_the_cpu_results() -> None:
    vectors, queries = _random(5000), _random(50, seed=7)
    ids = np.arange(100, 5100, dtype=np.int64)
    cpu = VectorIndex.empty("flat", DIM, VectorIndexSettings(device="cpu"))
    gpu = VectorIndex.empty("flat", DIM, VectorIndexSettings(device="cuda"))
    for index in (cpu, gpu):
        index.add(ids, vectors)
        index.remove(ids[:10])  # a change after the first copy must reach the replica
    for q in queries:
        assert list(gpu.search(q, 10)[1]) == list(cpu.search(q, 10)[1])


@needs_faiss_gpu
def test_ivfpq_on_the_gpu_agrees_with_the_cpu() -> None:
    vectors, queries = _random(20_000), _random(100, seed=7)
    ids = np.arange(1, 20_001, dtype=np.int64)
    results = {}
    for device in ("cpu", "cuda"):
        settings = VectorIndexSettings(device="cpu" if device == "cpu" else "cuda")
        index = VectorIndex.train_ivfpq(vectors[:10_000], len(vectors), DIM, settings)
        index.add(ids, vectors)
        results[device] = [set(index.search(q, 10)[1]) for q in queries]
    overlap = np.mean(
        [len(a & b) / 10 for a, b in zip(results["cpu"], results["cuda"], strict=True)]
    )
    assert overlap >= 0.99


@needs_faiss_gpu
def test_a_store_on_the_gpu_finds_what_it_just_wrote(tmp_path: Path) -> None:
    def doc(name: str, text: str) -> DocumentWrite:
        chunk = Chunk(id=f"{name}#0", doc_id=name, text=text, position=0)
        return DocumentWrite(StoredDocument(name, "h"), [chunk], hashing.embed([text]))

    settings = VectorIndexSettings(device="cuda")
    with LocalStore(tmp_path, DIM, "flat", settings) as store:
        store.write([doc("a", "granite quarry rock")])
        assert store.search_dense(hashing.embed(["copper wire"])[0], 1)[0].chunk.doc_id == "a"
        store.write([doc("b", "copper wire conducts")])
        assert store.search_dense(hashing.embed(["copper wire"])[0], 1)[0].chunk.doc_id == "b"


@pytest.mark.skipif(not cuda_available("torch"), reason="needs a CUDA build of torch and a GPU")
def test_torch_embedder_on_cuda_matches_cpu(minilm: Embedder) -> None:
    texts = ["what causes inflammation?", "word " * 400, "Größe naïve 東京"]
    gpu = load_embedder(device="cuda")
    cosines = np.sum(gpu.embed(texts) * minilm.embed(texts), axis=1)
    assert cosines.min() >= 0.9999


def test_the_flat_replica_logic_with_a_cpu_stand_in(monkeypatch: pytest.MonkeyPatch) -> None:
    # A narrow check of what runs around the GPU calls (ids mapped from positions, the copy
    # refreshed after every change) on machines without one: faiss' GPU classes are replaced
    # by CPU ones with the same interface. The real GPU runs in the tests above.
    import faiss

    from rag.stores.local import gpu as gpu_module

    # The process-wide GPU resources go back to what they were (real ones on a GPU machine).
    monkeypatch.setattr(gpu_module, "_resources", None)
    copies: list[int] = []

    def flat_ip(res: object, dim: int) -> faiss.Index:
        copies.append(dim)
        return faiss.IndexFlatIP(dim)

    monkeypatch.setattr(faiss, "StandardGpuResources", object, raising=False)
    monkeypatch.setattr(faiss, "get_num_gpus", lambda: 1)
    monkeypatch.setattr(faiss, "GpuIndexFlatIP", flat_ip, raising=False)
    vectors, queries = _random(500), _random(20, seed=3)
    ids = np.arange(1000, 1500, dtype=np.int64)
    cpu = VectorIndex.empty("flat", DIM, VectorIndexSettings(device="cpu"))
    gpu = VectorIndex.empty("flat", DIM, VectorIndexSettings(device="cuda"))
    assert gpu._on_gpu and not cpu._on_gpu
    for index in (cpu, gpu):
        index.add(ids, vectors)
    assert [list(gpu.search(q, 5)[1]) for q in queries] == [
        list(cpu.search(q, 5)[1]) for q in queries
    ]
    for index in (cpu, gpu):
        index.remove(ids[::2])
    for q in queries:
        found = gpu.search(q, 5)[1]
        assert list(found) == list(cpu.search(q, 5)[1])
        assert not set(found) & set(ids[::2].tolist())
    # Filtered searches stay on the CPU index: no GPU index takes an id selector.
    allowed = ids[1::2][:10]
    assert set(gpu.search(queries[0], 5, allowed)[1]) <= set(allowed.tolist())
    assert len(copies) == 2  # one copy per change that a search followed
