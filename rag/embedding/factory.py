"""Builds the configured embedder; one loaded model per process and name."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from rag.embedding.base import Embedder
from rag.embedding.remote import RemoteEmbedder, probe_dim, remote_client
from rag.embedding.sentence import (
    PACKAGED_EMBEDDER,
    HFTokenizer,
    SentenceTransformerEmbedder,
    packaged_model_dir,
)
from rag.errors import ConfigError


def _model_folder(spec: str) -> tuple[Path, str]:
    """The model folder a spec names, and the embedder's name."""
    if spec == PACKAGED_EMBEDDER:
        return packaged_model_dir(), "all-MiniLM-L6-v2"
    path = Path(spec).expanduser()
    return path, path.name


@lru_cache(maxsize=4)
def load_embedder(spec: str = PACKAGED_EMBEDDER, batch_size: int = 64) -> Embedder:
    """`packaged:all-MiniLM-L6-v2` or a path to a sentence-transformers folder."""
    folder, name = _model_folder(spec)
    return SentenceTransformerEmbedder(folder, name, batch_size)


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
