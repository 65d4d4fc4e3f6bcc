"""Which runtime computes a model's vectors, and which runtimes' vectors can be mixed in a KB.

`torch` is sentence-transformers on PyTorch; `onnx` is the same network exported to ONNX and run
by ONNX Runtime in float32; `onnx-int8` is that export with dynamically quantised int8 weights.
"""

from __future__ import annotations

from typing import Literal

EmbedRuntime = Literal["torch", "onnx", "onnx-int8"]
Device = Literal["auto", "cpu", "cuda"]

# torch and ONNX float32 compute the same function (cosine >= 0.99999 between their vectors,
# tests/unit/test_onnx_embedder.py), so a KB built by one is searched faithfully by the other.
# int8 weights move vectors measurably (cosine down to ~0.99 against float32): its vectors form
# a space of their own, and a KB of one space is refused by an embedder of the other.
VECTOR_SPACE: dict[EmbedRuntime, str] = {"torch": "fp32", "onnx": "fp32", "onnx-int8": "int8"}


def same_space(a: EmbedRuntime, b: EmbedRuntime) -> bool:
    """Whether vectors from runtime `a` can be compared with vectors from runtime `b`."""
    return VECTOR_SPACE[a] == VECTOR_SPACE[b]
