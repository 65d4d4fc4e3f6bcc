"""Settings -> each component's own settings: same defaults, values carried over, no env writes."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from pydantic import SecretStr

from rag.answer import AnswerSettings
from rag.composition import answer_settings, router_settings, store_settings
from rag.config import Settings
from rag.generation.profiles import GeneratorProfile, RouterSettings
from rag.stores.settings import ElasticsearchSettings, StoreSettings, VectorIndexSettings


def defaults() -> Settings:
    # Built without the environment: a test run may export RAG_* (RAG_ES_URL, say).
    return Settings.model_construct()


def test_component_defaults_are_the_service_defaults() -> None:
    settings = defaults()
    assert store_settings(settings) == StoreSettings()
    assert answer_settings(settings) == AnswerSettings()
    assert router_settings(settings) == RouterSettings(cache_dir=settings.cache_dir)


def test_configured_values_reach_the_components(tmp_path: Path) -> None:
    gpu = GeneratorProfile(backend="vllm", endpoint="http://gpu:8000", model="moe")
    settings = Settings(
        data_dir=tmp_path,
        hnsw_m=16,
        hnsw_ef_search=64,
        ivf_nprobe=8,
        ivfpq_min_chunks=5_000,
        es_url="https://es:9200",
        es_username="rag",
        es_password=SecretStr("hunter2"),
        es_index_prefix="kb-",
        es_num_candidates_factor=20,
        es_request_timeout=5.0,
        generator_profiles={"gpu": gpu},
        default_profile="gpu",
        domain_profiles={"finance": "gpu"},
        answer_k=8,
        answer_min_relevance=0.3,
    )
    stores = store_settings(settings)
    assert stores.vectors == VectorIndexSettings(16, 64, 8, 5_000)
    assert stores.elasticsearch == ElasticsearchSettings(
        url="https://es:9200",
        username="rag",
        password="hunter2",
        index_prefix="kb-",
        num_candidates_factor=20,
        request_timeout=5.0,
    )
    assert "hunter2" not in repr(stores)  # secrets stay out of logs and tracebacks
    routing = router_settings(settings, cache_dir=tmp_path / "models")
    assert routing.cache_dir == tmp_path / "models"
    assert set(routing.profiles) == {"local", "extractive", "gpu"}
    assert routing.profiles["gpu"] == gpu
    assert (routing.default_profile, dict(routing.domain_profiles)) == ("gpu", {"finance": "gpu"})
    assert answer_settings(settings) == AnswerSettings(k=8, min_relevance=0.3)


def test_importing_any_module_sets_no_environment_variable() -> None:
    # A fresh interpreter without the variables the CLI sets at invocation: importing every
    # module of every package must leave the environment as it was.
    script = textwrap.dedent(
        """
        import importlib, os, pkgutil
        before = dict(os.environ)
        for package in ("rag", "indexer", "controlplane", "api", "cli", "evaluation"):
            module = importlib.import_module(package)
            for info in pkgutil.walk_packages(module.__path__, package + "."):
                if not info.name.endswith(".__main__"):  # runs the CLI
                    importlib.import_module(info.name)
        changed = sorted(k for k in before.keys() | os.environ.keys()
                         if before.get(k) != os.environ.get(k))
        print(",".join(changed))
        """
    )
    env = {
        k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "TOKENIZERS_PARALLELISM")
    }
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == ""
