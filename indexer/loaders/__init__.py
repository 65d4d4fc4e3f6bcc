"""Document loaders: files (txt, md, html, pdf, docx, csv, jsonl) in, `rag.types.Document`s out.

`load_file` loads one file and raises `LoaderError` with a reason; `iter_documents` walks
files and folders for an ingest job and yields a `LoadFailure` for whatever cannot be
loaded, so one bad file (or one bad .jsonl line) never stops a batch. `ParsePool` parses files
in worker processes with a per-file timeout; `LoadLimits` bounds what one file may cost. Each
format lives in its own module, picked by suffix in `dispatch`.
"""

from indexer.loaders.dispatch import SUPPORTED_SUFFIXES, load_file
from indexer.loaders.failure import LoadFailure
from indexer.loaders.limits import LoadLimits
from indexer.loaders.pool import FileParsed, ParsePool, ParseSettings
from indexer.loaders.walk import file_tasks, iter_documents

__all__ = [
    "SUPPORTED_SUFFIXES",
    "FileParsed",
    "LoadFailure",
    "LoadLimits",
    "ParsePool",
    "ParseSettings",
    "file_tasks",
    "iter_documents",
    "load_file",
]
