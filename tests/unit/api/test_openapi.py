"""/openapi.json describes every operation's success body, the native API's errors and its auth."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

Api = Any  # the `api` fixture of conftest.py
Operation = tuple[str, str, dict[str, Any]]

# The OpenAI-compatible routes answer OpenAI's format, described by api.openai.schemas.
OPENAI = {"/v1/models", "/v1/models/{model}", "/v1/chat/completions", "/v1/embeddings"}


def operations(spec: dict[str, Any]) -> Iterator[Operation]:
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            yield path, method.upper(), operation


def _ref(schema: dict[str, Any]) -> str:
    return str(schema.get("$ref", "")).rsplit("/", 1)[-1]


def test_every_success_response_has_a_schema(api: Api) -> None:
    spec = api.client.get("/openapi.json").json()
    seen: set[str] = set()
    for path, method, operation in operations(spec):
        where = f"{method} {path}"
        success = {s: r for s, r in operation["responses"].items() if s.startswith("2")}
        assert success, where
        for status, response in success.items():
            content = response.get("content", {})
            if status == "204":
                assert not content, where  # no body
                continue
            assert content, where
            for media, body in content.items():
                schema = body.get("schema") or {}
                seen.add(media)
                if media == "application/json":
                    # A named model (a $ref), never the empty schema of an untyped body.
                    assert _ref(schema) in spec["components"]["schemas"], where
                elif media in ("text/event-stream", "text/plain"):
                    assert schema.get("type") == "string", where
                else:
                    raise AssertionError(f"{where}: undocumented media type {media}")
    assert {"application/json", "text/event-stream", "text/plain"} <= seen


def test_the_answer_and_its_stream_are_described(api: Api) -> None:
    spec = api.client.get("/openapi.json").json()
    ok = spec["paths"]["/v1/kbs/{kb}/answer"]["post"]["responses"]["200"]["content"]
    assert _ref(ok["application/json"]["schema"]) == "AnswerOut"
    assert "`passages`" in ok["text/event-stream"]["schema"]["description"]
    answer = spec["components"]["schemas"]["AnswerOut"]
    assert {"citations", "passages", "usage", "timings", "attempts"} <= set(answer["required"])
    metrics = spec["paths"]["/metrics"]["get"]["responses"]["200"]["content"]
    assert set(metrics) == {"text/plain"}


def test_native_errors_are_documented_as_the_error_object(api: Api) -> None:
    spec = api.client.get("/openapi.json").json()
    for path, method, operation in operations(spec):
        if path in OPENAI:
            continue
        where = f"{method} {path}"
        errors = {int(s): r for s, r in operation["responses"].items() if int(s) >= 400}
        if path.startswith("/v1/") and path != "/v1/oauth/token":
            assert {401, 403, 429} <= set(errors), where  # every authenticated route
        if "requestBody" in operation or operation.get("parameters"):
            assert 422 in errors, where
        for status, response in errors.items():
            expected = "ReadyOut" if path == "/readyz" else "ErrorOut"
            assert _ref(response["content"]["application/json"]["schema"]) == expected, (
                where,
                status,
            )
    error = spec["components"]["schemas"]["ErrorOut"]
    assert set(error["properties"]) == {"error", "request_id"}


def test_security_schemes(api: Api) -> None:
    spec = api.client.get("/openapi.json").json()
    schemes = spec["components"]["securitySchemes"]
    assert schemes["HTTPBearer"] == {
        "type": "http",
        "scheme": "bearer",
        "description": schemes["HTTPBearer"]["description"],
    }
    assert schemes["HTTPBasic"]["type"] == "http" and schemes["HTTPBasic"]["scheme"] == "basic"
    assert spec["paths"]["/v1/kbs"]["get"]["security"] == [{"HTTPBearer": []}]
    assert spec["paths"]["/v1/oauth/token"]["post"]["security"] == [{"HTTPBasic": []}]
    assert "security" not in spec["paths"]["/healthz"]["get"]
