"""Grammar compilation and its cache: canonical keys, LRU behaviour, vLLM's JSON settings."""

from __future__ import annotations

import string
from typing import Any

import pytest
import xgrammar as xgr

from rag.generation.grammar import GrammarCache, canonical_json, schema_key

# A tiny byte-level-free vocabulary: every printable character is a token, plus a stop token.
VOCAB = [*string.printable, "</s>"]
STOP = len(VOCAB) - 1

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"a": {"type": "integer"}, "b": {"type": "string", "maxLength": 3}},
    "required": ["a", "b"],
    "additionalProperties": False,
}


@pytest.fixture
def cache() -> GrammarCache:
    info = xgr.TokenizerInfo(VOCAB, vocab_type=xgr.VocabType.RAW, stop_token_ids=[STOP])
    return GrammarCache(info, maxsize=2, threads=1)


def accepts(grammar: xgr.CompiledGrammar, text: str) -> bool:
    matcher = xgr.GrammarMatcher(grammar, terminate_without_stop_token=True)
    return matcher.accept_string(text) and matcher.is_terminated()


def test_canonical_json_ignores_keyword_order() -> None:
    shuffled = {
        "additionalProperties": False,
        "required": ["a", "b"],
        "properties": SCHEMA["properties"],
        "type": "object",
    }
    assert canonical_json(shuffled) == canonical_json(SCHEMA)
    assert schema_key(shuffled) == schema_key(SCHEMA)


def test_canonical_json_keeps_orders_the_grammar_depends_on() -> None:
    swapped = {**SCHEMA, "properties": {"b": SCHEMA["properties"]["b"], "a": {"type": "integer"}}}
    assert schema_key(swapped) != schema_key(SCHEMA)
    const_ab = {"type": "object", "properties": {"x": {"const": {"a": 1, "b": 2}}}}
    const_ba = {"type": "object", "properties": {"x": {"const": {"b": 2, "a": 1}}}}
    assert schema_key(const_ab) != schema_key(const_ba)
    assert (
        canonical_json(const_ab) == '{"properties":{"x":{"const":{"a":1,"b":2}}},"type":"object"}'
    )


def test_cold_compile_then_cache_hit(cache: GrammarCache) -> None:
    cold = cache.get(SCHEMA)
    assert (cache.stats.misses, cache.stats.hits) == (1, 0)
    reordered = dict(reversed(list(SCHEMA.items())))
    assert cache.get(reordered) is cold
    assert (cache.stats.misses, cache.stats.hits) == (1, 1)


def test_lru_evicts_the_least_recently_used(cache: GrammarCache) -> None:
    first = cache.get(SCHEMA)
    second_schema = {**SCHEMA, "required": ["a"]}
    cache.get(second_schema)
    assert cache.get(SCHEMA) is first  # refreshes SCHEMA: second_schema is now the oldest
    cache.get({**SCHEMA, "required": ["b"]})
    assert len(cache) == 2
    misses = cache.stats.misses
    assert cache.get(SCHEMA) is first
    cache.get(second_schema)
    assert cache.stats.misses == misses + 1


def test_grammar_is_compact_json_in_declared_order(cache: GrammarCache) -> None:
    grammar = cache.get(SCHEMA)
    assert accepts(grammar, '{"a":12,"b":"xyz"}')
    assert not accepts(grammar, '{"a": 12, "b": "xyz"}')  # no free whitespace, like vLLM
    assert not accepts(grammar, '{"b":"xyz","a":12}')
    assert not accepts(grammar, '{"a":12,"b":"wxyz"}')
    assert not accepts(grammar, '{"a":12,"b":"x","c":1}')


def test_maxsize_must_be_positive() -> None:
    info = xgr.TokenizerInfo(VOCAB, vocab_type=xgr.VocabType.RAW, stop_token_ids=[STOP])
    with pytest.raises(ValueError, match="maxsize"):
        GrammarCache(info, maxsize=0)
