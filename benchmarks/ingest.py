"""The ingest suite: peak memory and speed of ingesting a generated 100M-point LAS file.

The file is generated chunk by chunk (seeded): airborne-like flight strips over
a 4 x 4 km terrain (rolling hills, roofs, trees), georeferenced near
(500000, 5000000, 100), point format 3 (intensity, GPS time, 16-bit colour),
34 bytes per point. ``pointlabel ingest FILE --json`` then runs in a child
process, which reports its own peak resident memory (``VmHWM``) when done:
imports, reading, tiling and writing all count, and nothing of this process
does (on Linux a child's ``ru_maxrss`` would start at this process's size at
fork). Memory-mapped pages a process has touched count as resident, so the
figure is an honest upper bound.

The peer, measured in the same run on a ``PEER_POINTS`` file from the same
generator, is the in-memory ingest path (what every frame used before): the
ratio ``ingest_peak_rss_vs_in_memory`` compares the two paths on that file.
Temporary files (about 9 GB at 100M points) are removed at the end.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import laspy
import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
POINTS = 100_000_000
PEER_POINTS = 10_000_000
CHUNK = 5_000_000
EXTENT = 4000.0
"""Edge of the generated square, metres."""
ORIGIN = (500_000.0, 5_000_000.0, 100.0)
GOAL_PEAK_RSS_MB = 1500.0

_PEAK = """
import resource, sys
from pathlib import Path

def report_peak():
    # VmHWM: this process image's high-water mark. ru_maxrss would do on other
    # systems, but on Linux it keeps the parent's size at fork across exec.
    status = Path("/proc/self/status")
    lines = status.read_text().splitlines() if status.exists() else []
    hwm = [int(line.split()[1]) for line in lines if line.startswith("VmHWM:")]
    kib = hwm[0] if hwm else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    sys.stderr.write(f"\\npeak_rss_kib {kib}\\n")
"""
"""Run in the child after the ingest: writes its peak resident memory to stderr."""

_CLI = (
    _PEAK
    + """
from server.cli import main
code = main(sys.argv[1:])
report_peak()
sys.exit(code)
"""
)
"""``pointlabel`` with the child's peak memory reported at the end."""

_INGEST = (
    _PEAK
    + """
import json
from server.config import Settings
from server.db import make_engine
from server.ingest import ingest
settings = Settings(data_dir=Path(sys.argv[2]))
result = ingest(make_engine(settings.db_url), settings, Path(sys.argv[1]),
                stream_min_points=int(sys.argv[3]))
print(json.dumps(result.to_json()))
report_peak()
"""
)
"""Ingest with an explicit streaming threshold (the CLI always uses the default)."""


def write_terrain_las(path: Path, points: int, *, seed: int = 11, chunk: int = CHUNK) -> None:
    """Write a seeded airborne-like LAS file of ``points`` points, ``chunk`` at a time.

    Flight strips run along x (each chunk is part of one strip, points in
    random order within it); heights are a terrain of rolling hills plus roofs
    and tree canopies, in metres, georeferenced at ``ORIGIN`` (scale 1 mm).
    """
    rng = np.random.default_rng(seed)
    header = laspy.LasHeader(point_format=3, version="1.2")
    header.offsets = np.array(ORIGIN)
    header.scales = np.array([0.001, 0.001, 0.001])
    strips = max(1, points // chunk)
    width = EXTENT / strips
    with laspy.open(path, mode="w", header=header) as writer:
        for i, start in enumerate(range(0, points, chunk)):
            n = min(chunk, points - start)
            x = rng.uniform(0, EXTENT, n)
            y = rng.uniform(0, width, n) + (i % strips) * width
            z = _terrain(x, y, rng)
            record = laspy.ScaleAwarePointRecord.zeros(n, header=header)
            record.x, record.y, record.z = x + ORIGIN[0], y + ORIGIN[1], z + ORIGIN[2]
            record.intensity = np.clip(rng.normal(900, 300, n), 0, 65535).astype(np.uint16)
            record.gps_time = start + np.arange(n) * 1e-5
            shade = np.clip((z + 40) * 600, 0, 65535).astype(np.uint16)
            record.red, record.green, record.blue = shade, shade // 2 + 20000, 65535 - shade
            writer.write_points(record)


def _terrain(x: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Heights (metres) at (x, y): hills, flat roofs on a 60 m block grid, tree canopies."""
    z = 25 * np.sin(x / 700) * np.cos(y / 500) + 4 * np.sin((x + 2 * y) / 90)
    z += rng.normal(0, 0.03, len(x))
    roof = (np.mod(x, 60) < 25) & (np.mod(y, 60) < 18)
    z[roof] += 8 + np.floor(x[roof] / 60) % 4 * 3
    tree = ~roof & (rng.random(len(x)) < 0.15)
    z[tree] += rng.uniform(1, 18, int(tree.sum()))
    return z


def measure_ingest(argv: list[str], data_dir: Path) -> dict[str, Any]:
    """Run ``argv`` (an ingest printing one JSON line, then its peak memory to stderr,
    as ``_CLI`` and ``_INGEST`` do) in a child; its output, wall-clock seconds and
    peak resident memory in MiB."""
    env = dict(os.environ, POINTLABEL_DATA_DIR=str(data_dir))
    start = time.perf_counter()
    done = subprocess.run(argv, cwd=REPO_ROOT, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode:
        raise RuntimeError(f"ingest failed ({done.returncode}): {done.stderr[-2000:]}")
    peak = [line.split()[1] for line in done.stderr.splitlines() if line.startswith("peak_rss_kib")]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return {"result": result, "seconds": seconds, "peak_rss_mb": int(peak[-1]) / 1024}


def _ingest_argv(path: Path, data_dir: Path, stream_min_points: int) -> list[str]:
    return [sys.executable, "-c", _INGEST, str(path), str(data_dir), str(stream_min_points)]


def run_ingest(*, points: int = POINTS, peer_points: int = PEER_POINTS) -> dict[str, Any]:
    """Generate, ingest and measure; keys end in ``_100m`` (named for the goal's size,
    ``ingest_points`` says what was measured). Times in seconds, memory in MiB."""
    out: dict[str, Any] = {"ingest_points": points}
    work = Path(tempfile.mkdtemp(prefix="pointlabel-bench-ingest-"))
    try:
        big = work / "terrain.las"
        start = time.perf_counter()
        write_terrain_las(big, points)
        out["ingest_generate_seconds"] = time.perf_counter() - start
        out["ingest_file_mb"] = big.stat().st_size / 2**20
        cli = [sys.executable, "-c", _CLI, "ingest", str(big), "--json"]
        run = measure_ingest(cli, work / "data")
        if run["result"]["points"] != points:
            raise RuntimeError(f"ingested {run['result']['points']} points of {points}")
        big.unlink()
        out["ingest_peak_rss_mb_100m"] = run["peak_rss_mb"]
        out["ingest_seconds_100m"] = run["seconds"]
        out["ingest_mpts_per_s_100m"] = points / run["seconds"] / 1e6
        shutil.rmtree(work / "data")
        out.update(_peer(work, peer_points))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    value = out["ingest_peak_rss_mb_100m"]
    out["goals_ingest"] = {
        "ingest_peak_rss_mb_100m": {
            "target": f"<= {GOAL_PEAK_RSS_MB:g}",
            "value": value,
            "met": value <= GOAL_PEAK_RSS_MB if points >= POINTS else None,
        }
    }
    return out


def _peer(work: Path, points: int) -> dict[str, Any]:
    """Streaming and in-memory ingest of the same ``points``-point file, in children."""
    path = work / "peer.las"
    write_terrain_las(path, points, seed=12)
    streamed = measure_ingest(_ingest_argv(path, work / "data-stream", 0), work / "data-stream")
    whole = measure_ingest(_ingest_argv(path, work / "data-memory", points), work / "data-memory")
    return {
        "ingest_peer_points": points,
        "ingest_peak_rss_mb_streamed_peer": streamed["peak_rss_mb"],
        "ingest_peak_rss_mb_in_memory_peer": whole["peak_rss_mb"],
        "ingest_peak_rss_vs_in_memory": streamed["peak_rss_mb"] / whole["peak_rss_mb"],
        "ingest_seconds_vs_in_memory": streamed["seconds"] / whole["seconds"],
    }
