"""`rag serve` as a real process on 127.0.0.1, driven by the `openai` client and our own.

Real MiniLM, real files, the real packaged SmolLM2 with small budgets: three generations in
all (CI has 2 cores). With RAG_VLLM_URL set, one more chat goes through the real vLLM server.
The model is tiny, so the checks are about the contract, not the answers' quality.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from openai import OpenAI
from serving import admin_key, serving

from api.client import RagClient
from rag.generation.packaged_model import PACKAGED_NAME, packaged_model_dir

DOCS = {
    "tides.md": "# Tides\n\nThe moon's gravity pulls the oceans and causes two tides a day.\n",
    "copper.md": "# Copper\n\nCopper conducts electricity well, so electric wires are copper.\n",
    "ledger.md": "# Ledger\n\nA ledger is the book where a business records every transaction.\n",
}


@dataclass
class Server:
    base: str
    key: str
    log: Path


def _profiles() -> dict[str, object]:
    profiles: dict[str, object] = {"local": {"max_tokens": 128, "context_window": 1024}}
    url = os.environ.get("RAG_VLLM_URL")
    if url:
        model = httpx.get(f"{url.rstrip('/')}/v1/models", timeout=5).json()["data"][0]["id"]
        profiles["moe"] = {
            "backend": "vllm",
            "endpoint": url,
            "model": model,
            "max_tokens": 256,
            "timeout": 60,
        }
    return profiles


@pytest.fixture(scope="module")
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("serve")
    data = root / "data"
    # The GGUF is converted once per machine (shared with the other local-model tests).
    cache = request.config.cache
    models = cache.mkdir("rag-models") if cache is not None else root / "models"
    converted = packaged_model_dir(models)
    (data / "cache" / "models").mkdir(parents=True)
    (data / "cache" / "models" / PACKAGED_NAME).symlink_to(converted, target_is_directory=True)
    env = {
        **os.environ,
        "RAG_DATA_DIR": str(data),
        "RAG_GENERATOR_PROFILES": json.dumps(_profiles()),
        "HF_HUB_OFFLINE": "1",
    }
    key = admin_key(env)
    log = root / "serve.log"
    # The packaged generator warms up before /readyz says ready: allow for a cold machine.
    with serving(env, log, extra=(), ready="/readyz", timeout=240) as (_, base):
        yield Server(base, key, log)


@pytest.fixture(scope="module")
def kb(server: Server, tmp_path_factory: pytest.TempPathFactory) -> str:
    docs = tmp_path_factory.mktemp("docs")
    for name, text in DOCS.items():
        (docs / name).write_text(text)
    with RagClient(server.base, server.key) as client:
        client.create_kb("facts", domain="science")
        job = client.upload_files("facts", sorted(docs.iterdir()))
        done = client.wait_for_job(job.id, poll=0.2, timeout=120)
    assert done.state == "succeeded", done
    assert done.counts.indexed >= 3
    return "facts"


def test_package_client_search_and_answer(server: Server, kb: str) -> None:
    with RagClient(server.base, server.key) as client:
        assert {d.id for d in client.iter_documents(kb)} == set(DOCS)
        hits = client.search(kb, "why are wires made of copper", k=2)
        assert hits[0].doc_id == "copper.md"
        answer = client.answer(kb, "Why are electric wires made of copper?", max_tokens=96)
    assert answer.outcome in ("answered", "model_abstained")
    numbers = {p.number for p in answer.passages}
    assert {c.passage for c in answer.citations} <= numbers


def test_openai_client_chat_and_stream(server: Server, kb: str) -> None:
    client = OpenAI(base_url=f"{server.base}/v1", api_key=server.key, max_retries=0)
    assert f"kb:{kb}" in {m.id for m in client.models.list()}
    # The embedded default quotes free text, and says so; `@local` generates.
    quoted = client.chat.completions.create(
        model=f"kb:{kb}", messages=[{"role": "user", "content": "What causes the tides?"}]
    )
    assert (quoted.choices[0].message.content or "").startswith("Quoted from the knowledge base")
    assert (quoted.model_extra or {})["answered_by"]["profile"] == "extractive"
    assert quoted.usage is not None and quoted.usage.completion_tokens == 0
    reply = client.chat.completions.create(
        model=f"kb:{kb}@local",
        messages=[{"role": "user", "content": "What causes the tides?"}],
        max_tokens=96,
    )
    assert reply.choices[0].message.content
    assert reply.choices[0].finish_reason == "stop"
    assert reply.usage is not None and reply.usage.completion_tokens > 0
    assert (reply.model_extra or {})["answered_by"]["profile"] == "local"
    stream = client.chat.completions.create(
        model=f"kb:{kb}@local",
        messages=[
            {"role": "user", "content": "What is a ledger?"},
            {"role": "assistant", "content": "A ledger records transactions [1]."},
            {"role": "user", "content": "Who keeps it?"},
        ],
        max_tokens=96,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    vectors = client.embeddings.create(model=f"kb:{kb}", input=["tides", "copper"])
    assert len(vectors.data) == 2 and len(vectors.data[0].embedding) == 384


def test_errors_are_openai_objects(server: Server) -> None:
    client = OpenAI(base_url=f"{server.base}/v1", api_key="rag_bogus_key", max_retries=0)
    with pytest.raises(Exception) as caught:
        client.models.list()
    assert getattr(caught.value, "status_code", None) == 401
    response = httpx.get(
        f"{server.base}/v1/kbs/nope", headers={"Authorization": f"Bearer {server.key}"}
    )
    assert response.status_code == 404 and response.json()["error"]["code"] == "kb_not_found"
    assert "x-request-id" in response.headers


@pytest.mark.vllm
def test_chat_through_vllm_profile(server: Server, kb: str) -> None:
    if not os.environ.get("RAG_VLLM_URL"):
        pytest.skip("RAG_VLLM_URL is unset; run `scripts/vllm.sh start` and export its URL")
    client = OpenAI(base_url=f"{server.base}/v1", api_key=server.key, max_retries=0)
    schema = {
        "type": "object",
        "properties": {"metal": {"type": "string", "maxLength": 40}},
        "required": ["metal"],
        "additionalProperties": False,
    }
    reply = client.chat.completions.create(
        model=f"kb:{kb}@moe",
        messages=[{"role": "user", "content": "Which metal is used in wires?"}],
        response_format={
            "type": "json_schema",
            "json_schema": {"name": "m", "schema": schema, "strict": True},
        },
    )
    message = reply.choices[0].message
    assert message.content is not None or message.refusal is not None
    if message.content is not None:
        assert set(json.loads(message.content)) == {"metal"}
