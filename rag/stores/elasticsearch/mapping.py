"""The index body of a KB: settings and a strict mapping for chunks and document records.

One index holds two kinds of entry, told apart by `kind`:
- `chunk`: the searchable text, its vector and its metadata;
- `doc`: the record of one document (hash, title, source, chunk count), kept in a
  non-indexed object so it never enters BM25 statistics and never matches a search.
Keeping both in one index means one alias swap and one refresh cover a whole generation.

`metadata` is `flattened`: every leaf is indexed as a keyword under `metadata.<key>`. Filters
are equality only, so typed fields would add nothing but mapping conflicts (a key that is a
number in one document and a string in the next would reject the write) and a field per key.

`title` and `text` are indexed with the built-in `english` analyzer (possessives, lower case,
Lucene's English stopwords, Porter stemmer), which is what the local engine's FTS5 `porter`
tokenizer plus its query-side stopwords amount to. Queries go through `QUERY_ANALYZER`, the
same chain plus `unique`: a word repeated in a query counts once, as in the local engine, which
ORs distinct terms. Indices created before `QUERY_ANALYZER` existed search with `english` and
weigh a repeated word twice; `ElasticsearchStore.reindex()` moves a KB onto this mapping.
"""

from __future__ import annotations

from typing import Any, Literal

VectorIndex = Literal["hnsw", "int8_hnsw"]

# Lucene refuses terms over 32766 bytes; longer keyword values are kept in _source only.
_IGNORE_ABOVE = 4096
QUERY_ANALYZER = "rag_english_query"

# The `english` analyzer rebuilt from its parts (Elasticsearch's documented definition, minus
# the empty keyword marker), so that query text is analysed exactly as indexed text is.
_ANALYSIS: dict[str, Any] = {
    "filter": {
        "rag_english_possessive": {"type": "stemmer", "language": "possessive_english"},
        "rag_english_stop": {"type": "stop", "stopwords": "_english_"},
        "rag_english_stemmer": {"type": "stemmer", "language": "english"},
        "rag_unique": {"type": "unique"},
    },
    "analyzer": {
        QUERY_ANALYZER: {
            "type": "custom",
            "tokenizer": "standard",
            "filter": [
                "rag_english_possessive",
                "lowercase",
                "rag_english_stop",
                "rag_english_stemmer",
                "rag_unique",
            ],
        }
    },
}


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
    text = {"type": "text", "analyzer": "english", "search_analyzer": QUERY_ANALYZER}
    return {
        "settings": {
            "index": {"number_of_shards": shards, "number_of_replicas": replicas},
            "analysis": _ANALYSIS,
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
