"""An embedder on ONNX Runtime: the Hugging Face `tokenizers` library plus an exported graph.

Neither PyTorch nor transformers is imported here, so a CLI call that only searches starts in
a fraction of the time (docs/benchmarks.md, quick CLI). The graph comes from
`rag.embedding.onnx_export` and already pools and normalises.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from rag.embedding.base import Tokenizer, Vectors
from rag.embedding.onnx_export import INPUTS, OUTPUT
from rag.errors import ConfigError


class FastTokenizer:
    """Token character spans from `tokenizer.json`, as the transformers fast tokenizer gives."""

    def __init__(self, model_dir: Path, max_tokens: int) -> None:
        from tokenizers import Tokenizer as HFTokenizer

        self._tok = HFTokenizer.from_file(str(model_dir / "tokenizer.json"))
        # tokenizer.json may carry fixed padding and truncation; spans need neither.
        self._tok.no_truncation()
        self._tok.no_padding()
        self._lock = threading.Lock()  # a Rust tokenizer refuses concurrent borrows
        self.max_tokens = max_tokens
        self.special_tokens = len(self._tok.encode("").ids)

    def token_spans(self, text: str) -> list[tuple[int, int]]:
        with self._lock:
            enc = self._tok.encode(text, add_special_tokens=False)
        return [(int(a), int(b)) for a, b in enc.offsets]


class OnnxEmbedder:
    """Batched, normalised encoding with ONNX Runtime; batches are formed by text length."""

    def __init__(
        self,
        model_dir: Path,
        onnx_file: Path,
        name: str,
        batch_size: int = 64,
        providers: Sequence[str] = ("CPUExecutionProvider",),
    ) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer as HFTokenizer

        try:
            max_len = int(
                json.loads((model_dir / "sentence_bert_config.json").read_text())["max_seq_length"]
            )
        except (OSError, ValueError, KeyError) as exc:
            msg = f"{model_dir} does not declare a maximum sequence length: {exc}"
            raise ConfigError(msg) from exc
        self.name = name
        self.batch_size = batch_size
        self.onnx_file = onnx_file
        options = ort.SessionOptions()
        # Idle pool threads otherwise spin for work; on a machine whose cores other processes
        # share, spinning took CPU from the threads doing it (0.66x -> 0.86x torch, one run).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._session = ort.InferenceSession(str(onnx_file), options, providers=list(providers))
        self.providers: list[str] = self._session.get_providers()
        self.dim = int(self._session.get_outputs()[0].shape[-1])
        self._batcher = HFTokenizer.from_file(str(model_dir / "tokenizer.json"))
        self._batcher.enable_truncation(max_len)
        self._batcher.enable_padding(pad_id=0, pad_token="[PAD]")  # to the longest in a batch
        self._batch_lock = threading.Lock()
        self.tokenizer: Tokenizer = FastTokenizer(model_dir, max_len)

    def embed(self, texts: Sequence[str]) -> Vectors:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        # Longest first, as sentence-transformers does: similar lengths pad less.
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        for start in range(0, len(order), self.batch_size):
            rows = order[start : start + self.batch_size]
            out[rows] = self._run([texts[i] for i in rows])
        return out

    def _run(self, texts: list[str]) -> Vectors:
        with self._batch_lock:
            encoded = self._batcher.encode_batch(texts)
        feeds = {
            "input_ids": np.array([e.ids for e in encoded], dtype=np.int64),
            "attention_mask": np.array([e.attention_mask for e in encoded], dtype=np.int64),
            "token_type_ids": np.array([e.type_ids for e in encoded], dtype=np.int64),
        }
        assert tuple(feeds) == INPUTS
        (vectors,) = self._session.run([OUTPUT], feeds)
        return np.asarray(vectors, dtype=np.float32)
