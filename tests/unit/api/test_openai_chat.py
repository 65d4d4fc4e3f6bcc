"""/v1/chat/completions with the official `openai` client, on the fake models.

The `api` fixture (conftest.py) builds the app around the `generator` fixture, which this
module overrides with a scripted chat model: each test queues the JSON replies it needs.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator, Sequence
from typing import Any

import openai
import pytest
from pydantic import BaseModel
from starlette.requests import ClientDisconnect

from api.ratelimit import RateLimiter
from indexer.ingest import Ingestor
from rag.answer import NOT_IN_KB
from rag.generation.fake import ScriptedGenerator
from rag.tenancy import stored_name
from rag.types import Document, Section

Api = Any  # the `api` fixture of conftest.py

DOCS = [
    Document(
        "tides",
        (Section("The moon pulls the oceans and causes the tides twice a day.", page=3),),
        title="Tides",
    ),
    Document(
        "copper", (Section("Copper conducts electricity and is drawn into wires."),), title="Copper"
    ),
    Document(
        "ledger", (Section("A ledger records every transaction of a business."),), title="Ledger"
    ),
]
ANSWER = "The moon pulls the oceans [1]."


def answer_json(
    answer: str = ANSWER, citations: Sequence[int] = (1,), answerable: bool = True
) -> str:
    obj = {"answer": answer, "citations": list(citations), "answerable": answerable}
    return json.dumps(obj | {"confidence": 0.8}, separators=(",", ":"))


@pytest.fixture
def generator() -> ScriptedGenerator:
    """Replies with the queued JSON texts (a default answer when none is queued), 3-char deltas."""
    return ScriptedGenerator(name="chat-fake", answer=ANSWER, delta_chars=3)


def make_kb(api: Api, tenant: str, name: str, docs: Sequence[Document] = DOCS) -> None:
    stored = stored_name(tenant, name)
    api.services.workspace.create(stored, tenant=tenant)
    kb = api.services.kbs.get(stored)
    Ingestor.for_kb(kb, api.services.settings).ingest_documents(docs, progress=False)


def client_for(api: Api, headers: dict[str, str]) -> openai.OpenAI:
    secret = headers["Authorization"].removeprefix("Bearer ")
    return openai.OpenAI(
        base_url="http://testserver/v1", api_key=secret, http_client=api.client, max_retries=0
    )


@pytest.fixture
def chat(api: Api) -> Iterator[tuple[Api, openai.OpenAI, dict[str, str]]]:
    headers = api.key("acme", ["read"])
    make_kb(api, "acme", "facts")
    yield api, client_for(api, headers), headers


def user(text: str) -> dict[str, Any]:
    return {"role": "user", "content": text}


def prompt_of(generator: ScriptedGenerator, call: int = -1) -> str:
    return generator.calls[call].messages[1].content


# --- non-streaming ---------------------------------------------------------------------------


def test_completion_with_citations(chat: Any, generator: ScriptedGenerator) -> None:
    _, client, _ = chat
    generator.replies.append(answer_json())
    done = client.chat.completions.create(
        model="kb:facts", messages=[user("What causes the tides of the oceans?")]
    )
    assert done.object == "chat.completion" and done.id.startswith("chatcmpl-")
    assert done.model == "kb:facts"
    (choice,) = done.choices
    assert choice.finish_reason == "stop" and choice.message.role == "assistant"
    assert choice.message.content == ANSWER  # the model's own [1] is not repeated
    assert done.usage is not None
    assert done.usage.completion_tokens == generator.count_tokens(answer_json())
    assert done.usage.total_tokens == done.usage.prompt_tokens + done.usage.completion_tokens
    (cited,) = (done.model_extra or {})["citations"]
    assert cited["index"] == 1 and cited["doc_id"] == "tides" and cited["title"] == "Tides"
    assert cited["page"] == 3 and "moon pulls" in cited["text"] and cited["chunk_id"]
    assert prompt_of(generator).endswith("Question: What causes the tides of the oceans?")
    assert generator.calls[0].max_tokens == 256  # the profile's budget when the request sets none


def test_missing_citation_markers_are_appended(chat: Any, generator: ScriptedGenerator) -> None:
    _, client, _ = chat
    generator.replies.append(answer_json("The moon does it [2].", citations=[1, 3, 2]))
    done = client.chat.completions.create(model="kb:facts", messages=[user("tides?")])
    assert done.choices[0].message.content == "The moon does it [2]. [1][3]"
    assert [c["index"] for c in (done.model_extra or {})["citations"]] == [1, 3, 2]


def test_a_follow_up_is_retrieved_with_the_turn_it_follows(
    chat: Any, generator: ScriptedGenerator
) -> None:
    _, client, _ = chat
    history = [
        {"role": "system", "content": "You are a helpful assistant."},
        user("What causes the tides of the oceans?"),
        {"role": "assistant", "content": ANSWER},
        user("How often do they happen?"),
    ]
    client.chat.completions.create(model="kb:facts", messages=history)  # type: ignore[arg-type]
    prompt = prompt_of(generator)
    # The model is asked the follow-up as written; retrieval found the tides passage first.
    assert prompt.endswith("Question: How often do they happen?")
    assert prompt.startswith("Passages:\n\n[1] Tides (page 3)\n")
    client.chat.completions.create(
        model="kb:facts",
        messages=[*history, user("Why does copper conduct electricity in wires?")],  # type: ignore[list-item]
    )
    assert prompt_of(generator).startswith("Passages:\n\n[1] Copper\n")


def test_text_parts_developer_messages_and_ignored_parameters(
    chat: Any, generator: ScriptedGenerator
) -> None:
    api, _, headers = chat
    body = {
        "model": "kb:facts",
        "messages": [
            {"role": "developer", "content": [{"type": "text", "text": "Be brief."}]},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What causes"},
                    {"type": "text", "text": "the tides?"},
                ],
            },
        ],
        "temperature": 0.7,
        "top_p": 0.9,
        "seed": 7,
        "user": "u-1",
        "presence_penalty": 0.5,
        "frequency_penalty": 0.1,
        "stop": ["\n"],
        "n": 1,
        "stream_options": None,
        "response_format": {"type": "text"},
        "some_frontend_extra": {"chat_id": "abc"},
    }
    done = api.client.post("/v1/chat/completions", json=body, headers=headers)
    assert done.status_code == 200, done.text
    assert prompt_of(generator).endswith("Question: What causes\nthe tides?")


def test_max_tokens_bounds_the_generation(chat: Any, generator: ScriptedGenerator) -> None:
    _, client, _ = chat
    client.chat.completions.create(model="kb:facts", messages=[user("tides?")], max_tokens=40)
    client.chat.completions.create(
        model="kb:facts", messages=[user("tides?")], max_completion_tokens=50
    )
    assert [call.max_tokens for call in generator.calls] == [40, 50]


def test_a_profile_model_uses_that_profile(chat: Any, generator: ScriptedGenerator) -> None:
    api, client, _ = chat
    client.chat.completions.create(model="kb:facts@big", messages=[user("tides?")])
    metrics = api.services.metrics.render().decode()
    assert 'rag_generated_tokens_total{profile="big"}' in metrics


def test_abstentions_are_normal_completions(chat: Any, generator: ScriptedGenerator) -> None:
    api, client, _ = chat
    generator.replies.append(answer_json("Maybe the sun.", answerable=False))
    done = client.chat.completions.create(model="kb:facts", messages=[user("tides?")])
    assert done.choices[0].message.content == NOT_IN_KB
    assert done.choices[0].finish_reason == "stop"
    assert (done.model_extra or {})["citations"] == []
    make_kb(api, "acme", "empty", docs=[])  # nothing to retrieve: no generation at all
    calls = len(generator.calls)
    done = client.chat.completions.create(model="kb:empty", messages=[user("tides?")])
    assert done.choices[0].message.content == NOT_IN_KB
    assert done.usage is not None and done.usage.completion_tokens == 0
    assert len(generator.calls) == calls


@pytest.mark.parametrize(
    ("extra", "param"),
    [
        ({"n": 2}, "n"),
        ({"tools": [{"type": "function", "function": {"name": "f"}}]}, "tools"),
        ({"functions": [{"name": "f"}]}, "functions"),
        ({"logprobs": True}, "logprobs"),
        ({"top_logprobs": 3}, "top_logprobs"),
        ({"response_format": {"type": "json_object"}}, "response_format.type"),
        (
            {"response_format": {"type": "json_schema", "json_schema": {"name": "x"}}},
            "response_format.json_schema.schema",
        ),
    ],
)
def test_unsupported_parameters_are_refused_by_name(
    chat: Any, extra: dict[str, Any], param: str
) -> None:
    api, _, headers = chat
    body = {"model": "kb:facts", "messages": [user("tides?")]} | extra
    refused = api.client.post("/v1/chat/completions", json=body, headers=headers)
    assert refused.status_code == 400, refused.text
    error = refused.json()["error"]
    assert error["param"] == param and error["type"] == "invalid_request_error"


def test_hybrid_fusion_is_a_request_extension(chat: Any, generator: ScriptedGenerator) -> None:
    api, client, headers = chat
    for fusion in ({"fusion": "tmm", "fusion_weight": 0.8}, {"fusion": "minmax"}):
        done = client.chat.completions.create(
            model="kb:facts", messages=[user("What causes the tides?")], extra_body=fusion
        )
        assert (done.model_extra or {})["citations"][0]["doc_id"] == "tides"
    body = {"model": "kb:facts", "messages": [user("tides?")], "fusion_weight": 2}
    refused = api.client.post("/v1/chat/completions", json=body, headers=headers)
    assert refused.status_code in (400, 422), refused.text
    assert refused.json()["error"]["param"] == "body.fusion_weight"


def test_image_parts_and_missing_questions_are_refused(chat: Any) -> None:
    api, client, headers = chat
    image = {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}
    body = {
        "model": "kb:facts",
        "messages": [{"role": "user", "content": [{"type": "text", "text": "what?"}, image]}],
    }
    refused = api.client.post("/v1/chat/completions", json=body, headers=headers)
    assert refused.status_code == 400
    assert refused.json()["error"]["param"] == "messages[0].content[1]"
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(
            model="kb:facts", messages=[{"role": "system", "content": "hi"}]
        )
    assert caught.value.code == "no_question"
    invalid_role = {"model": "kb:facts", "messages": [{"role": "wizard", "content": "x"}]}
    assert (
        api.client.post("/v1/chat/completions", json=invalid_role, headers=headers).status_code
        == 422
    )


def test_unknown_and_foreign_models_are_not_found(chat: Any) -> None:
    api, client, _ = chat
    make_kb(api, "globex", "secrets")
    for model in ("gpt-4o", "kb:nope", "kb:facts@nope", "kb:secrets", "kb:", "kb:facts@"):
        with pytest.raises(openai.NotFoundError) as caught:
            client.chat.completions.create(model=model, messages=[user("tides?")])
        assert caught.value.code == "model_not_found", model
        assert caught.value.param == "model"
    limited = client_for(api, api.key("acme", ["read"], kbs=["other"]))
    with pytest.raises(openai.PermissionDeniedError):
        limited.chat.completions.create(model="kb:facts", messages=[user("tides?")])


def test_generated_tokens_are_rate_limited(chat: Any) -> None:
    api, client, _ = chat
    api.services.limiter = RateLimiter(1000, 5)
    client.chat.completions.create(model="kb:facts", messages=[user("tides?")])
    with pytest.raises(openai.RateLimitError) as caught:
        client.chat.completions.create(model="kb:facts", messages=[user("tides?")])
    assert caught.value.code == "token_rate_limited"
    assert int(caught.value.response.headers["retry-after"]) >= 1


# --- structured outputs ----------------------------------------------------------------------


class Cause(BaseModel):
    cause: str
    times_per_day: int


def data_json(data: Any, answerable: bool = True) -> str:
    obj = {"data": data, "citations": [1], "answerable": answerable}
    return json.dumps(obj, separators=(",", ":"))


def test_parse_with_a_pydantic_response_format(chat: Any, generator: ScriptedGenerator) -> None:
    _, client, _ = chat
    generator.replies.append(data_json({"cause": "the moon \u00e9", "times_per_day": 2}))
    done = client.chat.completions.parse(
        model="kb:facts", messages=[user("What causes the tides?")], response_format=Cause
    )
    message = done.choices[0].message
    assert message.parsed == Cause(cause="the moon \u00e9", times_per_day=2)
    assert message.refusal is None
    assert [c["doc_id"] for c in (done.model_extra or {})["citations"]] == ["tides"]
    schema = generator.calls[0].schema
    assert schema["properties"]["data"]["required"] == ["cause", "times_per_day"]


def test_a_structured_abstention_is_a_refusal(chat: Any, generator: ScriptedGenerator) -> None:
    _, client, _ = chat
    generator.replies.append(data_json({"cause": "?", "times_per_day": 0}, answerable=False))
    done = client.chat.completions.parse(
        model="kb:facts", messages=[user("What causes the tides?")], response_format=Cause
    )
    message = done.choices[0].message
    assert message.parsed is None and message.content is None
    assert message.refusal == NOT_IN_KB
    assert (done.model_extra or {})["citations"] == []


def test_an_unsupported_schema_is_a_400(chat: Any) -> None:
    api, _, headers = chat
    schema = {"type": "object", "not": {"required": ["x"]}}
    body = {
        "model": "kb:facts",
        "messages": [user("tides?")],
        "response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": schema}},
    }
    for stream in (False, True):
        refused = api.client.post(
            "/v1/chat/completions", json=body | {"stream": stream}, headers=headers
        )
        assert refused.status_code == 400 and "'not'" in refused.json()["error"]["message"]


# --- streaming -------------------------------------------------------------------------------


def sse_data(text: str) -> list[str]:
    frames = [f for f in text.split("\n\n") if f]
    assert all(f.startswith("data: ") for f in frames), frames
    return [f.removeprefix("data: ") for f in frames]


def test_stream_wire_format(chat: Any, generator: ScriptedGenerator) -> None:
    api, _, headers = chat
    generator.replies.append(answer_json("The moon does it.", citations=[1, 2]))
    body = {"model": "kb:facts", "messages": [user("tides?")], "stream": True}
    response = api.client.post("/v1/chat/completions", json=body, headers=headers)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.headers["cache-control"] == "no-cache"
    assert response.headers["x-accel-buffering"] == "no"
    *frames, done = sse_data(response.text)
    assert done == "[DONE]"
    # The bytes: `data: <json>` lines, each followed by a blank line, nothing else.
    assert response.text == "".join(f"data: {f}\n\n" for f in [*frames, done])
    assert all(f == json.dumps(json.loads(f), ensure_ascii=False) for f in frames)
    chunks = [json.loads(f) for f in frames]
    assert len({(c["id"], c["created"], c["model"]) for c in chunks}) == 1
    assert all(c["object"] == "chat.completion.chunk" and c["usage"] is None for c in chunks)
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    middle = chunks[1:-1]
    assert len(middle) > 3  # the words come as the model writes them
    assert all(set(c["choices"][0]["delta"]) == {"content"} for c in middle)
    assert all(c["choices"][0]["finish_reason"] is None and "citations" not in c for c in middle)
    last = chunks[-1]
    assert last["choices"][0] == {
        "index": 0,
        "delta": {"content": " [1][2]"},
        "finish_reason": "stop",
        "logprobs": None,
    }
    assert [c["index"] for c in last["citations"]] == [1, 2]
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks)
    assert text == "The moon does it. [1][2]"


def test_stream_with_the_openai_client_and_usage(chat: Any, generator: ScriptedGenerator) -> None:
    _, client, _ = chat
    reply = answer_json('Moon "pull" \u2014 \U0001f30a twice a day [1].')
    generator.replies.append(reply)
    stream = client.chat.completions.create(
        model="kb:facts",
        messages=[user("tides?")],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == 'Moon "pull" \u2014 \U0001f30a twice a day [1].'
    *_, final, usage = chunks
    assert final.choices[0].finish_reason == "stop"
    assert [c["doc_id"] for c in (final.model_extra or {})["citations"]] == ["tides"]
    assert usage.choices == [] and usage.usage is not None
    assert usage.usage.completion_tokens == generator.count_tokens(reply)
    assert all(c.usage is None for c in chunks[:-1])


def test_stream_abstention_after_words_were_sent(chat: Any, generator: ScriptedGenerator) -> None:
    _, client, _ = chat
    generator.replies.append(answer_json("Maybe the sun", answerable=False))
    chunks = list(
        client.chat.completions.create(model="kb:facts", messages=[user("tides?")], stream=True)
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert text == f"Maybe the sun\n\n{NOT_IN_KB}"
    assert (chunks[-1].model_extra or {})["citations"] == []


def test_stream_with_nothing_relevant(chat: Any, generator: ScriptedGenerator) -> None:
    api, client, _ = chat
    make_kb(api, "acme", "empty", docs=[])
    chunks = list(
        client.chat.completions.create(model="kb:empty", messages=[user("tides?")], stream=True)
    )
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == NOT_IN_KB
    assert generator.calls == []


def test_stream_structured_output(chat: Any, generator: ScriptedGenerator) -> None:
    _, client, _ = chat
    data = {"cause": 'the "moon"\n', "times_per_day": 2}
    generator.replies.append(data_json(data))
    with client.chat.completions.stream(
        model="kb:facts", messages=[user("tides?")], response_format=Cause
    ) as stream:
        pieces = [e.delta for e in stream if e.type == "content.delta"]
        final = stream.get_final_completion()
    assert len(pieces) > 3 and json.loads("".join(pieces)) == data
    assert final.choices[0].message.parsed == Cause(**data)


def test_stream_structured_abstention_is_a_refusal(chat: Any, generator: ScriptedGenerator) -> None:
    _, client, _ = chat
    generator.replies.append(data_json({"cause": "?", "times_per_day": 0}, answerable=False))
    with client.chat.completions.stream(
        model="kb:facts", messages=[user("tides?")], response_format=Cause
    ) as stream:
        refusals = [e.delta for e in stream if e.type == "refusal.delta"]
    assert refusals == [NOT_IN_KB]


def test_stream_errors_after_the_start_are_sent_in_the_stream(
    chat: Any, generator: ScriptedGenerator
) -> None:
    api, client, headers = chat
    generator.replies.append('{"answer":"The moon [1].","citations":[9],"answerable":true}')
    body = {"model": "kb:facts", "messages": [user("tides?")], "stream": True}
    response = api.client.post("/v1/chat/completions", json=body, headers=headers)
    assert response.status_code == 200
    *frames, error, done = sse_data(response.text)
    assert done == "[DONE]"
    assert json.loads(error)["error"]["type"] == "generator_error"
    assert "The moon [1]." in "".join(
        json.loads(f)["choices"][0]["delta"].get("content", "") for f in frames
    )
    generator.replies.append("not json at all")
    with pytest.raises(openai.APIError):
        list(client.chat.completions.create(model="kb:facts", messages=[user("x")], stream=True))
    violations = api.services.metrics.render().decode()
    assert 'rag_schema_violations_total{profile="local"} 2.0' in violations


def test_stream_errors_before_the_start_are_http_errors(chat: Any) -> None:
    _, client, _ = chat
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(model="kb:nope", messages=[user("x")], stream=True)
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(
            model="kb:facts", messages=[user("x")], stream=True, max_tokens=2000
        )
    assert "no room for passages" in caught.value.message


# --- a client that goes away stops the generation --------------------------------------------


def first_words(chunk: bytes) -> bool:
    """Whether a chunk of either answer stream carries words of the answer."""
    if chunk.startswith(b"event: delta"):  # the native route
        return True
    if not chunk.startswith(b"data: {"):
        return False
    delta = json.loads(chunk.removeprefix(b"data: "))["choices"][0]["delta"]
    return "role" not in delta  # the chat route's first chunk only says who speaks


def asgi_disconnect(
    app: Any, path: str, body: bytes, spec_version: str, generator: ScriptedGenerator
) -> tuple[list[bytes], bool]:
    """POST `body` to an answer route's stream and go away after the first words.

    Returns the frames received and whether the generation was closed when the app returned
    (not later, when asyncio.run closes leftover generators).
    """
    gone = asyncio.Event()
    received: list[bytes] = []
    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": spec_version},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
        "state": {},
    }
    first = True

    async def receive() -> dict[str, Any]:
        nonlocal first
        if first:
            first = False
            return {"type": "http.request", "body": body, "more_body": False}
        await gone.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if gone.is_set() and spec_version == "2.4":
            raise OSError("the client went away")
        if message["type"] == "http.response.body":
            chunk = message.get("body", b"")
            received.append(chunk)
            if first_words(chunk):  # enough, leave
                gone.set()
                # A slow socket: the disconnect lands while the response awaits `send`,
                # with the chunk generator suspended at its `yield`.
                await asyncio.sleep(0.05)

    async def run() -> bool:
        try:
            await asyncio.wait_for(app(scope, receive, send), timeout=10)
        except ClientDisconnect:  # how ASGI 2.4 servers learn of it from Starlette
            assert spec_version == "2.4"
        return generator.closed

    return received, asyncio.run(run())


STREAMS = {
    "/v1/chat/completions": {"model": "kb:facts", "messages": [user("tides?")], "stream": True},
    "/v1/kbs/facts/answer": {"question": "tides?", "stream": True},
}


@pytest.mark.parametrize("path", list(STREAMS))
@pytest.mark.parametrize("spec_version", ["2.3", "2.4"])
def test_a_disconnect_closes_the_generation(
    local_api: Api, generator: ScriptedGenerator, spec_version: str, path: str
) -> None:
    make_kb(local_api, "default", "facts")
    generator.delay = 0.002
    generator.replies.append(answer_json("word " * 200))
    body = json.dumps(STREAMS[path]).encode()
    received, closed = asgi_disconnect(local_api.client.app, path, body, spec_version, generator)
    assert closed
    assert generator.produced < 100  # of about 340 deltas: it stopped when the client left
    assert not any(b"[DONE]" in chunk or b"event: answer" in chunk for chunk in received)
