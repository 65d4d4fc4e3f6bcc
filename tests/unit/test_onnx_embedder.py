"""The ONNX Runtime embedder against the PyTorch one: same vectors, same tokens, recorded per KB."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from rag.config import Settings
from rag.embedding import Embedder, load_embedder
from rag.embedding.onnx_export import onnx_model
from rag.embedding.sentence import packaged_model_dir
from rag.errors import ConfigError
from rag.workspace import Workspace


@pytest.fixture(scope="session")
def onnx_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    configured = os.environ.get("RAG_EMBED_CACHE_DIR")
    return Path(configured) if configured else tmp_path_factory.mktemp("onnx")


@pytest.fixture(scope="session")
def onnx_fp32(onnx_cache: Path) -> Embedder:
    return load_embedder(runtime="onnx", cache_dir=onnx_cache, device="cpu")


@pytest.fixture(scope="session")
def onnx_int8(onnx_cache: Path) -> Embedder:
    return load_embedder(runtime="onnx-int8", cache_dir=onnx_cache, device="cpu")


REPO = Path(__file__).resolve().parents[2]


def _abstracts(n: int) -> list[str]:
    """Real prose of every length: the paragraphs of this repository's docs."""
    paragraphs = [
        p.strip()
        for doc in sorted((REPO / "docs").glob("*.md"))
        for p in doc.read_text().split("\n\n")
        if len(p.strip()) > 40
    ]
    assert len(paragraphs) >= n
    return paragraphs[:n]


# Batches of one, of odd sizes, texts longer than the model's 256 tokens (truncated), the empty
# text, non-ASCII: the exported graph has dynamic batch and sequence axes and must hold on all.
BATCHES = {
    "one short": ["what causes inflammation?"],
    "one empty": [""],
    "one over the limit": ["word " * 700],
    "mixed unicode": ["Größe of ß-cells", "naïve café 東京 résumé", "\u03b1-synuclein", "a"],
}


@pytest.mark.parametrize("name", sorted(BATCHES))
def test_onnx_float32_matches_torch_on_varied_batches(
    name: str, minilm: Embedder, onnx_fp32: Embedder
) -> None:
    texts = BATCHES[name]
    cosines = np.sum(minilm.embed(texts) * onnx_fp32.embed(texts), axis=1)
    assert cosines.min() >= 0.99999, cosines


def test_onnx_float32_matches_torch_on_a_long_mixed_batch(
    minilm: Embedder, onnx_fp32: Embedder
) -> None:
    # 67 abstracts and queries: more than one batch of 64, lengths from a word to past 256 tokens.
    texts = _abstracts(60) + [t for batch in BATCHES.values() for t in batch]
    ours, ref = onnx_fp32.embed(texts), minilm.embed(texts)
    assert ours.shape == ref.shape == (len(texts), 384)
    assert ours.dtype == np.float32
    assert np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)
    assert np.sum(ours * ref, axis=1).min() >= 0.99999


def test_int8_is_close_but_measurably_different(minilm: Embedder, onnx_int8: Embedder) -> None:
    texts = _abstracts(40)
    cosines = np.sum(minilm.embed(texts) * onnx_int8.embed(texts), axis=1)
    assert cosines.min() >= 0.97, cosines.min()
    # Why an int8 KB is a vector space of its own (rag/embedding/variants.py).
    assert cosines.min() < 0.9999, cosines.min()


def test_token_spans_equal_the_transformers_tokenizer(
    minilm: Embedder, onnx_fp32: Embedder
) -> None:
    texts = [*_abstracts(5), "Größe naïve 東京 résumé", "  spaced\tout\n", ""]
    for text in texts:
        assert onnx_fp32.tokenizer.token_spans(text) == minilm.tokenizer.token_spans(text)
    assert onnx_fp32.tokenizer.special_tokens == minilm.tokenizer.special_tokens == 2
    assert onnx_fp32.tokenizer.max_tokens == minilm.tokenizer.max_tokens == 256


def test_export_is_cached_and_reused(onnx_cache: Path, onnx_fp32: Embedder) -> None:
    first = onnx_model(packaged_model_dir(), onnx_cache, quantized=False)
    stamp = first.stat().st_mtime_ns
    assert onnx_model(packaged_model_dir(), onnx_cache, quantized=False) == first
    assert first.stat().st_mtime_ns == stamp


def test_a_model_without_mean_pooling_is_refused(tmp_path: Path) -> None:
    model = tmp_path / "cls-model"
    (model / "1_Pooling").mkdir(parents=True)
    (model / "modules.json").write_text(json.dumps([{"type": "x.Transformer"}]))
    (model / "1_Pooling" / "config.json").write_text("{}")
    with pytest.raises(ConfigError, match="mean pooling"):
        onnx_model(model, tmp_path / "cache", quantized=False)


def test_a_kb_records_its_runtime_and_refuses_another_space(
    settings: Settings, minilm: Embedder, onnx_int8: Embedder, onnx_fp32: Embedder
) -> None:
    torch_ws = Workspace(settings)
    assert torch_ws.create("t").embed_runtime == "torch"
    int8_ws = Workspace(settings.model_copy(update={"embed_runtime": "onnx-int8"}))
    assert int8_ws.create("q").embed_runtime == "onnx-int8"
    fp32_ws = Workspace(settings.model_copy(update={"embed_runtime": "onnx"}))
    # float32 ONNX and torch share a vector space: each opens the other's KB.
    fp32_ws.open("t").close()
    with pytest.raises(ConfigError, match="RAG_EMBED_RUNTIME=onnx-int8"):
        torch_ws.open("q")
    with pytest.raises(ConfigError, match="RAG_EMBED_RUNTIME=torch"):
        int8_ws.open("t")
    int8_ws.open("q").close()


def test_a_kb_from_before_runtimes_were_recorded_is_torch(settings: Settings) -> None:
    folder = settings.kb_root / "old"
    folder.mkdir(parents=True)
    (folder / "kb.json").write_text(
        json.dumps({"name": "old", "embedder": settings.embedder, "dim": 384})
    )
    assert Workspace(settings).registry.get("old").embed_runtime == "torch"


def test_an_int8_kb_of_the_first_export_is_refused_with_a_rebuild_hint(
    settings: Settings, onnx_int8: Embedder
) -> None:
    # int8 vectors of the first (dynamo) export differ from today's by cosine down to 0.997.
    folder = settings.kb_root / "early"
    folder.mkdir(parents=True)
    (folder / "kb.json").write_text(
        json.dumps(
            {
                "name": "early",
                "embedder": settings.embedder,
                "dim": 384,
                "embed_runtime": "onnx-int8",
            }
        )
    )
    int8_ws = Workspace(settings.model_copy(update={"embed_runtime": "onnx-int8"}))
    assert int8_ws.registry.get("early").space == "int8"
    with pytest.raises(ConfigError, match=r"earlier export .* rebuild the KB"):
        int8_ws.open("early")
    assert int8_ws.create("today").vector_space == "int8-x2"
    int8_ws.open("today").close()
