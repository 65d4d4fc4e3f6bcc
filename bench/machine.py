"""The machine a benchmark ran on: CPU model, cores, RAM, load and library versions."""

from __future__ import annotations

import os
import platform
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _ram_gib() -> str:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return f"{int(line.split()[1]) / 2**20:.1f} GiB"
    except OSError:
        pass
    return "unknown"


def _version(dist: str) -> str:
    try:
        return version(dist)
    except PackageNotFoundError:
        return "not installed"


def load_average() -> str:
    """The 1, 5 and 15 minute load averages, as text."""
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


def machine_info() -> dict[str, str]:
    """What to print beside every result so it can be compared with a re-run elsewhere."""
    import faiss
    import torch

    return {
        "cpu": _cpu_model(),
        "cores": f"{len(os.sched_getaffinity(0))} usable of {os.cpu_count()}",
        "ram": _ram_gib(),
        # Other jobs on a shared machine slow every number down; the load says how much.
        "load average (1/5/15 min)": load_average(),
        "python": platform.python_version(),
        "torch": f"{torch.__version__} ({torch.get_num_threads()} threads)",
        "faiss": f"{faiss.__version__} ({faiss.omp_get_max_threads()} OpenMP threads)",
        "sentence-transformers": _version("sentence-transformers"),
        "numpy": _version("numpy"),
    }
