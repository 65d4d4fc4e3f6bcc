"""A .jsonl file's documents streamed in the caller's process, one outcome per line."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from indexer.loaders.dispatch import finish
from indexer.loaders.failure import LoadFailure
from indexer.loaders.jsonl import LineError, iter_lines
from rag.errors import LoaderError
from rag.types import Document


def stream_jsonl(path: Path, id_path: str) -> Iterator[Document | LoadFailure]:
    """Per-line outcomes, so one bad record costs that record only; a bad file, one failure."""
    try:
        for item in iter_lines(path):
            if isinstance(item, LineError):
                yield LoadFailure(path, item.reason, item.line)
            else:
                yield finish(item, path, id_path, "jsonl")
    except LoaderError as exc:
        yield LoadFailure(path, str(exc))
    except OSError as exc:
        yield LoadFailure(path, f"cannot read file: {exc.strerror or exc}")
    except Exception as exc:  # the same isolation the other formats get from load_file
        yield LoadFailure(path, f"the jsonl parser failed: {type(exc).__name__}: {exc}")
