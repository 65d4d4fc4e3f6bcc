"""Where an embedder runs: `auto` takes CUDA when the chosen runtime can reach a GPU."""

from __future__ import annotations

from rag.embedding.variants import Device, EmbedRuntime
from rag.errors import ConfigError


def cuda_available(runtime: EmbedRuntime) -> bool:
    """Whether `runtime` can run on a CUDA GPU in this process."""
    if runtime == "torch":
        import torch

        return bool(torch.cuda.is_available())
    import onnxruntime as ort

    # onnxruntime-gpu provides this provider; the CPU wheel does not.
    return "CUDAExecutionProvider" in ort.get_available_providers()


def resolve_device(device: Device, runtime: EmbedRuntime) -> str:
    """`cpu` or `cuda`; ConfigError when CUDA is demanded but this runtime has none."""
    if device == "cpu":
        return "cpu"
    available = cuda_available(runtime)
    if device == "cuda" and not available:
        hint = "a CUDA build of torch" if runtime == "torch" else "onnxruntime-gpu"
        raise ConfigError(
            f"RAG_DEVICE=cuda but the {runtime} runtime sees no CUDA GPU (needs {hint} and a "
            "GPU); use RAG_DEVICE=auto or cpu"
        )
    return "cuda" if available else "cpu"


def onnx_providers(device: str) -> tuple[str, ...]:
    """ONNX Runtime execution providers for a resolved device, best first."""
    if device == "cuda":
        return ("CUDAExecutionProvider", "CPUExecutionProvider")
    return ("CPUExecutionProvider",)
