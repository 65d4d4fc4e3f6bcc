"""Generator profiles: which backend, model and token budgets answer for a KB or a request.

A profile is plain configuration (no I/O, nothing loaded), so `Settings` can hold a dict of
them; `rag.generation.router` turns a profile into a generator, once per profile, and reads
only its own `RouterSettings` (built from `Settings` by `rag.composition`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from rag.generation.packaged_model import PACKAGED_GENERATOR

# "extractive" generates nothing: the answer path quotes passages' sentences (rag.answer).
BackendKind = Literal["local", "vllm", "extractive"]
LOCAL_PROFILE = "local"
EXTRACTIVE_PROFILE = "extractive"


class GeneratorProfile(BaseModel):
    """One way to generate: a backend, its model, and the budgets the answer path packs for."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    backend: BackendKind = "local"
    # local: a model folder or the packaged SmolLM2; vllm: the served model name.
    model: str = PACKAGED_GENERATOR
    endpoint: str | None = Field(default=None, description="vLLM base URL, e.g. http://host:8000")
    adapter: str | None = Field(default=None, description="vLLM LoRA adapter name")
    api_key: SecretStr | None = None
    # A local tokenizer.json folder spares one /tokenize request per count on the packing path.
    tokenizer_dir: Path | None = None
    max_tokens: int = Field(default=256, ge=16, description="answer budget, in generated tokens")
    context_window: int = Field(default=2048, ge=256, description="prompt plus answer, in tokens")
    timeout: float = Field(default=120.0, gt=0)
    threads: int | None = Field(default=None, ge=1, description="local: torch CPU threads")

    @model_validator(mode="after")
    def _check(self) -> GeneratorProfile:
        if self.backend == "vllm" and not self.endpoint:
            raise ValueError("a vllm profile needs an endpoint (the server's base URL)")
        if self.max_tokens * 2 >= self.context_window:
            # The retry after a truncated answer doubles the budget; it must still leave room.
            raise ValueError(
                f"max_tokens ({self.max_tokens}) must be under half of context_window "
                f"({self.context_window})"
            )
        return self


def default_profiles() -> dict[str, GeneratorProfile]:
    """The profiles every installation has: the packaged SmolLM2, and sentences quoted."""
    return {
        LOCAL_PROFILE: GeneratorProfile(),
        EXTRACTIVE_PROFILE: GeneratorProfile(backend="extractive", model="extractive"),
    }


@dataclass(frozen=True)
class RouterSettings:
    """What the router reads: the profiles, which one answers for a domain, where models go."""

    cache_dir: Path  # where local models are converted and kept
    profiles: Mapping[str, GeneratorProfile] = field(default_factory=default_profiles)
    default_profile: str = EXTRACTIVE_PROFILE
    domain_profiles: Mapping[str, str] = field(default_factory=dict)
    # Answers to an analyst schema when the profile routed to cannot fill schemas.
    schema_profile: str = LOCAL_PROFILE
