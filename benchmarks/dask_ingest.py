"""`dask_ingest_speedup_2workers` (part of `pointlabel bench scale`): ingest of a
generated 40-frame sequence in process against the same ingest on a local Dask
cluster of two worker processes (server/bulk.py), measured in the same run.

The sequence is the demo's (``pointcloud.synth``) at ``AZIMUTH_STEPS`` columns, about
120k points a frame. Each repetition ingests it once each way, alternating, into a
fresh data directory with a SQLite database; the best time of each way is kept
(the machine may be shared). The cluster is started once, before the timed runs
(its start is reported on its own, and in the ``_with_start`` ratio), as a bulk
ingest service keeps one running.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.goals import Goals, judge
from pointcloud.synth import generate_sequence
from server.bulk import dask_client, dask_encoder
from server.config import Settings
from server.db import make_engine
from server.ingest import FrameEncoder, encode_in_process, ingest

FRAMES = 40
AZIMUTH_STEPS = 1910
"""Columns of the simulated lidar: about 120k points a frame (the demo's 1750 give ~110k)."""
REPEATS = 2
WORKERS = 2
GOALS: Goals = {"dask_ingest_speedup_2workers": (">=", 1.6)}


def run_dask_ingest(
    *, frames: int = FRAMES, azimuth_steps: int = AZIMUTH_STEPS, repeats: int = REPEATS
) -> dict[str, Any]:
    """Measure; see the module docstring. Times in seconds, points per frame as generated."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        seq = generate_sequence(root / "seq", frames=frames, azimuth_steps=azimuth_steps)
        load_before = os.getloadavg()[0]
        started = time.perf_counter()
        with dask_client(workers=WORKERS) as client:
            start_s = time.perf_counter() - started
            client.run(__import__, "pointcloud.frame_job")  # the workers' imports, untimed
            local_s: list[float] = []
            dask_s: list[float] = []
            points = 0
            for rep in range(repeats):
                for way, encoder, times in (
                    ("local", encode_in_process, local_s),
                    ("dask", dask_encoder(client), dask_s),
                ):
                    seconds, points = _time_ingest(root / f"{way}-{rep}", seq, encoder)
                    times.append(seconds)
        load_after = os.getloadavg()[0]
    result: dict[str, Any] = {
        "dask_ingest_frames": frames,
        "dask_ingest_points_per_frame": round(points / frames),
        "dask_ingest_s_in_process": round(min(local_s), 3),
        "dask_ingest_s_2workers": round(min(dask_s), 3),
        "dask_cluster_start_s": round(start_s, 3),
        "dask_ingest_speedup_2workers": round(min(local_s) / min(dask_s), 3),
        "dask_ingest_speedup_2workers_with_start": round(min(local_s) / (min(dask_s) + start_s), 3),
        "dask_load_average_1min": [round(load_before, 2), round(load_after, 2)],
    }
    result["goals_dask_ingest"] = judge(result, GOALS)
    return result


def _time_ingest(data_dir: Path, seq: Path, encoder: FrameEncoder) -> tuple[float, int]:
    """Seconds to ingest ``seq`` into a fresh data directory, and the points ingested."""
    settings = Settings(data_dir=data_dir)
    engine = make_engine(settings.db_url)
    try:
        started = time.perf_counter()
        result = ingest(engine, settings, seq, encoder=encoder)
        return time.perf_counter() - started, result.points
    finally:
        engine.dispose()
