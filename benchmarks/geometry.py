"""The geometry suite: rotated IoU throughput (and against shapely), points-in-boxes throughput.

All timings are the best of 3 runs with ``time.perf_counter``; inputs are
generated with fixed seeds so runs are comparable. The shapely reference is
GEOS polygon intersection through shapely 2's vectorised functions, run on
the same pairs in the same process: ``iou_vs_shapely`` is our pairs/s over
its pairs/s.
"""

from __future__ import annotations

import gc
import math
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import NDArray

from pointcloud.boxes import bev_corners, count_points_in_boxes
from pointcloud.iou import bev_iou, iou_3d, iou_pairs

BOXES = 1000
"""Boxes per side of the all-pairs IoU matrix (1000 x 1000 = 1M pairs)."""
SHAPELY_PAIRS = 20_000
CLOUD_POINTS = 2_000_000
CLOUD_BOXES = 40
REPEATS = 3


def _best(fn: Callable[[], Any]) -> float:
    """Best wall-clock seconds of REPEATS calls of ``fn``."""
    best = math.inf
    for _ in range(REPEATS):
        gc.collect()
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def car_boxes(rng: np.random.Generator, n: int, side: float) -> NDArray[np.float64]:
    """``n`` car-sized boxes, uniform headings, centres uniform in a ``side`` metre square."""
    return np.column_stack(
        [
            rng.uniform(-side / 2, side / 2, (n, 2)),
            rng.uniform(-1.2, -0.6, n),
            rng.uniform(3.5, 5.0, n),
            rng.uniform(1.6, 2.1, n),
            rng.uniform(1.4, 1.9, n),
            rng.uniform(-math.pi, math.pi, n),
        ]
    )


def iou_3d_pairs_per_s(
    a: NDArray[np.float64] | None = None, b: NDArray[np.float64] | None = None
) -> float:
    """All-pairs 3D IoU throughput (pairs/s, best of REPEATS) of ``a`` x ``b``; by default
    BOXES x BOXES cars packed so that about 10% of the pairs overlap."""
    if a is None or b is None:
        rng = np.random.default_rng(0)
        a, b = car_boxes(rng, BOXES, 17.0), car_boxes(rng, BOXES, 17.0)
    first, second = a, b
    return first.shape[0] * second.shape[0] / _best(lambda: iou_3d(first, second))


def _shapely_iou(a: NDArray[np.float64], b: NDArray[np.float64]) -> NDArray[np.float64]:
    import shapely

    pa, pb = shapely.polygons(bev_corners(a)), shapely.polygons(bev_corners(b))
    inter = shapely.area(shapely.intersection(pa, pb))
    return np.asarray(inter / (a[:, 3] * a[:, 4] + b[:, 3] * b[:, 4] - inter), dtype=np.float64)


def _iou_figures() -> dict[str, Any]:
    rng = np.random.default_rng(0)
    # A 17 m square packs 1000 cars per side so that about 10% of all pairs overlap.
    a, b = car_boxes(rng, BOXES, 17.0), car_boxes(rng, BOXES, 17.0)
    overlap = float(np.mean(bev_iou(a, b) > 0))
    pairs = BOXES * BOXES
    bev_s, iou3d_s = _best(lambda: bev_iou(a, b)), pairs / iou_3d_pairs_per_s(a, b)
    sub_a, sub_b = (
        a[rng.integers(0, BOXES, SHAPELY_PAIRS)],
        b[rng.integers(0, BOXES, SHAPELY_PAIRS)],
    )
    ours_s = _best(lambda: iou_pairs(sub_a, sub_b, mode="bev"))
    figures: dict[str, Any] = {
        "iou_pairs": pairs,
        "iou_overlapping_fraction": overlap,
        "iou_pairs_per_s": pairs / iou3d_s,
        "bev_iou_pairs_per_s": pairs / bev_s,
        "iou_subset_pairs_per_s": SHAPELY_PAIRS / ours_s,
    }
    try:
        shapely_s = _best(lambda: _shapely_iou(sub_a, sub_b))
    except ImportError:
        figures["iou_vs_shapely"] = None
        return figures
    error = np.abs(iou_pairs(sub_a, sub_b, mode="bev") - _shapely_iou(sub_a, sub_b)).max()
    figures["shapely_pairs_per_s"] = SHAPELY_PAIRS / shapely_s
    figures["iou_vs_shapely"] = shapely_s / ours_s
    figures["iou_max_abs_diff_vs_shapely"] = float(error)
    return figures


def _points_figures() -> dict[str, Any]:
    rng = np.random.default_rng(1)
    pts = np.column_stack(
        [rng.uniform(-60, 60, (CLOUD_POINTS, 2)), rng.uniform(-2.5, 1.5, CLOUD_POINTS)]
    ).astype(np.float32)
    boxes = car_boxes(rng, CLOUD_BOXES, 100.0)
    seconds = _best(lambda: count_points_in_boxes(pts, boxes))
    return {
        "points_in_boxes_points": CLOUD_POINTS,
        "points_in_boxes_boxes": CLOUD_BOXES,
        "points_in_boxes_mpts_per_s": CLOUD_POINTS / seconds / 1e6,
    }


def run_geometry() -> dict[str, Any]:
    """Run the geometry suite and return JSON-able figures (pairs/s, ratio vs shapely, Mpts/s)."""
    return {**_iou_figures(), **_points_figures()}
