"""Storage engines behind one contract (`rag.stores.base.Store`), one package or file each.

`rag.stores.factory.open_store` picks the engine a KB was created with. Engines are imported
from their own modules, so importing the contract does not load FAISS or a network client.
"""

from rag.stores.base import DocumentWrite, Filters, Store

__all__ = ["DocumentWrite", "Filters", "Store"]
