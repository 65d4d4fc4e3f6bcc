"""Opened KBs, shared by every request: opening a KB loads its vector index, so do it once."""

from __future__ import annotations

import logging
import threading

from rag.errors import RagError
from rag.kb import OpenKB
from rag.workspace import Workspace

log = logging.getLogger("rag.pool")


def _close(kb: OpenKB) -> None:
    # A store that cannot flush (its server is down) must not block dropping the KB or
    # shutting down: what it could not flush was never acknowledged as indexed.
    try:
        kb.close()
    except RagError as exc:
        log.warning("closing KB %r failed: %s", kb.config.name, exc)


class KBPool:
    """Opens each KB once and hands the same `OpenKB` to every caller; thread-safe."""

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace
        self._open: dict[str, OpenKB] = {}
        self._lock = threading.Lock()

    def get(self, stored_name: str) -> OpenKB:
        """The opened KB (blocking: the first call loads it; run it off the event loop)."""
        with self._lock:
            kb = self._open.get(stored_name)
            if kb is None:
                kb = self._open[stored_name] = self.workspace.open(stored_name)
            return kb

    def evict(self, stored_name: str) -> None:
        """Close and forget a KB (before it is dropped)."""
        with self._lock:
            kb = self._open.pop(stored_name, None)
        if kb is not None:
            _close(kb)

    def drop(self, stored_name: str) -> str | None:
        """Delete a KB and everything stored for it; what stays on an unreachable server."""
        self.evict(stored_name)
        return self.workspace.drop(stored_name)

    def close(self) -> None:
        with self._lock:
            opened, self._open = list(self._open.values()), {}
        for kb in opened:
            _close(kb)
