"""Generator profiles and routing: settings, resolution by domain, caching, clear errors."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from pydantic import ValidationError

from rag.composition import router_settings
from rag.config import Settings
from rag.errors import ConfigError
from rag.generation.fake import ScriptedGenerator
from rag.generation.local import LocalGenerator
from rag.generation.packaged_model import PACKAGED_GENERATOR, PACKAGED_NAME
from rag.generation.profiles import GeneratorProfile, default_profiles
from rag.generation.router import GeneratorRouter, build_generator
from rag.generation.vllm import VLLMGenerator

VLLM = GeneratorProfile(backend="vllm", endpoint="http://127.0.0.1:8011", model="tiny-moe")
PROFILES = {
    "local": GeneratorProfile(),
    "gpu": VLLM,
    "lora": VLLM.model_copy(update={"adapter": "fin-lora"}),
}


def router(
    tmp_path: Path, domains: dict[str, str] | None = None, default: str = "local"
) -> GeneratorRouter:
    return GeneratorRouter(PROFILES, default, domains or {"finance": "lora"}, tmp_path)


def test_default_settings_quote_free_text_and_fill_schemas_with_the_packaged_model(
    tmp_path: Path,
) -> None:
    settings = Settings(data_dir=tmp_path)
    r = GeneratorRouter.from_settings(router_settings(settings))
    assert r.names == ["extractive", "local"]
    assert r.resolve("medical") == "extractive"
    assert r.resolve("medical", schema=True) == "local"
    assert r.schema_profiles == ["local"]
    profile = r.profile("local")
    assert (profile.backend, profile.model) == ("local", PACKAGED_GENERATOR)
    assert r.profile("extractive").backend == "extractive"


def test_a_named_profile_wins_over_schema_routing(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    r = GeneratorRouter.from_settings(router_settings(settings))
    # The answer path refuses this pair with a 400; the router does not re-route a choice.
    assert r.resolve("medical", "extractive", schema=True) == "extractive"


def test_a_quoting_profile_has_no_generator(tmp_path: Path) -> None:
    r = GeneratorRouter.from_settings(router_settings(Settings(data_dir=tmp_path)))
    with pytest.raises(ConfigError, match="'extractive' quotes passages"):
        r.generator("extractive")
    with pytest.raises(ConfigError, match="quotes passages"):
        build_generator(GeneratorProfile(backend="extractive"), tmp_path)


def test_a_schema_profile_must_generate(tmp_path: Path) -> None:
    profiles = {"local": GeneratorProfile(), "quote": GeneratorProfile(backend="extractive")}
    with pytest.raises(ConfigError, match=r"schema_profile 'quote' cannot fill schemas.*local"):
        GeneratorRouter(profiles, "quote", {}, tmp_path, schema_profile="quote")


def test_a_vllm_default_keeps_generating_free_text_and_schemas(tmp_path: Path) -> None:
    profiles = default_profiles() | {"moe": VLLM}
    r = GeneratorRouter(profiles, "moe", {}, tmp_path, schema_profile="local")
    assert (r.resolve("finance"), r.resolve("finance", schema=True)) == ("moe", "moe")


def test_profiles_from_the_environment_keep_the_local_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "RAG_GENERATOR_PROFILES",
        '{"gpu": {"backend": "vllm", "endpoint": "http://h:8000", "model": "m"}}',
    )
    monkeypatch.setenv("RAG_DOMAIN_PROFILES", '{"finance": "gpu"}')
    settings = Settings()
    assert set(settings.generator_profiles) == {"local", "extractive", "gpu"}
    assert settings.generator_profiles["gpu"].endpoint == "http://h:8000"
    r = GeneratorRouter.from_settings(router_settings(settings))
    assert (r.resolve("finance"), r.resolve("legal")) == ("gpu", "extractive")


def test_domain_picks_the_profile_and_a_request_overrides_it(tmp_path: Path) -> None:
    r = router(tmp_path)
    assert r.resolve("finance") == "lora"
    assert r.resolve("medical") == "local"
    assert r.resolve("finance", "gpu") == "gpu"
    assert router(tmp_path, default="gpu").resolve("medical") == "gpu"


def test_unknown_profile_is_a_config_error_naming_the_known_ones(tmp_path: Path) -> None:
    r = router(tmp_path)
    for call in (
        lambda: r.resolve("finance", "h100"),
        lambda: r.generator("h100"),
        lambda: r.profile("h100"),
    ):
        with pytest.raises(
            ConfigError, match=r"unknown generator profile 'h100'.*known profiles: gpu, local, lora"
        ):
            call()


def test_misconfigured_routes_fail_at_construction(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"'nope' \(default_profile\)"):
        router(tmp_path, default="nope")
    with pytest.raises(ConfigError, match=r"domain_profiles\['legal'\]"):
        router(tmp_path, domains={"legal": "nope"})
    with pytest.raises(ConfigError, match="no generator profiles"):
        GeneratorRouter({}, "local", {}, tmp_path)


def test_generators_are_built_once_per_profile(tmp_path: Path) -> None:
    built: list[str] = []

    def build(profile: GeneratorProfile, cache_dir: Path) -> ScriptedGenerator:
        built.append(profile.model)
        return ScriptedGenerator(name=profile.model)

    r = GeneratorRouter(PROFILES, "local", {}, tmp_path, build=build)
    first = r.generator("gpu")
    assert r.generator("gpu") is first
    assert r.generator("lora") is not first  # same server, another profile: its own client
    assert built == ["tiny-moe", "tiny-moe"]
    asyncio.run(r.aclose())
    assert r.generator("gpu") is not first  # closed generators are not handed out again


def test_backends_are_built_from_their_profiles_without_io(tmp_path: Path) -> None:
    local = build_generator(GeneratorProfile(context_window=1024, threads=1), tmp_path)
    assert isinstance(local, LocalGenerator)
    assert (local.name, local.max_context, local.cache_dir) == (PACKAGED_NAME, 1024, tmp_path)
    lora = build_generator(PROFILES["lora"], tmp_path)
    assert isinstance(lora, VLLMGenerator)
    assert lora.name == "fin-lora"  # requests address the adapter by its name
    r = GeneratorRouter(PROFILES, "local", {}, tmp_path)
    assert isinstance(r.generator("local"), LocalGenerator)
    assert isinstance(r.generator("gpu"), VLLMGenerator)
    asyncio.run(r.aclose())
    local.close()


def test_closing_the_router_closes_the_local_generators_it_built(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The router imports the local backend lazily (it imports xgrammar and torch), in aclose too.
    closed: list[LocalGenerator] = []
    monkeypatch.setattr(LocalGenerator, "close", lambda self: closed.append(self))
    r = GeneratorRouter(PROFILES, "local", {}, tmp_path)
    local, _ = r.generator("local"), r.generator("gpu")
    asyncio.run(r.aclose())
    assert closed == [local]


def test_profile_validation() -> None:
    with pytest.raises(ValidationError, match="needs an endpoint"):
        GeneratorProfile(backend="vllm", model="m")
    with pytest.raises(ValidationError, match="under half of context_window"):
        GeneratorProfile(max_tokens=512, context_window=1024)
    with pytest.raises(ValidationError):
        GeneratorProfile(backend="openai")  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        GeneratorProfile(temperature=0.7)  # type: ignore[call-arg]
