"""Entry point of ``pointlabel bench``: run a suite and return one JSON-able dict."""

from __future__ import annotations

import platform
import resource
import sys
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.assist import run_assist
from benchmarks.browser import run_browser
from benchmarks.core import run_core
from benchmarks.geometry import run_geometry
from benchmarks.ingest import run_ingest
from benchmarks.quality import run_quality
from benchmarks.scale import run_scale
from benchmarks.ws import run_ws

REPO_ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = (REPO_ROOT / ".." / "shared" / "data").resolve()
"""Real sensor files, never copied into the repository (see ../shared/data/README.md)."""

SUITES = (
    "all", "core", "tiles", "geometry", "ingest", "quality", "ws", "browser", "assist", "scale",
)  # fmt: skip
"""core = tiles + geometry + ingest (the point-cloud core's keys); all = core + quality + ws +
browser; assist (fits, propagation, pre-labels on the real labels) and scale (bench ws on
PostgreSQL with two workers) run on their own."""


def run(suite: str = "all") -> dict[str, Any]:
    """Run ``suite`` (one of SUITES) and return the result.

    Speeds are million points per second; sizes bytes; errors metres; times
    seconds (best of 2-3 repetitions). Raises ValueError for an unknown suite.
    """
    if suite not in SUITES:
        raise ValueError(f"unknown benchmark suite {suite!r}; expected one of {SUITES}")
    result: dict[str, Any] = {"suite": suite, "environment": environment()}
    parts = {"tiles": lambda: run_core(DATA_DIR), "geometry": run_geometry,
             "ingest": run_ingest, "quality": run_quality, "ws": run_ws,
             "browser": run_browser, "assist": lambda: run_assist(DATA_DIR),
             "scale": run_scale}  # fmt: skip
    groups = {"all": ["tiles", "geometry", "ingest", "quality", "ws", "browser"],
              "core": ["tiles", "geometry", "ingest"]}  # fmt: skip
    for name in groups.get(suite, [suite]):
        result.update(parts[name]())
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
