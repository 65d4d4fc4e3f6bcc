"""Recursive answer schemas: refuse those that no finite JSON value can satisfy.

A `$ref` cycle with no way out (`a` refers to `b`, `b` to `a`; or an object whose required
property refers back to the object) describes only infinite values. xgrammar accepts such a
schema and builds a grammar that can never finish: generation then fails deep inside the
matcher ("the grammar rejected token 0 it had allowed") or loops until the token budget runs
out, tens of seconds of CPU later. So every subschema must be able to finish, checked before
any generation by a least fixpoint over the schema: a subschema can finish once some choice
of it needs only subschemas already known to finish. Recursion with a way out (an optional
child, an array that may be empty) passes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from rag.errors import InvalidInputError

Resolve = Callable[[str, str], Any]
_T = TypeVar("_T")


def check_finite(schema: dict[str, Any]) -> None:
    """Raise `InvalidInputError` naming a subschema that only infinite values satisfy."""
    nodes, order = _analyse(schema)
    for key, (_, path) in sorted(nodes.items(), key=lambda item: item[1][1]):
        if key not in order:
            raise InvalidInputError(
                f"the schema at {path} can never be finished: every value of it contains "
                "itself ($ref cycle without a way out); make the recursive property optional, "
                "allow an empty array, or offer an alternative with anyOf"
            )


def finish_order(schema: dict[str, Any]) -> dict[int, int]:
    """For each subschema that can finish (by `id`), when the fixpoint found it could.

    A subschema found at step n needs only subschemas found before n, so always taking the
    earliest-found choice builds a finite value (the fake generator does).
    """
    return _analyse(schema)[1]


Nodes = dict[int, tuple[dict[str, Any], str]]  # id -> (subschema, its JSON pointer)


def _analyse(schema: dict[str, Any]) -> tuple[Nodes, dict[int, int]]:
    nodes: Nodes = dict(_walk(schema, "#"))
    resolve = _resolver(schema)
    # Subschemas reached only through a $ref are part of the grammar too.
    pending = list(nodes.values())
    while pending:
        node, path = pending.pop()
        ref = node.get("$ref")
        if isinstance(ref, str):
            target = resolve(ref, path)
            if isinstance(target, dict) and id(target) not in nodes:
                found = dict(_walk(target, ref))
                nodes.update(found)
                pending.extend(found.values())
    finite: dict[int, int] = {}  # id -> the step it was found at
    changed = True
    while changed:
        changed = False
        for key, (node, path) in nodes.items():
            if key not in finite and _can_finish(node, path, finite, resolve):
                finite[key] = len(finite)
                changed = True
    return nodes, finite


def _walk(node: Any, path: str) -> Iterator[tuple[int, tuple[dict[str, Any], str]]]:
    if not isinstance(node, dict):
        return
    yield id(node), (node, path)
    for child, child_path in _children(node, path):
        yield from _walk(child, child_path)


def _children(node: dict[str, Any], path: str) -> Iterator[tuple[Any, str]]:
    for key in ("items", "additionalProperties", "unevaluatedProperties", "unevaluatedItems"):
        if key in node:
            yield node[key], f"{path}/{key}"
    for key in ("properties", "patternProperties", "$defs", "definitions"):
        if isinstance(node.get(key), dict):
            for name, child in node[key].items():
                yield child, f"{path}/{key}/{name}"
    for key in ("prefixItems", "anyOf", "allOf"):
        if isinstance(node.get(key), list):
            for i, child in enumerate(node[key]):
                yield child, f"{path}/{key}/{i}"


def _resolver(root: dict[str, Any]) -> Resolve:
    def resolve(ref: str, at: str) -> Any:
        target: Any = root
        for raw in ref.removeprefix("#").split("/")[1:]:
            part = raw.replace("~1", "/").replace("~0", "~")
            if isinstance(target, dict) and part in target:
                target = target[part]
            elif isinstance(target, list) and part.isdigit() and int(part) < len(target):
                target = target[int(part)]
            else:
                raise InvalidInputError(f"the $ref {ref!r} at {at} points at nothing")
        return target

    return resolve


def _can_finish(node: dict[str, Any], path: str, finite: dict[int, int], resolve: Resolve) -> bool:
    def done(child: Any) -> bool:
        return child is not False and (not isinstance(child, dict) or id(child) in finite)

    ref = node.get("$ref")
    if isinstance(ref, str):
        return done(resolve(ref, path))
    if "enum" in node or "const" in node:
        return True
    if isinstance(node.get("anyOf"), list) and not any(done(c) for c in node["anyOf"]):
        return False
    if isinstance(node.get("allOf"), list) and not all(done(c) for c in node["allOf"]):
        return False
    types = _types(node)
    return not types or any(_type_can_finish(node, t, done) for t in types)


def _types(node: dict[str, Any]) -> set[str]:
    declared = node.get("type")
    if isinstance(declared, str):
        return {declared}
    if isinstance(declared, list):
        return {t for t in declared if isinstance(t, str)}
    if "properties" in node or "required" in node:
        return {"object"}
    if "items" in node or "prefixItems" in node:
        return {"array"}
    return set()


def _type_can_finish(node: dict[str, Any], type_: str, done: Callable[[Any], bool]) -> bool:
    if type_ == "object":
        properties = _of(node, "properties", dict, {})
        extra = node.get("additionalProperties", True)
        return all(done(properties.get(name, extra)) for name in _of(node, "required", list, []))
    if type_ == "array":
        prefix = _of(node, "prefixItems", list, [])
        least = _of(node, "minItems", int, 0)
        needed = [prefix[i] if i < len(prefix) else node.get("items", True) for i in range(least)]
        return all(done(item) for item in needed)
    return True


def _of(node: dict[str, Any], key: str, kind: type[_T], default: _T) -> _T:
    """`node[key]` when it has the expected kind (the meta-schema check ran before)."""
    value = node.get(key)
    return value if isinstance(value, kind) else default
