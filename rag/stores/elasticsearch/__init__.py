"""The Elasticsearch engine: one alias-fronted index per KB, kNN and BM25 on the server."""

from rag.stores.elasticsearch.bulk import BulkOptions
from rag.stores.elasticsearch.client import connect
from rag.stores.elasticsearch.store import ElasticsearchStore

__all__ = ["BulkOptions", "ElasticsearchStore", "connect"]
