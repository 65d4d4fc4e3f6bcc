"""The extractive profile over HTTP: native answers, streams and OpenAI chat say it is quoted."""

from __future__ import annotations

import json
from typing import Any

import openai
import pytest

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
    Document("copper", (Section("Copper conducts electricity and is drawn into wires."),)),
]
QUESTION = "What causes the tides of the oceans?"
TIDES = "The moon pulls the oceans and causes the tides twice a day. [1]"
NOTE = "Quoted from the knowledge base (profile extractive; no model wrote this):\n\n"


@pytest.fixture
def generator() -> ScriptedGenerator:
    return ScriptedGenerator(name="chat-fake", answer="Generated.")


@pytest.fixture
def kb(api: Api) -> tuple[Api, dict[str, str]]:
    stored = stored_name("acme", "facts")
    api.services.workspace.create(stored, tenant="acme")
    Ingestor.for_kb(api.services.kbs.get(stored), api.services.settings).ingest_documents(
        DOCS, progress=False
    )
    return api, api.key("acme", ["read"])


def client_for(api: Api, headers: dict[str, str]) -> openai.OpenAI:
    secret = headers["Authorization"].removeprefix("Bearer ")
    return openai.OpenAI(
        base_url="http://testserver/v1", api_key=secret, http_client=api.client, max_retries=0
    )


def test_native_answer_is_quoted_and_names_its_profile(
    kb: tuple[Api, dict[str, str]], generator: ScriptedGenerator
) -> None:
    api, headers = kb
    body = {"question": QUESTION, "profile": "extractive", "k": 1}
    done = api.client.post("/v1/kbs/facts/answer", json=body, headers=headers).json()
    assert (done["answer"], done["quoted"], done["profile"]) == (TIDES, True, "extractive")
    assert done["model"].startswith("extractive (") and done["usage"]["completion_tokens"] == 0
    assert [c["doc_id"] for c in done["citations"]] == ["tides"]
    assert generator.calls == []


def test_native_stream_ends_with_the_quoted_answer(kb: tuple[Api, dict[str, str]]) -> None:
    api, headers = kb
    body = {"question": QUESTION, "profile": "extractive", "k": 1, "stream": True}
    with api.client.stream("POST", "/v1/kbs/facts/answer", json=body, headers=headers) as r:
        lines = [line for line in r.iter_lines() if line.startswith(("event:", "data:"))]
    events = [line.removeprefix("event: ") for line in lines if line.startswith("event:")]
    assert events == ["passages", "delta", "answer"]
    final = json.loads(lines[-1].removeprefix("data: "))
    assert final["quoted"] is True and final["answer"] == TIDES


def test_a_schema_sent_to_the_quoting_profile_is_a_400_naming_who_can(
    kb: tuple[Api, dict[str, str]],
) -> None:
    api, headers = kb
    schema = {"type": "object", "properties": {"x": {"type": "string"}}, "required": ["x"]}
    body = {"question": QUESTION, "profile": "extractive", "schema": schema}
    response = api.client.post("/v1/kbs/facts/answer", json=body, headers=headers)
    assert response.status_code == 400
    message = response.json()["error"]["message"]
    assert "cannot fill a JSON schema" in message and message.endswith("big, local")


def test_chat_marks_quoted_text_and_names_profile_and_model(
    kb: tuple[Api, dict[str, str]],
) -> None:
    api, headers = kb
    client = client_for(api, headers)
    messages: Any = [{"role": "user", "content": QUESTION}]
    done = client.chat.completions.create(model="kb:facts@extractive", messages=messages)
    content = done.choices[0].message.content or ""
    assert content.startswith(NOTE + "The moon pulls the oceans")
    by = (done.model_extra or {})["answered_by"]
    assert (by["profile"], by["quoted"]) == ("extractive", True)
    generated = client.chat.completions.create(model="kb:facts@local", messages=messages)
    assert (generated.model_extra or {})["answered_by"] == {
        "profile": "local",
        "model": "chat-fake",
        "quoted": False,
    }
    assert not (generated.choices[0].message.content or "").startswith("Quoted")


def test_chat_stream_of_a_quoted_answer(kb: tuple[Api, dict[str, str]]) -> None:
    api, headers = kb
    client = client_for(api, headers)
    messages: Any = [{"role": "user", "content": QUESTION}]
    chunks = list(
        client.chat.completions.create(model="kb:facts@extractive", messages=messages, stream=True)
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text.startswith(NOTE + "The moon pulls the oceans") and text.count("[1]") == 1
    assert (chunks[-1].model_extra or {})["answered_by"]["quoted"] is True


def test_a_quoting_abstention_in_chat_has_no_quoted_note(kb: tuple[Api, dict[str, str]]) -> None:
    api, headers = kb
    client = client_for(api, headers)
    messages: Any = [{"role": "user", "content": "What did Tesla earn in 2023?"}]
    for stream in (False, True):
        if stream:
            chunks = client.chat.completions.create(
                model="kb:facts@extractive", messages=messages, stream=True
            )
            text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        else:
            done = client.chat.completions.create(model="kb:facts@extractive", messages=messages)
            text = done.choices[0].message.content or ""
        assert text == NOT_IN_KB
