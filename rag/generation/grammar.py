"""JSON-schema grammars for constrained decoding: xgrammar compilation and a bounded LRU cache.

The compile options are the ones vLLM's xgrammar backend uses with free whitespace disabled
(compact JSON, "," and ":" separators, strict objects), so a schema constrains the local model
exactly as it constrains the vLLM server.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rag.generation.base import JSONSchema

# xgrammar imports torch and transformers (seconds): imported by the cache that compiles, so
# schema.py can share the compile options below without paying for it.
if TYPE_CHECKING:
    import xgrammar as xgr

# Passed verbatim to xgrammar; schema.py checks user schemas with the same options.
JSON_GRAMMAR_OPTIONS: dict[str, Any] = {
    "any_whitespace": False,
    "indent": None,
    "separators": (",", ":"),
    "strict_mode": True,
}

# Keys whose value is data, not schema: their key order is part of the grammar.
_DATA_KEYWORDS = frozenset({"enum", "const", "default", "examples"})


def canonical_json(schema: JSONSchema) -> str:
    """Compact JSON with schema keywords sorted, keeping every order the grammar depends on.

    xgrammar emits object properties in declared order and `const`/`enum` objects verbatim,
    so those orders are kept; every other mapping is sorted, so two schemas that differ
    only in keyword order share one compiled grammar.
    """
    return json.dumps(_canonical(schema), separators=(",", ":"), ensure_ascii=False)


def _canonical(node: Any) -> Any:
    if isinstance(node, list):
        return [_canonical(item) for item in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key in sorted(node):
        value = node[key]
        if key in _DATA_KEYWORDS:
            out[key] = value
        elif key == "properties" and isinstance(value, dict):
            # A property map: its order is the output order; its values are schemas.
            out[key] = {name: _canonical(sub) for name, sub in value.items()}
        else:
            out[key] = _canonical(value)
    return out


def schema_key(schema: JSONSchema) -> str:
    """Cache key of a schema: SHA-256 of its canonical JSON."""
    return hashlib.sha256(canonical_json(schema).encode()).hexdigest()


@dataclass
class CacheStats:
    hits: int = 0
    misses: int = 0


class GrammarCache:
    """Compiles JSON schemas for one tokenizer and keeps the `maxsize` most recently used."""

    def __init__(
        self, tokenizer_info: xgr.TokenizerInfo, maxsize: int = 64, threads: int = 2
    ) -> None:
        if maxsize < 1:
            raise ValueError("maxsize must be at least 1")
        import xgrammar as xgr

        # xgrammar's own cache is unbounded by count; ours is the one LRU, keyed by schema.
        self._compiler = xgr.GrammarCompiler(
            tokenizer_info, max_threads=threads, cache_enabled=False
        )
        self._maxsize = maxsize
        self._grammars: OrderedDict[str, xgr.CompiledGrammar] = OrderedDict()
        self._lock = threading.Lock()
        self.stats = CacheStats()

    def __len__(self) -> int:
        return len(self._grammars)

    def get(self, schema: JSONSchema) -> xgr.CompiledGrammar:
        """The compiled grammar of `schema`, compiling it on a miss."""
        key = schema_key(schema)
        with self._lock:
            grammar = self._grammars.get(key)
            if grammar is not None:
                self._grammars.move_to_end(key)
                self.stats.hits += 1
                return grammar
        # Compile outside the lock: a slow schema must not stall requests for cached ones.
        grammar = self._compiler.compile_json_schema(canonical_json(schema), **JSON_GRAMMAR_OPTIONS)
        with self._lock:
            self.stats.misses += 1
            self._grammars[key] = grammar
            self._grammars.move_to_end(key)
            while len(self._grammars) > self._maxsize:
                self._grammars.popitem(last=False)
        return grammar
