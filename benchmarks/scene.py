"""A seeded synthetic driving scene for throughput benchmarks."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from pointcloud.cloud import PointCloud

HALF_EXTENT = 100.0
"""Half the scene's side in metres: the scene spans about 200 m x 200 m."""

CHUNK = 2_000_000
"""Points generated per chunk, to keep temporaries small for large scenes."""


def generate_scene(n_points: int, *, seed: int = 0) -> PointCloud:
    """A driving-scene-like cloud of ``n_points`` points, in metres.

    Made of a gently sloped, noisy ground (60 %), building facades along both
    sides of a road (25 %), a few hundred poles (10 %) and scattered clutter
    (5 %). The same ``seed`` gives the same cloud. ``intensity`` is float32 in
    [0, 1). Memory: about 16 bytes per point plus one chunk of temporaries.
    """
    rng = np.random.default_rng(seed)
    poles = rng.uniform(-HALF_EXTENT, HALF_EXTENT, size=(300, 2)).astype(np.float32)
    xyz = np.empty((n_points, 3), dtype=np.float32)
    for start in range(0, n_points, CHUNK):
        stop = min(start + CHUNK, n_points)
        xyz[start:stop] = _chunk(rng, stop - start, poles)
    intensity = rng.random(n_points, dtype=np.float32)
    return PointCloud.from_xyz(xyz, {"intensity": intensity})


def _chunk(rng: np.random.Generator, n: int, poles: NDArray[np.float32]) -> NDArray[np.float32]:
    """``n`` points (n, 3) float32 drawn from the scene's surfaces."""
    kind = rng.choice(4, size=n, p=[0.60, 0.25, 0.10, 0.05])
    out = rng.uniform(-HALF_EXTENT, HALF_EXTENT, size=(n, 3)).astype(np.float32)
    noise = rng.standard_normal((n, 3), dtype=np.float32) * np.float32(0.02)
    out[:, 2] = 0.02 * out[:, 0] + 0.5 * np.sin(out[:, 1] / 17.0)
    facade = kind == 1
    side = np.where(rng.random(n) < 0.5, -15.0, 15.0).astype(np.float32)
    out[facade, 1] = side[facade]
    out[facade, 2] += rng.uniform(0.0, 12.0, size=int(facade.sum())).astype(np.float32)
    pole = kind == 2
    which = poles[rng.integers(0, len(poles), size=int(pole.sum()))]
    angle = rng.uniform(0.0, 2.0 * np.pi, size=len(which)).astype(np.float32)
    out[pole, 0] = which[:, 0] + 0.15 * np.cos(angle)
    out[pole, 1] = which[:, 1] + 0.15 * np.sin(angle)
    out[pole, 2] += rng.uniform(0.0, 8.0, size=len(which)).astype(np.float32)
    clutter = kind == 3
    out[clutter, 2] += rng.uniform(0.0, 20.0, size=int(clutter.sum())).astype(np.float32)
    out += noise
    return out
