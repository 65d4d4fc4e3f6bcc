"""Answer schemas: the default one, checks and wrapping of analysts' own, and validation.

xgrammar 0.2.8 turns a JSON schema into a grammar but silently drops what it cannot express
(negation, conditionals, `uniqueItems`, `contains`, `multipleOf` on numbers or with a range,
siblings of `$ref`/`anyOf`/`enum`, string bounds beside `pattern`/`format`, untyped string
or number bounds, non-local `$ref`...; each found by experiment, each tested). Generated
JSON could then break the caller's schema, so `check_user_schema` rejects those up front,
naming the keyword. The list also covers what vLLM's xgrammar backend rejects, so a schema
accepted here is accepted by both generators.

Patterns are enforced as whole-string matches (JSON Schema searches), a stricter reading
that can only narrow the output, so they pass.

Greedy decoding of a small model can loop inside a string or an array, so the answer schema
bounds string lengths, array sizes and number ranges, and wrapping bounds the user's strings
and arrays.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError
from jsonschema.validators import validator_for

from rag.errors import InvalidInputError
from rag.generation.base import JSONSchema
from rag.generation.grammar import JSON_GRAMMAR_OPTIONS
from rag.generation.schema_cycles import check_finite

# keyword -> why it cannot be enforced (and what to do instead)
UNSUPPORTED: dict[str, str] = {
    "not": "negation is not enforced",
    "if": "conditionals are not enforced",
    "then": "conditionals are not enforced",
    "else": "conditionals are not enforced",
    "dependentRequired": "dependencies are not enforced",
    "dependentSchemas": "dependencies are not enforced",
    "dependencies": "dependencies are not enforced",
    "contains": "not enforced",
    "minContains": "not enforced",
    "maxContains": "not enforced",
    "multipleOf": "not enforced for numbers or beside a range (and vLLM rejects it)",
    "oneOf": "enforced only as anyOf; use anyOf",
    "additionalItems": "not enforced; use prefixItems with items",
    "$dynamicRef": "not resolved",
    "$recursiveRef": "not resolved",
}
SUPPORTED_FORMATS = frozenset(
    {
        "email", "date", "time", "date-time", "duration", "ipv4", "ipv6", "hostname", "uuid",
        "uri", "uri-reference", "uri-template", "json-pointer", "relative-json-pointer",
    }
)  # fmt: skip
# Keywords that never constrain a value: harmless beside anything.
_ANNOTATIONS = frozenset(
    {
        "title", "description", "default", "examples", "$comment", "deprecated", "readOnly",
        "writeOnly", "$schema", "$id", "$anchor", "$defs", "definitions", "contentMediaType",
        "contentEncoding", "nullable",
    }
)  # fmt: skip
_STRING_KEYWORDS = ("minLength", "maxLength", "pattern", "format")
_NUMBER_KEYWORDS = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum")
_OBJECT_KEYWORDS = ("required", "minProperties", "maxProperties")
_LOOKAROUND = re.compile(r"\(\?<?[=!]")
_XGRAMMAR_PREFIX = re.compile(r"^\[[^\]]*\]\s*\S+:\d+:\s*")

DEFAULT_STRING_CHARS = 500
DEFAULT_ARRAY_ITEMS = 20


def default_answer_schema(
    n_passages: int, max_answer_chars: int = 600, max_citations: int = 5
) -> JSONSchema:
    """The answer object: text, citations of passages 1..n, answerable flag, confidence 0..1."""
    if max_answer_chars < 1:
        raise ValueError("max_answer_chars must be at least 1")
    return {
        "type": "object",
        "properties": {
            "answer": {"type": "string", "maxLength": max_answer_chars},
            "citations": citations_schema(n_passages, max_citations),
            "answerable": {"type": "boolean"},
            "confidence": {"type": "number", "minimum": 0, "maximum": 1},
        },
        "required": ["answer", "citations", "answerable", "confidence"],
        "additionalProperties": False,
    }


def citations_schema(n_passages: int, max_citations: int = 5) -> JSONSchema:
    """Passage numbers 1..n, at most `max_citations`; empty when no passage was retrieved.

    xgrammar cannot enforce `uniqueItems`, so callers drop repeated numbers themselves.
    """
    if n_passages < 0 or max_citations < 0:
        raise ValueError("n_passages and max_citations must not be negative")
    if n_passages == 0:
        return {"type": "array", "items": {"type": "integer"}, "maxItems": 0}
    return {
        "type": "array",
        "items": {"type": "integer", "enum": list(range(1, n_passages + 1))},
        "maxItems": min(max_citations, n_passages),
    }


def check_user_schema(schema: Any) -> None:
    """Raise `InvalidInputError` naming the first construct the grammar cannot enforce."""
    if not isinstance(schema, dict) or schema.get("type") != "object":
        raise InvalidInputError('the schema must describe a JSON object ("type": "object")')
    try:
        validator_for(schema, default=Draft202012Validator).check_schema(schema)
        _check_node(schema, "#", implied_type=None)
        check_finite(schema)
    except SchemaError as exc:
        raise InvalidInputError(f"invalid JSON schema: {exc.message}") from exc
    except RecursionError as exc:
        raise InvalidInputError("the schema nests too deeply") from exc
    # Imported here, its one use in this module: xgrammar imports torch and transformers
    # (seconds). Only a caller's own schema is compiled here, as before; the answer schema
    # the answer path builds itself (`default_answer_schema`) never came through this check
    # (tests/unit/test_schema.py compiles it), so a question without a schema loses no check.
    import xgrammar as xgr

    try:
        xgr.Grammar.from_json_schema(json.dumps(schema), **JSON_GRAMMAR_OPTIONS)
    except RuntimeError as exc:
        reason = _XGRAMMAR_PREFIX.sub("", str(exc).strip())
        raise InvalidInputError(f"schema not supported by the grammar engine: {reason}") from exc


def wrap_user_schema(
    schema: JSONSchema,
    n_passages: int,
    max_citations: int = 5,
    max_string_chars: int = DEFAULT_STRING_CHARS,
    max_items: int = DEFAULT_ARRAY_ITEMS,
) -> JSONSchema:
    """`{"data": <the user's object>, "citations": [...], "answerable": bool}`.

    The user's schema sits whole under "data" (its names can never clash with ours), with
    two changes: `$ref`s are re-rooted to "#/properties/data", and strings and arrays without
    a bound get `maxLength`/`maxItems`, so greedy decoding cannot loop in them. Numbers keep
    the user's ranges (inventing one would change their meaning); `max_tokens` bounds those.
    """
    check_user_schema(schema)
    # A JSON round trip, not deepcopy: a subschema object used twice (a Python caller's
    # dict) must become two, or rebasing would prefix its $ref twice.
    copied = json.loads(json.dumps(schema))
    data = {k: v for k, v in copied.items() if k not in ("$schema", "$id")}
    _visit(data, None, _rebase_ref)
    _visit(data, None, lambda node, implied: _bound(node, implied, max_string_chars, max_items))
    return {
        "type": "object",
        "properties": {
            "data": data,
            "citations": citations_schema(n_passages, max_citations),
            "answerable": {"type": "boolean"},
        },
        "required": ["data", "citations", "answerable"],
        "additionalProperties": False,
    }


def validation_errors(instance: Any, schema: JSONSchema) -> list[str]:
    """Every way `instance` breaks `schema` (formats included), as readable lines."""
    cls = validator_for(schema, default=Draft202012Validator)
    validator = cls(schema, format_checker=cls.FORMAT_CHECKER)
    return [
        f"{error.json_path}: {error.message}"
        for error in sorted(validator.iter_errors(instance), key=lambda e: e.json_path)
    ]


def _types(node: dict[str, Any], implied_type: str | None) -> set[str]:
    declared = node.get("type", implied_type)
    if isinstance(declared, str):
        return {declared}
    return set(declared) if isinstance(declared, list) else set()


def _subschemas(node: dict[str, Any], path: str) -> Iterator[tuple[Any, str, str | None]]:
    """(child schema, its JSON pointer, a type it implies) for every schema-valued keyword."""
    for key in ("items", "additionalProperties", "unevaluatedProperties", "unevaluatedItems"):
        if key in node:
            yield node[key], f"{path}/{key}", None
    if "propertyNames" in node:
        # Property names are strings even when the schema says no type.
        yield node["propertyNames"], f"{path}/propertyNames", "string"
    for key in ("properties", "patternProperties", "$defs", "definitions"):
        if isinstance(node.get(key), dict):
            for name, child in node[key].items():
                yield child, f"{path}/{key}/{name}", None
    for key in ("prefixItems", "anyOf", "allOf"):
        if isinstance(node.get(key), list):
            for i, child in enumerate(node[key]):
                yield child, f"{path}/{key}/{i}", None


def _unsupported(keyword: str, path: str, why: str) -> InvalidInputError:
    return InvalidInputError(f"unsupported JSON schema keyword '{keyword}' at {path}: {why}")


def _check_node(node: Any, path: str, implied_type: str | None) -> None:
    if not isinstance(node, dict):
        return  # true/false schemas; xgrammar itself rejects `false` where it cannot hold
    for keyword in node:
        if keyword in UNSUPPORTED:
            raise _unsupported(keyword, path, UNSUPPORTED[keyword])
    if node.get("uniqueItems") is True:
        raise _unsupported("uniqueItems", path, "not enforced")
    for wrapper in ("$ref", "anyOf", "allOf", "enum", "const"):
        if wrapper in node:
            _check_siblings(node, wrapper, path)
    if not any(k in node for k in ("$ref", "anyOf", "allOf", "enum", "const")):
        _check_typed(node, path, _types(node, implied_type))
    for child, child_path, implied in _subschemas(node, path):
        _check_node(child, child_path, implied)


def _check_siblings(node: dict[str, Any], wrapper: str, path: str) -> None:
    """`$ref`, `anyOf`, `allOf`, `enum` and `const` make xgrammar ignore other constraints."""
    allowed = _ANNOTATIONS | {wrapper}
    if wrapper in ("enum", "const"):
        allowed |= {"type", "enum", "const"}
        values = node["enum"] if wrapper == "enum" else [node["const"]]
        if "type" in node and any(validation_errors(v, {"type": node["type"]}) for v in values):
            raise _unsupported("type", path, f"ignored beside '{wrapper}'; make them agree")
    for keyword in node:
        if keyword not in allowed:
            raise _unsupported(keyword, path, f"ignored beside '{wrapper}'; move it inside")
    if wrapper == "$ref" and not (node["$ref"] == "#" or str(node["$ref"]).startswith("#/")):
        raise _unsupported("$ref", path, "only local references ('#' or '#/...') resolve")
    if wrapper == "allOf" and len(node["allOf"]) != 1:
        raise _unsupported("allOf", path, "several schemas are not merged; merge them")


def _check_typed(node: dict[str, Any], path: str, types: set[str]) -> None:
    string_keys = [k for k in _STRING_KEYWORDS if k in node]
    if string_keys and not types:
        raise _unsupported(string_keys[0], path, 'ignored without "type": "string"')
    if "pattern" in node or "format" in node:
        bound = next((k for k in ("minLength", "maxLength") if k in node), None)
        if bound:
            raise _unsupported(bound, path, "ignored beside 'pattern' or 'format'")
    if isinstance(node.get("pattern"), str) and _LOOKAROUND.search(node["pattern"]):
        raise _unsupported("pattern", path, "lookaround assertions are ignored")
    if "format" in node and node["format"] not in SUPPORTED_FORMATS:
        raise _unsupported("format", path, f"'{node['format']}' is not enforced")
    number_keys = [k for k in _NUMBER_KEYWORDS if k in node]
    if number_keys and not types:
        raise _unsupported(number_keys[0], path, 'ignored without "type": "integer" or "number"')
    object_keys = [k for k in _OBJECT_KEYWORDS if k in node]
    if object_keys and not types and "properties" not in node:
        raise _unsupported(object_keys[0], path, 'ignored without "type": "object"')
    for key in ("patternProperties", "propertyNames"):
        if key in node and "object" not in types:
            raise _unsupported(key, path, 'ignored without "type": "object"')
    _check_object_combinations(node, path)


def _check_object_combinations(node: dict[str, Any], path: str) -> None:
    """Combinations xgrammar mis-handles (vLLM rejects the same ones)."""
    patterns = node.get("patternProperties")
    if isinstance(patterns, dict) and ("properties" in node or len(patterns) > 1):
        raise _unsupported("patternProperties", path, "only one, and not beside 'properties'")
    if "propertyNames" in node and (
        any(k in node for k in ("properties", "patternProperties"))
        or isinstance(node.get("additionalProperties"), dict)
        or node.get("unevaluatedProperties", True) is not True
    ):
        raise _unsupported("propertyNames", path, "conflicts with other property keywords")


def _visit(
    node: Any, implied: str | None, fn: Callable[[dict[str, Any], str | None], None]
) -> None:
    if isinstance(node, dict):
        fn(node, implied)
        for child, _, child_implied in _subschemas(node, ""):
            _visit(child, child_implied, fn)


def _rebase_ref(node: dict[str, Any], _implied: str | None) -> None:
    ref = node.get("$ref")
    if isinstance(ref, str):
        node["$ref"] = "#/properties/data" + ref[1:]


def _bound(node: dict[str, Any], implied: str | None, max_chars: int, max_items: int) -> None:
    if any(k in node for k in ("$ref", "enum", "const", "anyOf", "allOf")):
        return
    types = _types(node, implied)
    free_string = not any(k in node for k in ("maxLength", "pattern", "format"))
    if "string" in types and free_string:
        node["maxLength"] = max(max_chars, node.get("minLength", 0))
    if ("array" in types or "items" in node or "prefixItems" in node) and "maxItems" not in node:
        node["maxItems"] = max(max_items, node.get("minItems", 0), len(node.get("prefixItems", [])))
