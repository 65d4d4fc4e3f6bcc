"""An ingestion job survives restarts of a real `rag serve`: a kill -9 and a graceful stop.

One .jsonl upload of many one-chunk records, ingested one chunk per batch with the real
MiniLM so the job takes seconds. The server is killed part-way, started again (the job
resumes), stopped gracefully part-way (it stops at a safe point) and started a third time;
the job then succeeds, and the KB holds every record exactly once, with no record that a
previous run wrote embedded again.
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from serving import serving

pytestmark = pytest.mark.slow

RECORDS = 200
JOB_WAIT = 300.0  # seconds; generous for 2 shared cores


def corpus() -> bytes:
    lines = [
        json.dumps({"id": f"rec{n:03d}", "text": f"Record {n} is about topic{n} and item{n % 7}."})
        for n in range(RECORDS)
    ]
    return "\n".join(lines).encode()


def poll(base: str, job_id: str, until: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    deadline = time.monotonic() + JOB_WAIT
    while True:
        job: dict[str, Any] = httpx.get(f"{base}/v1/jobs/{job_id}", timeout=10).json()
        if until(job) or job["state"] in ("succeeded", "failed", "cancelled"):
            return job
        if time.monotonic() > deadline:
            pytest.fail(f"job did not get there in {JOB_WAIT} s: {job}")
        time.sleep(0.1)


def test_job_resumes_after_kill_and_after_graceful_stop(tmp_path: Path) -> None:
    data = tmp_path / "data"
    log = tmp_path / "serve.log"
    env = {
        **os.environ,
        "RAG_DATA_DIR": str(data),
        "HF_HUB_OFFLINE": "1",
        "RAG_INGEST_BATCH_CHUNKS": "1",
        "RAG_INGEST_FLUSH_SECONDS": "0",
        "RAG_API_RATE_REQUESTS": "1000000",  # the test polls fast
        # A generator that is never called: no local model is loaded or converted.
        "RAG_GENERATOR_PROFILES": json.dumps(
            {"remote": {"backend": "vllm", "endpoint": "http://127.0.0.1:9", "model": "none"}}
        ),
        "RAG_DEFAULT_PROFILE": "remote",
    }

    with serving(env, log) as (proc, base):
        assert httpx.post(f"{base}/v1/kbs", json={"name": "notes"}).status_code == 201
        files = {"files": ("notes.jsonl", corpus(), "application/x-ndjson")}
        response = httpx.post(f"{base}/v1/kbs/notes/documents", files=files, timeout=60)
        assert response.status_code == 202, response.text
        job_id = response.json()["id"]
        started = poll(base, job_id, lambda j: j["counts"]["indexed"] >= 5)
        assert started["state"] == "running", started
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)

    with serving(env, log) as (proc, base):
        again = poll(base, job_id, lambda j: j["resumed"] == 1 and j["counts"]["indexed"] >= 5)
        assert again["state"] == "running" and again["counts"]["unchanged"] >= 5, again
        proc.send_signal(signal.SIGTERM)  # graceful: the job stops after its current batch
        # uvicorn shuts down cleanly, then re-raises the signal to exit by it.
        assert proc.wait(timeout=60) in (0, -signal.SIGTERM)
        assert "Application shutdown complete" in log.read_text()

    with serving(env, log) as (proc, base):
        done = poll(base, job_id, lambda j: False)
        assert done["state"] == "succeeded", done
        assert done["resumed"] == 2 and done["counts"]["failed"] == 0
        counts = done["counts"]
        # The last run found earlier runs' work stored and embedded only what was left.
        assert counts["parsed"] == RECORDS and counts["unchanged"] > again["counts"]["unchanged"]
        assert counts["embedded"] == counts["indexed"] == RECORDS - counts["unchanged"]

        page = httpx.get(f"{base}/v1/kbs/notes/documents", params={"limit": 1000}).json()
        ids = [d["id"] for d in page["data"]]
        assert page["total"] == RECORDS and ids == [f"rec{n:03d}" for n in range(RECORDS)]
        assert all(d["source"] == "upload:notes.jsonl" for d in page["data"])
        kb = httpx.get(f"{base}/v1/kbs/notes").json()
        assert kb["documents"] == RECORDS and kb["chunks"] == RECORDS  # every record once
        assert not (data / "api" / "uploads" / job_id).exists()
        hits = httpx.post(
            f"{base}/v1/kbs/notes/search", json={"query": "topic123", "mode": "bm25", "k": 1}
        ).json()["data"]
        assert hits[0]["doc_id"] == "rec123"
