"""Which runtime computes a model's vectors, and which runtimes' vectors can be mixed in a KB.

`torch` is sentence-transformers on PyTorch; `onnx` is the same network exported to ONNX and run
by ONNX Runtime in float32; `onnx-int8` is that export with dynamically quantised int8 weights.
"""

from __future__ import annotations

from typing import Literal

from rag.embedding.onnx_export import EXPORT_SCHEME

EmbedRuntime = Literal["torch", "onnx", "onnx-int8"]
Device = Literal["auto", "cpu", "cuda"]

# torch and ONNX float32 compute the same function (cosine >= 0.99999 between their vectors,
# tests/unit/test_onnx_embedder.py), so a KB built by one is searched faithfully by the other.
# int8 weights move vectors measurably (cosine down to ~0.97 against float32): its vectors form
# a space of their own, and a KB of one space is refused by an embedder of the other.
# The int8 space is named after the export its weights were quantised from: the first export's
# ("int8", dynamo-traced) and the second's ("int8-x2") differ by cosine down to 0.997 on SciFact
# abstracts (bench/onnx_exports.py): less than int8 differs from float32 (0.991), far more than
# float32 ONNX differs from torch (>= 0.99999). So a new export scheme is a new int8 space.
VECTOR_SPACE: dict[EmbedRuntime, str] = {
    "torch": "fp32",
    "onnx": "fp32",
    "onnx-int8": f"int8-x{EXPORT_SCHEME}",
}
# The space of a KB that recorded only its runtime: int8 then meant the first export.
LEGACY_SPACE: dict[EmbedRuntime, str] = {"torch": "fp32", "onnx": "fp32", "onnx-int8": "int8"}
