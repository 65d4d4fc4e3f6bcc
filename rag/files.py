"""Durable file replacement (readers see the old file or the new one, never half of either),
and private files and folders.

Everything under the data directory is one tenant's documents or the service's keys, so it is
created for the service's user alone (folders 0700, files 0600): on a shared host no other
user may read it, whatever the umask.
"""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path

PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600


def private_dir(path: Path) -> Path:
    """Create `path` and any missing parents with mode 0700 (existing ones are left alone)."""
    missing = [p for p in (path, *path.parents) if not p.exists()]
    for folder in reversed(missing):
        with contextlib.suppress(FileExistsError):  # another process made it first
            folder.mkdir(mode=PRIVATE_DIR)
            os.chmod(folder, PRIVATE_DIR)  # mkdir's mode passes through the umask
    return path


def private_file(path: Path) -> Path:
    """Create `path` empty with mode 0600 if it is missing, so a library opening it (SQLite)
    never creates it readable by others; an existing file readable by others is tightened."""
    fd = os.open(path, os.O_CREAT | os.O_WRONLY, PRIVATE_FILE)
    os.close(fd)
    mode = stat.S_IMODE(os.stat(path).st_mode)
    if mode & 0o077:
        # A file from an earlier version; a file we may not chmod stays as it is.
        with contextlib.suppress(PermissionError):
            os.chmod(path, mode & ~0o077)
    return path


def replace_durably(tmp: Path, path: Path) -> None:
    """fsync `tmp`, rename it over `path`, fsync the folder so the rename survives a crash.

    The file ends up 0600 (see the module docstring)."""
    os.chmod(tmp, PRIVATE_FILE)
    with open(tmp, "rb") as f:
        os.fsync(f.fileno())
    os.replace(tmp, path)
    folder = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)


def write_atomic(path: Path, data: str | bytes) -> None:
    """Write `data` to a temp file beside `path`, then replace `path` durably."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data.encode() if isinstance(data, str) else data)
    replace_durably(tmp, path)
