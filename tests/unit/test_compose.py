"""The scale-out compose file: valid Compose, and the deployment docs/deploy.md describes.

No Docker engine runs in CI, so the file is checked as data: against the Compose
specification's JSON schema (check-jsonschema's vendored copy), then for what would make
`docker compose up` fail or the deployment wrong.
"""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]


def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return data


def test_it_matches_the_compose_specification() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.compose-spec",
         str(ROOT / "docker-compose.yml")],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr


def test_no_host_port_is_published_twice_and_the_api_has_one() -> None:
    services = compose()["services"]
    published = [
        port.rsplit(":", 1)[0] for service in services.values() for port in service.get("ports", [])
    ]
    assert len(published) == len(set(published)), Counter(published)
    assert "ports" not in services["api"]  # replicas cannot share a host port
    assert services["lb"]["ports"] == ["127.0.0.1:8000:8000"]
    assert "ports" not in services["vllm"]


def test_every_service_has_a_healthcheck_and_the_fleet_is_replicated() -> None:
    services = compose()["services"]
    assert set(services) >= {"api", "worker", "postgres", "redis", "elasticsearch", "lb"}
    assert all("healthcheck" in s for s in services.values()), [
        name for name, s in services.items() if "healthcheck" not in s
    ]
    assert services["api"]["deploy"]["replicas"] >= 2
    assert services["worker"]["deploy"]["replicas"] >= 2
    assert "rag worker" in " ".join(services["worker"]["command"])
    env = services["api"]["environment"]
    assert env["RAG_DATABASE_URL"].startswith("postgresql+psycopg://")
    assert env["RAG_REDIS_URL"].startswith("redis://") and env["RAG_INGEST_JOB_WORKERS"] == "0"


def test_the_image_installs_torch_from_the_cpu_index() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu" in dockerfile
    assert 'pip install --index-url "$TORCH_INDEX" torch==2.13.0' in dockerfile
