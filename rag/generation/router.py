"""Routing: which generator profile answers for a KB, and one built generator per profile.

A request may name a profile; otherwise the KB's domain picks one (`domain_profiles`), and
otherwise the default does. An analyst schema routed to a profile that only quotes passages
(the extractive backend) goes to `schema_profile` instead. Generators are built on first use
and kept: a local model loads once per process, a vLLM client keeps its connection pool; the
extractive profile has no generator (the answer path quotes without one).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Mapping
from pathlib import Path

from rag.errors import ConfigError
from rag.generation.base import Generator
from rag.generation.profiles import BackendKind, GeneratorProfile, RouterSettings
from rag.generation.vllm import VLLMGenerator

Build = Callable[[GeneratorProfile, Path], Generator]


def _build_local(profile: GeneratorProfile, cache_dir: Path) -> Generator:
    # Imported here: the local backend imports xgrammar, which imports torch and transformers
    # (seconds); a router whose profiles quote or call vLLM (`rag ask` by default) never pays.
    from rag.generation.local import LocalGenerator

    return LocalGenerator(
        profile.model, cache_dir, max_context=profile.context_window, threads=profile.threads
    )


def _build_vllm(profile: GeneratorProfile, cache_dir: Path) -> Generator:
    assert profile.endpoint is not None  # the profile's validator requires it
    key = profile.api_key.get_secret_value() if profile.api_key else None
    return VLLMGenerator(
        profile.endpoint,
        profile.model,
        api_key=key,
        adapter=profile.adapter,
        timeout=profile.timeout,
        tokenizer_dir=profile.tokenizer_dir,
    )


BACKENDS: dict[BackendKind, Build] = {"local": _build_local, "vllm": _build_vllm}


def build_generator(profile: GeneratorProfile, cache_dir: Path) -> Generator:
    """A generator for `profile`; nothing is loaded or connected until its first request."""
    if profile.backend == "extractive":
        raise ConfigError("an extractive profile quotes passages: it has no generator")
    return BACKENDS[profile.backend](profile, cache_dir)


class GeneratorRouter:
    """Resolves profile names and hands out one cached generator per profile."""

    def __init__(
        self,
        profiles: Mapping[str, GeneratorProfile],
        default: str,
        domains: Mapping[str, str],
        cache_dir: Path,
        build: Build = build_generator,
        schema_profile: str | None = None,
    ) -> None:
        if not profiles:
            raise ConfigError("no generator profiles are configured")
        self._profiles = dict(profiles)
        self._default = self._known(default, "default_profile")
        self._domains = {d: self._known(p, f"domain_profiles[{d!r}]") for d, p in domains.items()}
        # None: schemas go where free text goes (a deployment whose default generates).
        self._schema = (
            None if schema_profile is None else self._known(schema_profile, "schema_profile")
        )
        if self._schema is not None and not self.fills_schemas(self._schema):
            raise ConfigError(
                f"schema_profile {self._schema!r} cannot fill schemas; profiles that can: "
                + ", ".join(self.schema_profiles)
            )
        self._cache_dir = cache_dir
        self._build = build
        self._generators: dict[str, Generator] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_settings(
        cls, settings: RouterSettings, build: Build = build_generator
    ) -> GeneratorRouter:
        """The router of the configured profiles; local models convert under its cache dir."""
        return cls(
            settings.profiles,
            settings.default_profile,
            settings.domain_profiles,
            settings.cache_dir,
            build,
            settings.schema_profile,
        )

    @property
    def names(self) -> list[str]:
        """Known profile names, sorted."""
        return sorted(self._profiles)

    @property
    def schema_profiles(self) -> list[str]:
        """Profiles that can fill an analyst schema (all but the extractive ones), sorted."""
        return [name for name in self.names if self.fills_schemas(name)]

    def fills_schemas(self, name: str) -> bool:
        """Whether profile `name` generates, and so can fill an analyst schema."""
        return self.profile(name).backend != "extractive"

    def resolve(self, domain: str, requested: str | None = None, schema: bool = False) -> str:
        """The profile for a KB of `domain` and request, unless the request names one."""
        if requested is not None:
            return self._known(requested, "profile")
        name = self._domains.get(domain, self._default)
        if schema and self._schema is not None and not self.fills_schemas(name):
            return self._schema
        return name

    def profile(self, name: str) -> GeneratorProfile:
        """The configuration of a known profile."""
        return self._profiles[self._known(name, "profile")]

    def generator(self, name: str) -> Generator:
        """The generator of profile `name`, built on the first call."""
        profile = self.profile(name)
        if not self.fills_schemas(name):
            raise ConfigError(f"profile {name!r} quotes passages: it has no generator")
        with self._lock:
            generator = self._generators.get(name)
            if generator is None:
                generator = self._generators[name] = self._build(profile, self._cache_dir)
            return generator

    async def aclose(self) -> None:
        """Release every generator built so far (worker threads, HTTP clients)."""
        with self._lock:
            built, self._generators = list(self._generators.values()), {}
        for generator in built:
            if isinstance(generator, VLLMGenerator):
                await generator.aclose()
                continue
            # Imported only past a generator of another backend: a router that built none
            # (the extractive default) or only vLLM clients closes without xgrammar and torch.
            from rag.generation.local import LocalGenerator

            if isinstance(generator, LocalGenerator):
                await asyncio.to_thread(generator.close)  # waits for queued decodes

    def _known(self, name: str, what: str) -> str:
        if name not in self._profiles:
            raise ConfigError(
                f"unknown generator profile {name!r} ({what}); known profiles: "
                + ", ".join(sorted(self._profiles))
            )
        return name
