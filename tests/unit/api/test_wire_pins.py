"""Exact bytes of the native API's JSON bodies: keys, their order, float formatting, rounding.

The bodies are built from fixed domain objects (an Answer with awkward floats, a stored Job),
so a change in how the wire models serialize shows up here as a changed byte.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from api.openai.schemas import (
    ChatCompletionChunk,
    ChunkChoice,
    CitationObject,
    CompletionUsage,
    Delta,
)
from cli import app
from controlplane.schema import jobs
from indexer.jobs.model import FileError, Job, JobCounts, JobTimings
from indexer.jobs.store import JobStore
from rag.answer import AnswerRequest
from rag.answer.types import (
    Answer,
    AnswerEvent,
    Citation,
    DeltaEvent,
    Passage,
    PassagesEvent,
    StreamEvent,
    Timings,
)
from rag.generation.base import Usage
from rag.types import Chunk, Hit
from rag.workspace import OpenKB

Api = Any  # the `api` fixture of conftest.py


def fixed_answer() -> Answer:
    """An answer whose floats need care: tiny, negative zero after rounding, many digits."""
    c1 = Chunk(
        id="guide.md#0",
        doc_id="manuals/guide.md",
        text="Hold the button — 10 s.",
        position=0,
        title="Guide — Réglages",
        page=3,
        heading_path=("Setup",),
        metadata={"lang": "fr"},
    )
    c2 = Chunk(id="notes#4", doc_id="notes", text="Power cycle the unit.", position=4)
    p1 = Passage(1, Hit(c1, 0.8765432101), relevance=0.123456789, text="Hold the button — 10 s.")
    p2 = Passage(2, Hit(c2, 1e-07), relevance=-0.00001234, text="Power", truncated=True)
    return Answer(
        question="Wie setze ich es zurück?",
        answer="Hold it for 10 s [1].",
        answerable=True,
        outcome="answered",
        confidence=0.8,
        citations=(Citation.of(p1),),
        passages=(p1, p2),
        data=None,
        usage=Usage(120, 7),
        timings=Timings(retrieve=0.0123456, pack=1.5e-05, generate=2.25),
        profile="local",
        model="fake-model",
        attempts=1,
    )


# Pydantic writes the HTTP body: its float format (1e-7, 0.000015), not json.dumps'.
ANSWER = (
    '{"question":"Wie setze ich es zurück?","answer":"Hold it for 10 s [1].","answerable":true,'
    '"outcome":"answered","confidence":0.8,"data":null,"citations":[{"passage":1,'
    '"chunk_id":"guide.md#0","doc_id":"manuals/guide.md","title":"Guide — Réglages","page":3,'
    '"text":"Hold the button — 10 s."}],"passages":[{"number":1,"chunk_id":"guide.md#0",'
    '"doc_id":"manuals/guide.md","title":"Guide — Réglages","page":3,"score":0.8765432101,'
    '"relevance":0.1235,"truncated":false},{"number":2,"chunk_id":"notes#4","doc_id":"notes",'
    '"title":"","page":null,"score":1e-7,"relevance":-0.0,"truncated":true}],'
    '"usage":{"prompt_tokens":120,"completion_tokens":7},"timings":{"retrieve":0.0123456,'
    '"pack":0.000015,"generate":2.25,"total":2.2623606},"profile":"local","model":"fake-model",'
    '"attempts":1,"quoted":false}'
)
# The stream's passages carry the text the model saw; the answer's passages do not.
PASSAGES = (
    '{"passages": [{"number": 1, "chunk_id": "guide.md#0", "doc_id": "manuals/guide.md", '
    '"title": "Guide — Réglages", "page": 3, "text": "Hold the button — 10 s.", '
    '"score": 0.8765432101, "relevance": 0.1235, "truncated": false}, {"number": 2, '
    '"chunk_id": "notes#4", "doc_id": "notes", "title": "", "page": null, "text": "Power", '
    '"score": 1e-07, "relevance": -0.0, "truncated": true}]}'
)


class FixedAnswerer:
    """Answers every question with `fixed_answer()`, whole or as a stream."""

    async def answer(self, kb: OpenKB, request: AnswerRequest) -> Answer:
        return fixed_answer()

    async def stream(self, kb: OpenKB, request: AnswerRequest) -> AsyncIterator[StreamEvent]:
        answer = fixed_answer()
        yield PassagesEvent(answer.passages)
        yield DeltaEvent('{"answer":"Hold')
        yield AnswerEvent(answer)


def _answering(api: Api) -> dict[str, str]:
    admin = api.key()
    assert api.client.post("/v1/kbs", json={"name": "handbook"}, headers=admin).status_code == 201
    api.services.answerer = FixedAnswerer()
    return admin


def test_answer_body_bytes(api: Api) -> None:
    admin = _answering(api)
    response = api.client.post("/v1/kbs/handbook/answer", json={"question": "q"}, headers=admin)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.content.decode() == ANSWER


def test_answer_stream_payload_bytes(api: Api) -> None:
    admin = _answering(api)
    body = {"question": "q", "stream": True}
    with api.client.stream("POST", "/v1/kbs/handbook/answer", json=body, headers=admin) as reply:
        frames = reply.read().decode().replace("\r\n", "\n").strip().split("\n\n")
    payloads = {}
    for frame in frames:
        lines = dict(line.split(": ", 1) for line in frame.split("\n"))
        payloads[lines["event"]] = lines["data"]
    assert payloads["passages"] == PASSAGES
    assert payloads["delta"] == '{"text": "{\\"answer\\":\\"Hold"}'
    # Stream events are json.dumps'd: Python's float format (1e-07, 1.5e-05).
    assert payloads["answer"] == json.dumps(json.loads(ANSWER), ensure_ascii=False)
    assert '"score": 1e-07' in payloads["answer"] and '"pack": 1.5e-05' in payloads["answer"]


def stored_job(tenant: str = "acme", kb: str = "handbook") -> Job:
    return Job(
        id="job_fixed",
        tenant=tenant,
        kb=f"{tenant}__{kb}",
        kb_name=kb,
        kind="files",
        inputs=["a.md", "scan.pdf"],
        state="failed",
        created_at="2024-05-01T10:00:00+00:00",
        started_at="2024-05-01T10:00:01+00:00",
        finished_at=None,
        counts=JobCounts(files=2, parsed=1, chunked=3, embedded=3, indexed=3, failed=1),
        errors=[FileError(file="scan.pdf", error="encrypted PDF — no text")],
        timings=JobTimings(parse=0.0004567, embed=1.23456, index=2.675, total=1e-07),
        message="1 file failed",
        resumed=2,
    )


JOB = (
    '{"id":"job_fixed","kb":"handbook","state":"failed","created_at":"2024-05-01T10:00:00+00:00",'
    '"started_at":"2024-05-01T10:00:01+00:00","finished_at":null,"counts":{"files":2,"parsed":1,'
    '"chunked":3,"embedded":3,"indexed":3,"unchanged":0,"deleted":0,"failed":1},"errors":'
    '[{"file":"scan.pdf","error":"encrypted PDF — no text"}],"timings":{"parse":0.0,'
    '"embed":1.235,"index":2.675,"total":0.0},"message":"1 file failed","resumed":2}'
)


def test_job_body_bytes(api: Api) -> None:
    admin = api.key()
    api.services.jobs.store.insert(stored_job())
    response = api.client.get("/v1/jobs/job_fixed", headers=admin)
    assert response.status_code == 200, response.text
    assert response.content.decode() == JOB


# A row of jobs.db as the dataclass Job wrote it (json.dumps of dataclasses.asdict).
STORED_ROW = (
    '{"id":"job_fixed","tenant":"acme","kb":"acme__handbook","kb_name":"handbook","kind":"files",'
    '"inputs":["a.md","scan.pdf"],"state":"failed","created_at":"2024-05-01T10:00:00+00:00",'
    '"started_at":"2024-05-01T10:00:01+00:00","finished_at":null,"counts":{"files":2,"parsed":1,'
    '"chunked":3,"embedded":3,"indexed":3,"unchanged":0,"deleted":0,"failed":1},"errors":'
    '[{"file":"scan.pdf","error":"encrypted PDF \\u2014 no text"}],"timings":{"parse":0.0004567,'
    '"embed":1.23456,"index":2.675,"total":1e-07},"message":"1 file failed","resumed":2}'
)


def test_rows_written_before_still_load(control: Engine) -> None:
    with control.begin() as conn:
        conn.execute(
            jobs.insert().values(
                id="job_fixed", tenant="acme", kb="acme__handbook", state="failed", data=STORED_ROW
            )
        )
    assert JobStore(control).get("job_fixed") == stored_job()


def _chunk(**fields: Any) -> str:
    chunk = ChatCompletionChunk(id="chatcmpl-1", created=1700000000, model="kb:docs", **fields)
    return json.dumps(chunk.model_dump(mode="json"), ensure_ascii=False)


def test_chat_chunk_bytes() -> None:
    first = _chunk(choices=[ChunkChoice(delta=Delta(role="assistant", content=""))])
    assert first == (
        '{"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1700000000, '
        '"model": "kb:docs", "choices": [{"index": 0, "delta": {"role": "assistant", '
        '"content": ""}, "finish_reason": null, "logprobs": null}], "usage": null, '
        '"system_fingerprint": null}'
    )
    cited = CitationObject(index=1, doc_id="d", chunk_id="c", title="Tï", page=None, text="x")
    last = _chunk(
        choices=[ChunkChoice(delta=Delta(content=" [1]"), finish_reason="stop")], citations=[cited]
    )
    assert last == (
        '{"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1700000000, '
        '"model": "kb:docs", "choices": [{"index": 0, "delta": {"content": " [1]"}, '
        '"finish_reason": "stop", "logprobs": null}], "usage": null, "citations": [{"index": 1, '
        '"doc_id": "d", "chunk_id": "c", "title": "Tï", "page": null, "text": "x"}], '
        '"system_fingerprint": null}'
    )
    usage = _chunk(
        choices=[], usage=CompletionUsage(prompt_tokens=3, completion_tokens=2, total_tokens=5)
    )
    assert usage == (
        '{"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1700000000, '
        '"model": "kb:docs", "choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 2, '
        '"total_tokens": 5}, "system_fingerprint": null}'
    )


ASK_JSON = """\
{
  "question": "Wie setze ich es zurück?",
  "answer": "Hold it for 10 s [1].",
  "answerable": true,
  "outcome": "answered",
  "confidence": 0.8,
  "data": null,
  "citations": [
    {
      "passage": 1,
      "chunk_id": "guide.md#0",
      "doc_id": "manuals/guide.md",
      "title": "Guide — Réglages",
      "page": 3,
      "text": "Hold the button — 10 s."
    }
  ],
  "passages": [
    {
      "number": 1,
      "chunk_id": "guide.md#0",
      "doc_id": "manuals/guide.md",
      "title": "Guide — Réglages",
      "page": 3,
      "score": 0.8765432101,
      "relevance": 0.1235,
      "truncated": false
    },
    {
      "number": 2,
      "chunk_id": "notes#4",
      "doc_id": "notes",
      "title": "",
      "page": null,
      "score": 1e-07,
      "relevance": -0.0,
      "truncated": true
    }
  ],
  "usage": {
    "prompt_tokens": 120,
    "completion_tokens": 7
  },
  "timings": {
    "retrieve": 0.0123456,
    "pack": 1.5e-05,
    "generate": 2.25,
    "total": 2.2623606
  },
  "profile": "local",
  "model": "fake-model",
  "attempts": 1,
  "quoted": false
}
"""


def test_rag_ask_json_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    from cli import ask

    async def answer_once(*_: Any) -> Answer:
        return fixed_answer()

    monkeypatch.setattr(ask, "opened", lambda name: contextlib.nullcontext())
    monkeypatch.setattr(ask, "answer_once", answer_once)
    result = CliRunner().invoke(app, ["ask", "handbook", "q", "--json"])
    assert result.exit_code == 0, result.output
    assert result.output == ASK_JSON


def test_the_wire_outcomes_are_the_domain_s() -> None:
    from typing import get_args

    from api import schemas
    from rag.answer import types

    assert get_args(schemas.Outcome) == get_args(types.Outcome)
