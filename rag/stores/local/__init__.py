"""The embedded engine: SQLite with FTS5 for rows and BM25, FAISS for vectors, in the KB folder."""

from rag.stores.local.store import LocalStore

__all__ = ["LocalStore"]
