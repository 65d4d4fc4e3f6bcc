"""Schemathesis against the OpenAPI description: generated requests never get a 5xx.

Runs in process on the fake models (no generation cost), with a real key and a KB holding a
document, so requests naming `handbook` reach the real route code. Example counts are small:
this is a smoke run in `make test`, not an exhaustive fuzz. Operations are driven through
Hypothesis directly: schemathesis' pytest plugin does not support pytest 9.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

Api = Any
EXAMPLES = 12


@pytest.fixture
def recursive_api(api: Api) -> tuple[Api, dict[str, str]]:
    """The app with a KB holding a document, and an admin key of its tenant."""
    headers = api.key("acme")
    api.client.post("/v1/kbs", json={"name": "handbook"}, headers=headers)
    records = [{"id": "refunds", "text": "Refunds are paid within 14 days."}]
    api.client.post("/v1/kbs/handbook/documents", json={"documents": records}, headers=headers)
    time.sleep(0.5)
    return api, headers


def test_no_operation_answers_5xx(api: Api) -> None:
    headers = api.key("acme")
    api.client.post("/v1/kbs", json={"name": "handbook"}, headers=headers)
    records = [{"id": "refunds", "text": "Refunds are paid within 14 days."}]
    api.client.post("/v1/kbs/handbook/documents", json={"documents": records}, headers=headers)
    time.sleep(0.5)
    schema = schemathesis.openapi.from_asgi("/openapi.json", api.client.app)
    failures: list[str] = []
    statuses: set[int] = set()
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 20

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def check(case: Any) -> None:
            # About half the calls reach the real KB, the rest a generated (missing) name.
            if "kb" in (case.path_parameters or {}) and len(repr(case.body)) % 2 == 0:
                case.path_parameters["kb"] = "handbook"
            response = case.call(headers=headers)
            statuses.add(response.status_code)
            if response.status_code >= 500:
                failures.append(f"{case.method} {case.formatted_path}: {response.text[:300]}")

        check()
    assert not failures, "\n".join(failures)
    # The run reached the routes themselves, not only the validation layer.
    assert {200, 201, 202} & statuses and {404, 422} <= statuses


# Numbers at the edges (issue 11): past int64, negative, booleans where ints go, floats,
# digit strings. They replace the numbers schemathesis generates inside JSON bodies (filters,
# where, metadata, k, limits) and query parameters.
EDGE_NUMBERS = st.one_of(
    st.sampled_from(
        [
            10**29, -(10**29), 2**63, -(2**63) - 1, 2**63 - 1, -(2**63), -1, 0, True, False,
            1e308, -1e308, 0.5, -0.0, "100000000000000000000000000000", "-9223372036854775809",
            "007", "9" * 5000, "1e400",
        ]
    ),
    st.integers(min_value=-(10**40), max_value=10**40),
    st.floats(allow_nan=False, allow_infinity=False),
    st.integers(min_value=-(10**40), max_value=10**40).map(str),
)  # fmt: skip
LEAVES = st.sampled_from(
    [
        {"type": "string"}, {"type": "integer"}, {"type": "boolean"}, {"type": "null"},
        {"$ref": "#"}, {"$ref": "#/$defs/node"},
    ]
)  # fmt: skip


def _object(children: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    props = st.dictionaries(st.sampled_from(["a", "b", "c"]), children, max_size=3)
    return props.flatmap(
        lambda p: (
            st.lists(st.sampled_from(sorted(p)), unique=True).map(
                lambda required: {"type": "object", "properties": p, "required": required}
            )
            if p
            else st.just({"type": "object", "properties": {}})
        )
    )


def _extend(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(
        _object(children),
        st.builds(
            lambda item, least: {"type": "array", "items": item, "minItems": least},
            children,
            st.sampled_from([0, 1]),
        ),
        st.lists(children, min_size=1, max_size=3).map(lambda branches: {"anyOf": branches}),
    )


NODES = st.recursive(LEAVES, _extend, max_leaves=6)
# Recursive answer schemas: finishable ones must answer, the others be refused with 400.
RECURSIVE_SCHEMAS = st.builds(
    lambda node, x: {
        "type": "object",
        "$defs": {"node": node},
        "properties": {"x": x},
        "required": ["x"],
    },
    NODES,
    NODES,
)
LEAKS = ("Traceback", "acme__", "/tmp/", "input_value", "sqlite3", "Error:")


def _with_edges(value: Any, data: st.DataObject) -> Any:
    """`value` with about half of its numbers (booleans included) drawn from EDGE_NUMBERS."""
    if isinstance(value, dict):
        return {k: _with_edges(v, data) for k, v in value.items()}
    if isinstance(value, list):
        return [_with_edges(v, data) for v in value]
    if isinstance(value, int | float) and data.draw(st.booleans()):
        return data.draw(EDGE_NUMBERS)
    return value


def _check(response: Any, where: str, failures: list[str]) -> None:
    if response.status_code >= 500:
        failures.append(f"{where}: {response.status_code} {response.text[:300]}")
    if response.status_code >= 400 and "json" in response.headers.get("content-type", ""):
        body = response.json()
        if not (isinstance(body, dict) and body.get("request_id") and "error" in body):
            failures.append(f"{where}: not the error object: {response.text[:300]}")
    leaked = [leak for leak in LEAKS if leak in response.text]
    if leaked:
        failures.append(f"{where}: leaked {leaked}: {response.text[:300]}")


def test_edge_numbers_never_answer_5xx_or_leak(api: Api) -> None:
    headers = api.key("acme")
    api.client.post("/v1/kbs", json={"name": "handbook"}, headers=headers)
    records = [{"id": "refunds", "text": "Refunds are paid within 14 days.", "metadata": {"y": 1}}]
    api.client.post("/v1/kbs/handbook/documents", json={"documents": records}, headers=headers)
    time.sleep(0.5)
    schema = schemathesis.openapi.from_asgi("/openapi.json", api.client.app)
    failures: list[str] = []
    statuses: set[int] = set()
    operations = [result.ok() for result in schema.get_all_operations()]
    with_numbers = [
        op for op in operations if op.method.upper() in ("POST", "GET") and "oauth" not in op.path
    ]

    for operation in with_numbers:

        @given(case=operation.as_strategy(), data=st.data())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def check(case: Any, data: st.DataObject) -> None:
            if "kb" in (case.path_parameters or {}):
                case.path_parameters["kb"] = "handbook"
            if isinstance(case.body, dict | list):
                case.body = _with_edges(case.body, data)
            if case.query:
                case.query = {
                    k: str(data.draw(EDGE_NUMBERS)) if data.draw(st.booleans()) else v
                    for k, v in case.query.items()
                }
            response = case.call(headers=headers)
            statuses.add(response.status_code)
            _check(response, f"{case.method} {case.formatted_path}", failures)

        check()
    assert not failures, "\n".join(failures)
    assert {200, 422} <= statuses


def test_recursive_schemas_answer_or_are_refused_never_5xx(recursive_api: Api) -> None:
    api, headers = recursive_api
    failures: list[str] = []
    statuses: set[int] = set()

    @given(schema=RECURSIVE_SCHEMAS)
    @settings(
        max_examples=40,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
        database=None,
    )
    def check(schema: dict[str, Any]) -> None:
        answer = api.client.post(
            "/v1/kbs/handbook/answer",
            json={"question": "refunds?", "schema": schema},
            headers=headers,
        )
        _check(answer, "answer", failures)
        chat = api.client.post(
            "/v1/chat/completions",
            json={
                "model": "kb:handbook",
                "messages": [{"role": "user", "content": "refunds?"}],
                "response_format": {
                    "type": "json_schema",
                    "json_schema": {"name": "x", "schema": schema},
                },
            },
            headers=headers,
        )
        _check(chat, "chat", failures)
        statuses.add(answer.status_code)
        if chat.status_code != answer.status_code:
            failures.append(f"chat {chat.status_code} but answer {answer.status_code}: {schema}")

    check()
    assert not failures, "\n".join(failures)
    # Both kinds were generated: schemas that finish and answer, and cycles refused.
    assert statuses == {200, 400}
