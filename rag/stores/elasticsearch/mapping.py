"""The index body of a KB: settings and a strict mapping for chunks and document records.

One index holds two kinds of entry, told apart by `kind`:
- `chunk`: the searchable text, its vector and its metadata;
- `doc`: the record of one document (hash, title, source, chunk count), kept in a
  non-indexed object so it never enters BM25 statistics and never matches a search.
Keeping both in one index means one alias swap and one refresh cover a whole generation.

`metadata` is `flattened`: every leaf is indexed as a keyword under `metadata.<key>`. Filters
are equality only, so typed fields would add nothing but mapping conflicts (a key that is a
number in one document and a string in the next would reject the write) and a field per key.
"""

from __future__ import annotations

from typing import Any, Literal

VectorIndex = Literal["hnsw", "int8_hnsw"]

# Lucene refuses terms over 32766 bytes; longer keyword values are kept in _source only.
_IGNORE_ABOVE = 4096


def index_body(
    dim: int,
    vector_index: VectorIndex,
    *,
    shards: int = 1,
    replicas: int = 0,
    hnsw_m: int = 16,
    ef_construction: int = 100,
) -> dict[str, Any]:
    """Settings and mappings for a new physical index of a KB."""
    keyword = {"type": "keyword", "ignore_above": _IGNORE_ABOVE}
    # The english analyzer (stemming, stopwords) matches what the local engine's BM25 sees.
    text = {"type": "text", "analyzer": "english"}
    return {
        "settings": {
            "index": {"number_of_shards": shards, "number_of_replicas": replicas},
        },
        "mappings": {
            # A field no code writes is a bug: fail the write instead of mapping it.
            "dynamic": "strict",
            "properties": {
                "kind": {"type": "keyword"},
                "doc_id": {"type": "keyword"},
                "chunk_id": keyword,
                "write_token": {"type": "keyword"},
                "position": {"type": "integer"},
                "page": {"type": "integer"},
                "heading_path": keyword,
                "title": text,
                "text": text,
                "metadata": {"type": "flattened", "ignore_above": _IGNORE_ABOVE},
                "document": {"type": "object", "enabled": False},
                "vector": {
                    "type": "dense_vector",
                    "dims": dim,
                    "index": True,
                    "similarity": "cosine",
                    "index_options": {
                        "type": vector_index,
                        "m": hnsw_m,
                        "ef_construction": ef_construction,
                    },
                },
            },
        },
    }
