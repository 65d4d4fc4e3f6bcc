"""A recursive schema that can never finish is 400 before any generation, on both routes."""

from __future__ import annotations

from typing import Any

import pytest
from test_native_routes import _kb_with_docs

from rag.generation.fake import ScriptedGenerator

Api = Any

PAIR_CYCLE = {
    "type": "object",
    "$defs": {"a": {"$ref": "#/$defs/b"}, "b": {"$ref": "#/$defs/a"}},
    "properties": {"x": {"$ref": "#/$defs/a"}},
}
REQUIRED_SELF = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "child": {"$ref": "#"}},
    "required": ["name", "child"],
}


@pytest.mark.parametrize("schema", [PAIR_CYCLE, REQUIRED_SELF])
@pytest.mark.parametrize("stream", [False, True])
def test_answer_route_refuses_unfinishable_schemas(
    api: Api, generator: ScriptedGenerator, schema: dict[str, Any], stream: bool
) -> None:
    headers = api.key()
    _kb_with_docs(api, headers)
    body = {"question": "refunds?", "schema": schema, "stream": stream}
    got = api.client.post("/v1/kbs/handbook/answer", json=body, headers=headers)
    assert got.status_code == 400, got.text
    assert "can never be finished" in got.json()["error"]["message"]
    assert generator.calls == []


@pytest.mark.parametrize("schema", [PAIR_CYCLE, REQUIRED_SELF])
def test_chat_response_format_refuses_unfinishable_schemas(
    api: Api, generator: ScriptedGenerator, schema: dict[str, Any]
) -> None:
    headers = api.key()
    _kb_with_docs(api, headers)
    body = {
        "model": "kb:handbook",
        "messages": [{"role": "user", "content": "refunds?"}],
        "response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": schema}},
    }
    got = api.client.post("/v1/chat/completions", json=body, headers=headers)
    assert got.status_code == 400, got.text
    assert "can never be finished" in got.json()["error"]["message"]
    assert generator.calls == []
