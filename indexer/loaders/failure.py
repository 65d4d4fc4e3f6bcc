"""The typed failure of one file (or one .jsonl line) that could not be loaded."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class LoadFailure:
    """A file, or one line of a .jsonl file, that could not be loaded."""

    path: Path  # the file (or folder) as the walk reached it
    reason: str  # human readable, e.g. "encrypted PDF", "empty file"
    line: int | None = None  # 1-based, when only this line of a .jsonl file failed

    def location(self, name: str | None = None) -> str:
        """Where it failed as reports show it: the file (or `name` for it), ':17' for a line."""
        shown = str(self.path) if name is None else name
        return shown if self.line is None else f"{shown}:{self.line}"
