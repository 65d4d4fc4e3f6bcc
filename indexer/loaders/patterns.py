"""Include/exclude globs matched against a file's path relative to the folder being walked.

The rules are gitignore's (pathspec's `GitIgnoreSpec`): `*` and `?` stay inside one folder
level, `**` spans any number of levels, a pattern without an inner `/` matches at any depth
(`*.pdf`) unless it starts with one (`/*.pdf`: top level only), a pattern that names a folder
matches everything under it (`drafts` and `drafts/**` alike), and a later `!pattern` takes
back what an earlier one matched.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

from pathspec import GitIgnoreSpec


def matches_any(patterns: Sequence[str], rel_path: str) -> bool:
    """Whether the patterns match the POSIX relative path (or one of its parent folders)."""
    return bool(patterns) and _spec(tuple(patterns)).match_file(rel_path)


@lru_cache(maxsize=256)
def _spec(patterns: tuple[str, ...]) -> GitIgnoreSpec:
    # "./x" is how a shell user writes a path under the current folder; git has no such form.
    return GitIgnoreSpec.from_lines(p.strip().removeprefix("./") for p in patterns)
