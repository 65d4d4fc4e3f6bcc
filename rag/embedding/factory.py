"""Builds the configured embedder; one loaded model per process, name, runtime and device."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from rag.embedding.base import Embedder
from rag.embedding.device import onnx_providers, resolve_device
from rag.embedding.sentence import (
    PACKAGED_EMBEDDER,
    SentenceTransformerEmbedder,
    packaged_model_dir,
)
from rag.embedding.variants import Device, EmbedRuntime
from rag.errors import ConfigError


@lru_cache(maxsize=4)
def load_embedder(
    spec: str = PACKAGED_EMBEDDER,
    batch_size: int = 64,
    runtime: EmbedRuntime = "torch",
    cache_dir: Path | None = None,
    device: Device = "cpu",
) -> Embedder:
    """`packaged:all-MiniLM-L6-v2` or a path to a sentence-transformers folder, on `runtime`.

    The ONNX runtimes export the model into `cache_dir` on first use.
    """
    if spec == PACKAGED_EMBEDDER:
        model_dir, name = packaged_model_dir(), "all-MiniLM-L6-v2"
    else:
        model_dir = Path(spec).expanduser()
        name = model_dir.name
    resolved = resolve_device(device, runtime)
    if runtime == "torch":
        return SentenceTransformerEmbedder(model_dir, name, batch_size, resolved)
    if cache_dir is None:
        raise ConfigError(f"the {runtime} embedding runtime needs a cache folder for its export")
    # Imported here: the torch runtime never needs ONNX Runtime, nor the ONNX one torch.
    from rag.embedding.onnx_export import onnx_model
    from rag.embedding.ort import OnnxEmbedder

    onnx_file = onnx_model(model_dir, cache_dir, quantized=runtime == "onnx-int8")
    return OnnxEmbedder(model_dir, onnx_file, name, batch_size, onnx_providers(resolved))
