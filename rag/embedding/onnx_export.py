"""Exports a sentence-transformers model to ONNX once, and quantises it to int8, into a cache.

The export runs PyTorch (seconds, once per model and machine); loading the cached file later
needs only ONNX Runtime. Pooling and normalisation are part of the exported graph, so the runtime
only tokenises and runs it. optimum's exporter is not used: it pins transformers < 5.

How the graph is traced decides its speed (docs/benchmarks.md, embedding runtimes):
- transformers 5 builds the attention mask with code that TorchScript tracing bakes in wrongly
  (cosine 0.94-0.97 against torch), and the dynamo exporter turns its boolean mask and SDPA into
  Where/IsNaN over every (batch, head, query, key) cell: 38% of ONNX Runtime's kernel time on
  256-token abstracts (`bench/onnx_exports.py --profile`), slower than torch itself.
- So the exported module hands BERT a prepared additive mask of shape (batch, 1, 1, seq), which
  transformers passes through untouched, and eager attention (a MatMul, an Add, a Softmax). That
  graph traces faithfully with the TorchScript exporter (cosine >= 0.9999995 against torch on
  batches of 1 to 64, empty and over-length texts) and runs 1.7x the dynamo graph's speed on
  abstracts, its int8 quantisation 2x the dynamo graph's int8 (bench/onnx_exports.py).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from filelock import FileLock

from rag.errors import ConfigError
from rag.files import private_dir, replace_durably

INPUTS = ("input_ids", "attention_mask", "token_type_ids")
OUTPUT = "sentence_embedding"  # not "embedding": BERT's graph already has a node of that name
OPSET = 17
# Part of the cache folder's name: a change to how the graph is exported must not reuse a file
# exported the old way. 2: TorchScript with a prepared mask (1 was the dynamo export).
EXPORT_SCHEME = 2
FLOAT32_MIN = -3.4028234663852886e38  # torch.finfo(torch.float32).min, without importing torch
FP32_FILE = "model.onnx"
INT8_FILE = "model-int8.onnx"
_STANDARD_MODULES = [
    "sentence_transformers.models.Transformer",
    "sentence_transformers.models.Pooling",
    "sentence_transformers.models.Normalize",
]


def onnx_model(model_dir: Path, cache_dir: Path, quantized: bool) -> Path:
    """The cached ONNX file of the model in `model_dir`, exported (and quantised) on first use."""
    folder = cache_dir / "onnx" / cache_key(model_dir)
    fp32, int8 = folder / FP32_FILE, folder / INT8_FILE
    target = int8 if quantized else fp32
    if target.exists():
        return target
    check_exportable(model_dir)
    # Private like everything else under the data directory (rag/files.py).
    private_dir(folder)
    # Two processes starting at once export once; the second waits and then finds the file.
    with FileLock(folder / "export.lock", mode=0o600):
        if not fp32.exists():
            _export(model_dir, fp32)
        if quantized and not int8.exists():
            quantize_int8(fp32, int8)
    return target


def cache_key(model_dir: Path) -> str:
    """A folder name for the model: its name plus a digest of where it is and its weights' size."""
    weights = sorted(p for p in model_dir.glob("*.safetensors"))
    stamp = [str(model_dir.resolve())] + [f"{p.name}:{p.stat().st_size}" for p in weights]
    digest = hashlib.sha256("|".join(stamp).encode()).hexdigest()[:12]
    return f"{model_dir.name}-{digest}-opset{OPSET}-x{EXPORT_SCHEME}"


def check_exportable(model_dir: Path) -> None:
    """ConfigError unless the model is transformer -> mean pooling -> normalise."""
    try:
        modules = json.loads((model_dir / "modules.json").read_text())
        pooling = json.loads((model_dir / "1_Pooling" / "config.json").read_text())
    except (OSError, ValueError) as exc:
        msg = f"cannot read the sentence-transformers layout of {model_dir}: {exc}"
        raise ConfigError(msg) from exc
    if [m["type"] for m in modules] != _STANDARD_MODULES or not pooling.get(
        "pooling_mode_mean_tokens"
    ):
        raise ConfigError(
            f"{model_dir} is not a transformer with mean pooling and normalisation; "
            "only such models run on ONNX Runtime (use RAG_EMBED_RUNTIME=torch)"
        )


def _export(model_dir: Path, path: Path) -> None:
    import torch  # only the one-time export needs PyTorch
    from transformers import AutoModel
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]  # noise in CLI output
    # Eager attention: its mask is one Add, which the exported graph keeps cheap (module doc).
    bert = AutoModel.from_pretrained(
        str(model_dir), local_files_only=True, attn_implementation="eager"
    ).eval()
    example = tuple(torch.ones(2, 16, dtype=torch.long) for _ in INPUTS)
    tmp = path.with_name("export.tmp.onnx")
    with warnings.catch_warnings():
        # The TorchScript exporter's deprecation and tracer chatter: about the exporter, not
        # about this graph, whose faithfulness tests/unit/test_onnx_embedder.py checks.
        warnings.simplefilter("ignore")
        torch.onnx.export(
            mean_pooled(bert),
            example,
            str(tmp),
            dynamo=False,
            opset_version=OPSET,
            input_names=list(INPUTS),
            output_names=[OUTPUT],
            dynamic_axes={name: {0: "batch", 1: "seq"} for name in INPUTS},
        )
    os.chmod(tmp, 0o600)
    replace_durably(tmp, path)


@contextmanager
def _restored(logger: logging.Logger, level: int) -> Iterator[None]:
    """Set `logger` back to `level` when the block ends, however it ends."""
    try:
        yield
    finally:
        logger.setLevel(level)


def quantize_int8(fp32: Path, path: Path, extra_options: dict[str, Any] | None = None) -> None:
    """Dynamically quantised int8 weights of the float32 graph `fp32`, written to `path`.

    `extra_options` go to the quantiser as they are (bench/onnx_exports.py passes one for a graph
    with fused contrib ops, whose outputs shape inference cannot type).
    """
    from onnxruntime.quantization import QuantType, quantize_dynamic

    tmp = path.with_name("quantize.tmp.onnx")
    # Per-channel weights on the MatMuls only: per-tensor int8 over every op moved vectors to
    # cosine 0.89 against float32 on SciFact abstracts; this keeps them above 0.97.
    # The quantiser logs advice about pre-processing to the root logger; not for our users.
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    with _restored(root, level):
        quantize_dynamic(
            fp32,
            tmp,
            weight_type=QuantType.QInt8,
            per_channel=True,
            op_types_to_quantize=["MatMul"],
            extra_options=extra_options,
        )
    os.chmod(tmp, 0o600)
    replace_durably(tmp, path)


def mean_pooled(bert: Any, mask_fill: float | None = FLOAT32_MIN) -> Any:
    """BertModel -> mask-aware mean of token vectors -> L2 normalisation, as one module.

    With `mask_fill`, BERT gets an additive (batch, 1, 1, seq) mask: 0 where a token is,
    `mask_fill` at padding. transformers uses a 4-D mask as given, so its mask builder is not
    traced (module doc). With None, BERT gets the 2-D mask and builds its own, as the first
    export did (bench/onnx_exports.py compares the two).
    """
    import torch

    class MeanPooled(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.bert = bert

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            mask = attention_mask
            if mask_fill is not None:
                mask = (1.0 - attention_mask[:, None, None, :].to(torch.float32)) * mask_fill
            hidden = self.bert(
                input_ids=input_ids, attention_mask=mask, token_type_ids=token_type_ids
            ).last_hidden_state
            keep = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * keep).sum(1) / keep.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, p=2.0, dim=1)

    return MeanPooled().eval()
