"""Exports a sentence-transformers model to ONNX once, and quantises it to int8, into a cache.

The export runs PyTorch (seconds, once per model and machine); loading the cached file later
needs only ONNX Runtime. `torch.onnx.export(..., dynamo=True)` is used because the TorchScript
exporter (dynamo=False) is not faithful for BertModel under transformers 5 (cosine 0.94-0.97
against torch), and optimum's exporter pins transformers < 5. Pooling and normalisation are
part of the exported graph, so the runtime only tokenises and runs it.
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
OPSET = 18
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
            _quantize(fp32, int8)
    return target


def cache_key(model_dir: Path) -> str:
    """A folder name for the model: its name plus a digest of where it is and its weights' size."""
    weights = sorted(p for p in model_dir.glob("*.safetensors"))
    stamp = [str(model_dir.resolve())] + [f"{p.name}:{p.stat().st_size}" for p in weights]
    digest = hashlib.sha256("|".join(stamp).encode()).hexdigest()[:12]
    return f"{model_dir.name}-{digest}-opset{OPSET}"


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
    bert = AutoModel.from_pretrained(str(model_dir), local_files_only=True).eval()
    example = tuple(torch.ones(2, 16, dtype=torch.long) for _ in INPUTS)
    batch, seq = torch.export.Dim("batch"), torch.export.Dim("seq", max=512)
    tmp = path.with_name("export.tmp.onnx")
    # The exporter logs a warning per torchvision operator it cannot register (torchvision is
    # not installed, nor needed): noise on the first `rag` command of a machine.
    exporter_log = logging.getLogger("torch.onnx")
    level = exporter_log.level
    exporter_log.setLevel(logging.ERROR)
    with warnings.catch_warnings(), _restored(exporter_log, level):
        warnings.simplefilter("ignore")  # the exporter's deprecation chatter, not ours to fix
        program = torch.onnx.export(
            _MeanPooled(bert),
            example,
            dynamo=True,
            opset_version=OPSET,
            input_names=list(INPUTS),
            output_names=[OUTPUT],
            dynamic_shapes={name: {0: batch, 1: seq} for name in INPUTS},
            verbose=False,
        )
    if program is None:
        raise ConfigError(f"exporting {model_dir} to ONNX produced no program")
    program.save(str(tmp))
    os.chmod(tmp, 0o600)
    replace_durably(tmp, path)


@contextmanager
def _restored(logger: logging.Logger, level: int) -> Iterator[None]:
    """Set `logger` back to `level` when the block ends, however it ends."""
    try:
        yield
    finally:
        logger.setLevel(level)


def _quantize(fp32: Path, path: Path) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    tmp = path.with_name("quantize.tmp.onnx")
    # Per-channel weights on the MatMuls only: per-tensor int8 over every op moved vectors to
    # cosine 0.89 against float32 on SciFact abstracts; this keeps them above 0.98.
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
        )
    os.chmod(tmp, 0o600)
    replace_durably(tmp, path)


def _MeanPooled(bert: Any) -> Any:
    """BertModel -> mask-aware mean of token vectors -> L2 normalisation, as one module."""
    import torch

    class MeanPooled(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.bert = bert

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            hidden = self.bert(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, p=2.0, dim=1)

    return MeanPooled().eval()
