"""Include/exclude globs matched against a file's path relative to the folder being walked.

gitignore-like rules: `*` and `?` stay inside one folder level, `**` spans any number of
levels, a pattern without a `/` matches at any depth (`*.pdf` is `**/*.pdf`) unless it starts
with one (`/*.pdf`: top level only), and a pattern that names a folder matches everything under
it (`drafts` and `drafts/**` alike).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache


def matches_any(patterns: Sequence[str], rel_path: str) -> bool:
    """Whether any pattern matches the POSIX relative path or one of its parent folders."""
    parts = rel_path.split("/")
    candidates = ["/".join(parts[:n]) for n in range(len(parts), 0, -1)]
    return any(_compile(p).fullmatch(c) for p in patterns for c in candidates)


@lru_cache(maxsize=256)
def _compile(pattern: str) -> re.Pattern[str]:
    pattern = pattern.strip().removeprefix("./")
    anchored = pattern.startswith("/")  # "/x" means x at the top level only
    pattern = pattern.strip("/")
    if "/" not in pattern and not anchored:
        pattern = f"**/{pattern}"
    out: list[str] = []
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        elif pattern[i] == "[" and (end := pattern.find("]", i + 2)) != -1:
            body = pattern[i + 1 : end]
            negate = body.startswith("!")
            body = body.removeprefix("!").replace("\\", "\\\\")
            out.append(f"[^/{body}]" if negate else f"[{body}]")
            i = end + 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out))
