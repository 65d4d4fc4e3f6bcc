"""Where benchmarks read data and keep caches: shared data beside the repo, caches outside it."""

from __future__ import annotations

import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"


def require_data(*parts: str) -> Path:
    """A path under the shared data folder; exits with a clear message when it is missing."""
    path = DATA.joinpath(*parts)
    if not path.exists():
        sys.exit(
            f"benchmark data not found: {path}\n"
            f"the benchmarks read the public corpora from {DATA} (see its README.md); "
            "place them there and run again"
        )
    return path


def cache_dir(*parts: str) -> Path:
    """A folder under `$RAG_BENCH_CACHE` (default ~/.cache/rag-service/bench), created."""
    base = os.environ.get("RAG_BENCH_CACHE") or str(Path.home() / ".cache/rag-service/bench")
    path = Path(base).expanduser().joinpath(*parts)
    # Caches hold hundreds of MB of vectors and KBs: never inside the repository.
    if path.resolve().is_relative_to(REPO):
        sys.exit(f"RAG_BENCH_CACHE must point outside the repository ({REPO}), got {path}")
    path.mkdir(parents=True, exist_ok=True)
    return path
