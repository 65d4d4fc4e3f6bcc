"""Answer schemas: building, checking user schemas against what xgrammar enforces, wrapping.

Each rejected construct is also shown to be silently ignored by xgrammar 0.2.8: its grammar
accepts an instance that breaks the schema. If a new xgrammar starts enforcing one, that
test fails and the check can be relaxed.
"""

from __future__ import annotations

import copy
import json
import re
from typing import Any, Literal

import pytest
import xgrammar as xgr
from pydantic import BaseModel, Field

from rag.errors import InvalidInputError
from rag.generation.grammar import JSON_GRAMMAR_OPTIONS
from rag.generation.schema import (
    check_user_schema,
    default_answer_schema,
    validation_errors,
    wrap_user_schema,
)

# An empty vocabulary is enough to match whole strings against a grammar.
COMPILER = xgr.GrammarCompiler(xgr.TokenizerInfo([]), cache_enabled=False)


def grammar_accepts(schema: dict[str, Any], instance: Any) -> bool:
    grammar = COMPILER.compile_json_schema(json.dumps(schema), **JSON_GRAMMAR_OPTIONS)
    matcher = xgr.GrammarMatcher(grammar, terminate_without_stop_token=True)
    text = json.dumps(instance, separators=(",", ":"))
    return matcher.accept_string(text) and matcher.is_terminated()


def with_x(prop: Any) -> dict[str, Any]:
    """An object schema whose one required property `x` has schema `prop`."""
    return {
        "type": "object",
        "properties": {"x": prop},
        "required": ["x"],
        "additionalProperties": False,
        "$defs": {"small": {"type": "integer", "maximum": 3}},
    }


INT_PAIR = {"a": {"type": "integer"}, "b": {"type": "integer"}}

# (keyword named in the error, schema of x, a value of x that breaks it but the grammar allows)
IGNORED_BY_XGRAMMAR = [
    ("not", {"type": "integer", "not": {"const": 3}}, 3),
    ("if", {"type": "integer", "if": {"minimum": 5}, "then": {"maximum": 7}}, 9),
    (
        "dependentRequired",
        {"type": "object", "properties": INT_PAIR, "dependentRequired": {"a": ["b"]}},
        {"a": 1},
    ),
    (
        "dependentSchemas",
        {"type": "object", "properties": INT_PAIR, "dependentSchemas": {"a": {"required": ["b"]}}},
        {"a": 1},
    ),
    ("contains", {"type": "array", "items": {"type": "integer"}, "contains": {"const": 5}}, [1]),
    ("uniqueItems", {"type": "array", "items": {"type": "integer"}, "uniqueItems": True}, [1, 1]),
    ("multipleOf", {"type": "number", "multipleOf": 0.5}, 1.3),
    ("multipleOf", {"type": "integer", "multipleOf": 7, "maximum": 100}, 15),
    (
        "oneOf",
        {"oneOf": [{"type": "integer", "minimum": 0}, {"type": "integer", "maximum": 10}]},
        5,
    ),
    ("allOf", {"allOf": [{"type": "integer"}, {"maximum": 3}]}, 4),
    ("type", {"type": "integer", "anyOf": [{"maximum": 3}, {"minimum": 10}]}, "abc"),
    ("maximum", {"$ref": "#/$defs/small", "maximum": 2}, 3),
    ("maxLength", {"type": "string", "enum": ["abcdef"], "maxLength": 2}, "abcdef"),
    ("type", {"type": "string", "const": 3}, 3),
    ("maxLength", {"type": "string", "pattern": "^[a-z]+$", "maxLength": 3}, "abcdef"),
    ("maxLength", {"type": "string", "format": "date", "maxLength": 3}, "2024-01-01"),
    ("format", {"type": "string", "format": "regex"}, "("),
    ("pattern", {"type": "string", "pattern": "(?!ab)[a-z]{2}"}, "ab"),
    ("maxLength", {"maxLength": 2}, "abc"),
    ("minimum", {"minimum": 3}, 2),
    ("required", {"required": ["a"]}, {}),
    ("patternProperties", {"patternProperties": {"^a.*$": {"type": "integer"}}}, {"ab": "s"}),
]

# Rejected without a counter-example: vLLM refuses them, or they name no local schema.
REJECTED = [
    (
        "additionalItems",
        {
            "type": "array",
            "prefixItems": [{"type": "integer"}],
            "additionalItems": {"type": "string"},
        },
    ),
    ("$ref", {"$ref": "https://example.com/item.json"}),
    ("$ref", {"$ref": "#item"}),
    ("$dynamicRef", {"$dynamicRef": "#meta"}),
    (
        "patternProperties",
        {
            "type": "object",
            "properties": INT_PAIR,
            "patternProperties": {"^s_": {"type": "integer"}},
        },
    ),
    (
        "propertyNames",
        {"type": "object", "properties": INT_PAIR, "propertyNames": {"maxLength": 2}},
    ),
    (
        "propertyNames",
        {
            "type": "object",
            "propertyNames": {"maxLength": 2},
            "additionalProperties": {"type": "integer"},
        },
    ),
    ("multipleOf", {"type": "integer", "multipleOf": 3}),
]

# (schema of x, a valid value, an invalid one): accepted, and enforced by the grammar.
ENFORCED = [
    ({"type": "integer", "minimum": 1, "maximum": 5}, 5, 6),
    ({"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1}, 0.5, 1),
    ({"type": "string", "minLength": 2, "maxLength": 3}, "abc", "abcd"),
    ({"type": "string", "pattern": "^[a-z]+$"}, "abc", "ABC"),
    ({"type": "string", "format": "date"}, "2024-02-29", "yesterday"),
    ({"type": "integer", "enum": [1, 2]}, 2, 3),
    ({"const": "on"}, "on", "off"),
    ({"type": "array", "items": {"type": "integer"}, "minItems": 1, "maxItems": 2}, [1], [1, 2, 3]),
    (
        {"type": "array", "prefixItems": [{"type": "integer"}, {"type": "string"}], "items": False},
        [1, "a"],
        ["a", 1],
    ),
    ({"anyOf": [{"type": "integer"}, {"type": "null"}], "description": "optional"}, None, "a"),
    ({"type": ["string", "null"], "maxLength": 2}, "ab", "abc"),
    ({"$ref": "#/$defs/small", "description": "a small number"}, 3, 4),
    ({"allOf": [{"type": "integer", "maximum": 3}]}, 3, 4),
    (
        {"type": "object", "properties": {"not": {"type": "boolean"}}, "required": ["not"]},
        {"not": True},
        {},
    ),
    ({"type": "object", "propertyNames": {"maxLength": 2}}, {"ab": 1}, {"abc": 1}),
    (
        {"type": "array", "items": {"type": "integer"}, "uniqueItems": False, "maxItems": 1},
        [1],
        [1, 1],
    ),
]


@pytest.mark.parametrize(("keyword", "prop", "bad"), IGNORED_BY_XGRAMMAR)
def test_constructs_xgrammar_ignores_are_rejected(keyword: str, prop: Any, bad: Any) -> None:
    schema = with_x(prop)
    assert validation_errors({"x": bad}, schema), "the counter-example must break the schema"
    assert grammar_accepts(schema, {"x": bad}), "xgrammar now enforces this: relax the check"
    with pytest.raises(InvalidInputError, match=re.escape(f"'{keyword}' at #/properties/x")):
        check_user_schema(schema)


@pytest.mark.parametrize(("keyword", "prop"), REJECTED)
def test_other_unsupported_constructs_are_rejected(keyword: str, prop: Any) -> None:
    with pytest.raises(InvalidInputError, match=re.escape(f"'{keyword}'")):
        check_user_schema(with_x(prop))


@pytest.mark.parametrize(("prop", "good", "bad"), ENFORCED)
def test_enforceable_constructs_pass_and_are_enforced(prop: Any, good: Any, bad: Any) -> None:
    schema = with_x(prop)
    check_user_schema(schema)
    assert validation_errors({"x": good}, schema) == []
    assert validation_errors({"x": bad}, schema)
    assert grammar_accepts(schema, {"x": good})
    assert not grammar_accepts(schema, {"x": bad})


@pytest.mark.parametrize(
    ("schema", "message"),
    [
        ({"type": "array", "items": {"type": "integer"}}, "JSON object"),
        ([{"type": "object"}], "JSON object"),
        ({"type": "object", "properties": {"a": {"type": 5}}}, "invalid JSON schema"),
        ({"type": "object", "properties": {"a": {"$ref": "#/$defs/nope"}}}, "points at nothing"),
        (with_x({"type": "string", "minLength": 3, "maxLength": 1}), "greater than maxLength"),
        (with_x({"type": "integer", "minimum": 1.5}), "whole number"),
    ],
)
def test_schemas_that_cannot_compile_are_rejected(schema: Any, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        check_user_schema(schema)


def answer(citations: list[int], confidence: float = 0.5) -> dict[str, Any]:
    return {"answer": "yes", "citations": citations, "answerable": True, "confidence": confidence}


def test_default_schema_restricts_citations_to_retrieved_passages() -> None:
    schema = default_answer_schema(3, max_answer_chars=10, max_citations=2)
    check_user_schema(schema)
    assert validation_errors(answer([1, 3]), schema) == []
    assert validation_errors(answer([4]), schema)
    assert validation_errors(answer([1, 2, 3]), schema)  # more than max_citations
    assert validation_errors(answer([1], confidence=1.5), schema)
    assert validation_errors({**answer([1]), "answer": "x" * 11}, schema)
    assert validation_errors({**answer([1]), "extra": 1}, schema)
    assert grammar_accepts(schema, answer([1, 3]))
    assert not grammar_accepts(schema, answer([4]))
    assert not grammar_accepts(schema, {**answer([1]), "answer": "x" * 11})


def test_default_schema_without_passages_allows_no_citation() -> None:
    schema = default_answer_schema(0)
    assert schema["properties"]["citations"]["maxItems"] == 0
    assert grammar_accepts(schema, {**answer([]), "answerable": False})
    assert not grammar_accepts(schema, answer([1]))
    assert validation_errors(answer([1]), schema)


def test_default_schema_caps_citations_at_passage_count() -> None:
    citations = default_answer_schema(2, max_citations=5)["properties"]["citations"]
    assert citations["maxItems"] == 2
    assert citations["items"]["enum"] == [1, 2]


USER: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "properties": {
        "company": {"type": "string"},
        "ticker": {"type": "string", "pattern": "^[A-Z]{1,5}$"},
        "sector": {"type": "string", "enum": ["tech", "energy"]},
        "risks": {"type": "array", "items": {"$ref": "#/$defs/risk"}},
        "parent": {"anyOf": [{"$ref": "#"}, {"type": "null"}]},
    },
    "required": ["company", "ticker", "sector", "risks", "parent"],
    "additionalProperties": False,
    "$defs": {"risk": {"type": "string", "minLength": 600}},
}


def test_wrap_keeps_the_user_schema_whole_under_data() -> None:
    original = copy.deepcopy(USER)
    wrapped = wrap_user_schema(USER, n_passages=2, max_string_chars=40, max_items=3)
    assert original == USER  # not mutated
    assert wrapped["required"] == ["data", "citations", "answerable"]
    assert wrapped["properties"]["citations"]["items"]["enum"] == [1, 2]
    data = wrapped["properties"]["data"]
    assert "$schema" not in data
    props = data["properties"]
    assert props["company"] == {"type": "string", "maxLength": 40}
    assert props["ticker"] == USER["properties"]["ticker"]  # pattern bounds it already
    assert props["sector"] == USER["properties"]["sector"]
    assert props["risks"]["maxItems"] == 3
    assert data["$defs"]["risk"]["maxLength"] == 600  # never below minLength
    assert props["risks"]["items"] == {"$ref": "#/properties/data/$defs/risk"}
    assert props["parent"]["anyOf"][0] == {"$ref": "#/properties/data"}
    check_user_schema(wrapped)


def test_wrapped_schema_validates_and_constrains_generation() -> None:
    wrapped = wrap_user_schema(USER, n_passages=2, max_string_chars=40, max_items=3)
    inner: dict[str, Any] = {
        "company": "Acme",
        "ticker": "ACM",
        "sector": "tech",
        "risks": [],
        "parent": None,
    }
    good = {
        "data": {**inner, "parent": {**inner, "company": "Acme Holdings"}},
        "citations": [2],
        "answerable": True,
    }
    assert validation_errors(good, wrapped) == []
    assert validation_errors(good["data"], USER) == []
    assert grammar_accepts(wrapped, good)
    for bad in (
        {**good, "citations": [3]},
        {**good, "data": {**inner, "sector": "retail"}},
        {**good, "data": {**inner, "company": "x" * 41}},
    ):
        assert validation_errors(bad, wrapped)
        assert not grammar_accepts(wrapped, bad)


def test_wrap_rejects_unsupported_schemas() -> None:
    with pytest.raises(InvalidInputError, match="'not'"):
        wrap_user_schema(with_x({"type": "integer", "not": {"const": 1}}), n_passages=1)


class Risk(BaseModel):
    name: str = Field(max_length=40)
    severity: Literal["low", "high"]


class Report(BaseModel):
    company: str
    risks: list[Risk] = Field(max_length=3)
    parent: str | None = None
    score: float = Field(ge=0, le=1)


def test_pydantic_model_schemas_are_accepted() -> None:
    schema = Report.model_json_schema()
    check_user_schema(schema)
    wrapped = wrap_user_schema(schema, n_passages=1)
    report = Report(company="Acme", risks=[Risk(name="debt", severity="high")], score=0.25)
    data = report.model_dump()
    instance = {"data": data, "citations": [1], "answerable": True}
    assert validation_errors(instance, wrapped) == []
    assert grammar_accepts(wrapped, instance)
    assert not grammar_accepts(wrapped, {**instance, "data": {**data, "score": 2}})


def test_validation_errors_name_the_path() -> None:
    errors = validation_errors({"x": "abc"}, with_x({"type": "string", "maxLength": 2}))
    assert errors == ["$.x: 'abc' is too long"]


def test_absurdly_deep_schemas_are_rejected() -> None:
    schema: dict[str, Any] = {"type": "integer"}
    for _ in range(5000):
        schema = {"type": "object", "properties": {"a": schema}}
    with pytest.raises(InvalidInputError, match="too deeply"):
        check_user_schema(schema)


# Recursive schemas (issue 11, item 4): a $ref cycle without a way out compiled, then failed
# inside generation; one with a way out must keep working.
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
NONEMPTY_SELF_ARRAY = {
    "type": "object",
    "properties": {"kids": {"type": "array", "items": {"$ref": "#"}, "minItems": 1}},
    "required": ["kids"],
}
ALLOF_CYCLE = {
    "type": "object",
    "$defs": {"n": {"allOf": [{"$ref": "#/$defs/n"}]}},
    "properties": {"x": {"$ref": "#/$defs/n"}},
}


@pytest.mark.parametrize(
    ("schema", "where"),
    [
        (PAIR_CYCLE, "#/$defs/a"),
        (REQUIRED_SELF, "#"),
        (NONEMPTY_SELF_ARRAY, "#"),
        (ALLOF_CYCLE, "#/$defs/n"),
    ],
)
def test_ref_cycles_without_a_way_out_are_rejected(schema: dict[str, Any], where: str) -> None:
    with pytest.raises(InvalidInputError, match=f"schema at {re.escape(where)} can never"):
        check_user_schema(schema)


TREE = {
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "children": {"type": "array", "items": {"$ref": "#"}},
    },
    "required": ["name", "children"],
    "additionalProperties": False,
}
LINKED = {
    "type": "object",
    "$defs": {
        "node": {
            "anyOf": [
                {"type": "null"},
                {
                    "type": "object",
                    "properties": {"v": {"type": "integer"}, "next": {"$ref": "#/$defs/node"}},
                    "required": ["v", "next"],
                    "additionalProperties": False,
                },
            ]
        }
    },
    "properties": {"list": {"$ref": "#/$defs/node"}},
    "required": ["list"],
    "additionalProperties": False,
}


@pytest.mark.parametrize(
    ("schema", "value"),
    [
        (TREE, {"name": "a", "children": [{"name": "b", "children": []}]}),
        (LINKED, {"list": {"v": 1, "next": {"v": 2, "next": None}}}),
    ],
)
def test_recursion_with_a_way_out_is_accepted_and_generated(
    schema: dict[str, Any], value: Any
) -> None:
    check_user_schema(schema)
    wrapped = wrap_user_schema(schema, n_passages=1)
    good = {"data": value, "citations": [1], "answerable": True}
    assert validation_errors(good, wrapped) == []
    assert grammar_accepts(wrapped, good)
