"""Query bodies: metadata filters, BM25F over title and text, filtered kNN.

Filters follow the local engine's forgiving equality: filter values often arrive as strings
(a CLI flag, a query parameter), so `"2020"` matches the number 2020, `2020` matches the string
"2020", and `"true"` matches JSON true. `metadata` is a flattened field that indexes each leaf
as the text of its JSON token, so a filter becomes a `terms` query on the spellings its value
may have been stored under.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from rag.embedding.base import Vectors
from rag.errors import InvalidInputError
from rag.stores.base import FILTER_ALIASES, Filters
from rag.stores.elasticsearch.codec import CHUNK

_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
_NUMBER = re.compile(r"^-?\d+(\.\d+)?([eE][-+]?\d+)?$")
# Elasticsearch's ceiling on kNN candidates per shard.
MAX_CANDIDATES = 10_000
# Vector fields are never read back: leaving them out keeps responses small.
SOURCE = {"excludes": ["vector"]}

Query = dict[str, Any]


def filter_clauses(filters: Filters | None, kind: str = CHUNK) -> list[Query]:
    """`bool.filter` clauses: entries of `kind` whose metadata matches every filter."""
    clauses: list[Query] = [{"term": {"kind": kind}}]
    for key, value in (filters or {}).items():
        values = spellings(key, value)
        fields = FILTER_ALIASES.get(_checked_key(key), (key,))
        matches = [{"terms": {f"metadata.{field}": values}} for field in fields]
        clauses.append(
            matches[0]
            if len(matches) == 1
            else {"bool": {"should": matches, "minimum_should_match": 1}}
        )
    return clauses


def spellings(key: str, value: object) -> list[str]:
    """Every stored token text that counts as equal to the filter value."""
    if isinstance(value, bool):  # before int: bool is an int subclass
        return ["true" if value else "false"]
    if isinstance(value, int | float):
        if not math.isfinite(value):
            raise InvalidInputError(f"filter {key!r}: {value!r} is not a finite number")
        # Refused as the embedded engine refuses it, so both engines keep one contract.
        if isinstance(value, int) and not -(2**63) <= value < 2**63:
            raise InvalidInputError(
                f"filter {key!r}: integer out of range (use -2^63 .. 2^63-1), got {value}"
            )
        return _number_spellings(value)
    if isinstance(value, str):
        out = [value]
        # Past 40 characters no number is meant (and int() refuses 4300+ digits).
        if len(value) <= 40 and _NUMBER.match(value):
            number = float(value) if any(c in value for c in ".eE") else int(value)
            if math.isfinite(number):
                out += _number_spellings(number)
        if value.lower() in ("true", "false"):
            out.append(value.lower())
        return list(dict.fromkeys(out))
    raise InvalidInputError(
        f"filter {key!r}: value must be a string, number or boolean, got {type(value).__name__}"
    )


def _number_spellings(number: int | float) -> list[str]:
    # JSON writes 2020 and 2020.0 differently; both are the same number to a filter.
    if float(number).is_integer() and abs(number) < 2**53:
        whole = int(number)
        return [str(whole), f"{whole}.0"]
    return list(dict.fromkeys([json.dumps(number), repr(number)]))


def _checked_key(key: object) -> str:
    if not isinstance(key, str) or not _KEY.match(key):
        raise InvalidInputError(
            f"invalid filter key {key!r}: use letters, digits and '_', starting with a letter"
        )
    return key


def bm25_query(text: str, filters: Filters | None) -> Query:
    """BM25F over title and text as one field, filtered in the same query."""
    # `combined_fields` scores a chunk as if title and text were one field: term frequencies
    # add up and the length is both together. That is how FTS5's bm25() scores a row of the
    # local engine. `multi_match` best_fields keeps only the better field's score, so words
    # found in the title and others in the text never add up: SciFact nDCG@10 0.03 lower.
    return {
        "bool": {
            "must": [{"combined_fields": {"query": text, "fields": ["title", "text"]}}],
            "filter": filter_clauses(filters),
        }
    }


def chunks_named(chunk_ids: list[str]) -> Query:
    """The chunk entries with these chunk ids (a filter: no scoring)."""
    return {"bool": {"filter": [{"term": {"kind": CHUNK}}, {"terms": {"chunk_id": chunk_ids}}]}}


def knn_query(vector: Vectors, k: int, factor: int, filters: Filters | None) -> Query:
    """Approximate kNN with the filter inside candidate generation, not applied after it."""
    return {
        "field": "vector",
        "query_vector": vector.tolist(),
        "k": k,
        "num_candidates": min(MAX_CANDIDATES, max(100, factor * k)),
        "filter": filter_clauses(filters),
    }


def cosine(knn_score: float) -> float:
    """Elasticsearch reports cosine similarity as (1 + cos) / 2; scores here mean cos."""
    return 2.0 * knn_score - 1.0
