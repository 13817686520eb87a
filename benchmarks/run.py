"""Entry point of ``pointlabel bench``: run a suite and return one JSON-able dict."""

from __future__ import annotations

import platform
import resource
import sys
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.core import run_core
from benchmarks.geometry import run_geometry
from benchmarks.ws import run_ws

REPO_ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = (REPO_ROOT / ".." / "shared" / "data").resolve()
"""Real sensor files, never copied into the repository (see ../shared/data/README.md)."""

SUITES = ("all", "core", "geometry", "ws")


def run(suite: str = "all") -> dict[str, Any]:
    """Run ``suite`` ("all", "core", "geometry" or "ws") and return the result.

    Speeds are million points per second; sizes bytes; errors metres; times
    seconds (best of 2-3 repetitions). Raises ValueError for an unknown suite.
    """
    if suite not in SUITES:
        raise ValueError(f"unknown benchmark suite {suite!r}; expected one of {SUITES}")
    result: dict[str, Any] = {"suite": suite, "environment": environment()}
    if suite in ("all", "core"):
        result.update(run_core(DATA_DIR))
    if suite in ("all", "geometry"):
        result.update(run_geometry())
    if suite in ("all", "ws"):
        result.update(run_ws())
    result["peak_rss_mb_process"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return result


def environment() -> dict[str, Any]:
    """Versions and machine facts that the figures depend on."""
    import os

    import open3d

    return {
        "python": sys.version.split()[0],
        "numpy": np.__version__,
        "open3d": open3d.__version__,
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "data_dir": str(DATA_DIR),
    }
