"""Builds the configured embedder; one loaded model per process, name, runtime and device."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from rag.embedding.base import Embedder
from rag.embedding.device import onnx_providers, resolve_device
from rag.embedding.remote import RemoteEmbedder, probe_dim, remote_client
from rag.embedding.sentence import (
    PACKAGED_EMBEDDER,
    HFTokenizer,
    SentenceTransformerEmbedder,
    packaged_model_dir,
)
from rag.embedding.variants import Device, EmbedRuntime
from rag.errors import ConfigError


def _model_folder(spec: str) -> tuple[Path, str]:
    """The model folder a spec names, and the embedder's name."""
    if spec == PACKAGED_EMBEDDER:
        return packaged_model_dir(), "all-MiniLM-L6-v2"
    path = Path(spec).expanduser()
    return path, path.name


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
    model_dir, name = _model_folder(spec)
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


def load_remote_embedder(
    spec: str, url: str, model: str | None = None, api_key: str | None = None, batch_size: int = 64
) -> Embedder:
    """The embedder `spec` names, computed by the `/v1/embeddings` server at `url`.

    Only the model's tokenizer is loaded here (from the same folder the in-process embedder
    would use); `model` is the name the server knows it by (default: `spec`, which is what
    another `rag serve` answers to).
    """
    folder, name = _model_folder(spec)
    config = folder / "sentence_bert_config.json"
    if not config.is_file():
        raise ConfigError(f"not a sentence-transformers model folder: {folder}")
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
    max_tokens = int(json.loads(config.read_text())["max_seq_length"])
    client = remote_client(url, api_key)
    served = model or spec
    return RemoteEmbedder(
        client, served, name, probe_dim(client, served), HFTokenizer(tokenizer, max_tokens),
        batch_size,
    )  # fmt: skip
