"""Pre-labels on the CPU: ground removal, clustering, prior-aware fits, size classes, tracks.

The reference detector behind ``pointlabel prelabel`` and the project's own
detector endpoint (docs/models.md). Points are (N, 3) metres in the sensor
frame, z up, sensor at the origin. Class priors are plain arguments: a dict
class -> typical (length, width, height) in metres. Boxes are
``[cx, cy, cz, l, w, h, yaw]`` as in :mod:`pointcloud.boxes`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from pointcloud.boxes import as_points
from pointcloud.fitting import fit_box, grow_to_prior
from pointcloud.objectfit import bev_components, fit_at_yaw

__all__ = ["Detection", "detect", "ground_mask", "link_tracks"]

Prior = tuple[float, float, float]

GROUND_CELL = 1.0
"""Metres: the ground is the lowest point of each cell of this size, ..."""
GROUND_REACH = 2
"""... over the (2 * GROUND_REACH + 1)^2 cells around it (an object hides the ground under it)."""
GROUND_CLEARANCE = 0.3
"""Metres above that ground below which a point is ground."""
MAX_HEIGHT = 4.5
"""Metres above the ground above which a point belongs to no labelled object (trees, roofs)."""
CLUSTER_CELL = 0.4
"""Metres: points in touching BEV cells of this size form one cluster."""
MIN_POINTS = 10
"""A cluster with fewer points is not labelled."""
MAX_RANGE = 80.0
"""Metres from the sensor beyond which nothing is labelled."""
SIZE_SLACK = 1.25
"""A visible extent may exceed the class's typical one by this factor (and still be that class)."""
MIN_HEIGHT_SHARE = 0.4
"""A cluster lower than this share of the lowest typical height is no object (kerbs, bushes)."""
MAX_GAP = 0.6
"""Metres: a cluster whose lowest point is further above the ground than this floats: no object."""
BELOW_SEEN = 0.1
"""Metres: an object's bottom is taken at most this far below its lowest point seen."""
FIT_SAMPLE = 300
"""At most about this many of a cluster's points choose its heading."""
MIN_SCORE = 0.1
"""Detections scoring lower are dropped."""
TRACK_GATE = 2.5
"""Metres: a detection further than this from a track's predicted centre does not continue it."""


@dataclass(frozen=True)
class Detection:
    """One pre-label: its box (metres, radians), class, confidence in [0, 1] and point count."""

    box: tuple[float, ...]
    label: str
    score: float
    points: int
    track: int = -1


def ground_mask(points: ArrayLike) -> NDArray[np.bool_]:
    """(N,) True for ground points and for points too high to be part of an object.

    The ground under each GROUND_CELL cell is the lowest point within
    GROUND_REACH cells of it (scipy's minimum filter on the grid of cell
    minima); a point within GROUND_CLEARANCE of it, or more than MAX_HEIGHT
    above it, is masked.
    """
    from scipy import ndimage

    pts = as_points(points)
    if pts.shape[0] == 0:
        return np.zeros(0, dtype=np.bool_)
    lo = pts[:, :2].min(axis=0)
    ij = np.floor((pts[:, :2] - lo) / GROUND_CELL).astype(np.int64)
    shape = tuple(int(v) + 1 for v in ij.max(axis=0))
    flat = ij[:, 0] * shape[1] + ij[:, 1]
    minima = np.full(shape[0] * shape[1], np.inf)
    np.minimum.at(minima, flat, pts[:, 2])
    size = 2 * GROUND_REACH + 1
    ground = ndimage.minimum_filter(minima.reshape(shape), size=size, mode="nearest").ravel()
    above = pts[:, 2] - ground[flat]
    return np.asarray((above <= GROUND_CLEARANCE) | (above > MAX_HEIGHT))


def _classify(size: NDArray[np.float64], priors: Mapping[str, Prior]) -> tuple[str, float] | None:
    """The class whose typical size best explains the visible (l, w, h), and a score in [0, 1].

    A visible extent may be shorter than the typical one (part of the object
    is hidden) but not longer than SIZE_SLACK times it; the height, always
    seen, should be close. The score is a Gaussian in the relative height
    error times how much of the typical footprint's longer side is seen.
    """
    best: tuple[str, float] | None = None
    length, width, height = (float(v) for v in size)
    for name, (pl, pw, ph) in priors.items():
        if (
            length > SIZE_SLACK * pl
            or width > SIZE_SLACK * max(pw, 0.5)
            or height > SIZE_SLACK * ph
        ):
            continue
        height_fit = math.exp(-(((height - ph) / (0.25 * ph)) ** 2))
        seen = min(1.0, max(length / pl, width / pw))
        score = height_fit * (0.5 + 0.5 * seen)
        if best is None or score > best[1]:
            best = (name, score)
    return best


def detect(
    points: ArrayLike, priors: Mapping[str, Prior], *, max_range: float = MAX_RANGE
) -> list[Detection]:
    """Pre-label one frame: boxes of the objects in ``points`` (sensor at the origin).

    1. :func:`ground_mask` removes the ground (and what is too high).
    2. BEV connected components (CLUSTER_CELL) of the rest are the objects;
       those with fewer than MIN_POINTS points or beyond ``max_range`` metres
       are skipped.
    3. Each is fitted (:func:`pointcloud.fitting.fit_box`, L-shape), classed
       by its footprint and its height above the ground against ``priors``
       (:func:`_classify`), grown to the class's
       typical size away from the sensor and stood on the ground.
    The confidence is the class score times min(1, points / 50).
    """
    pts = as_points(points).astype(np.float64)
    pts = pts[np.isfinite(pts).all(axis=1)]
    ground = ground_mask(pts)
    floor = _ground_under(pts, ground)
    obj = pts[~ground]
    obj_floor = floor[~ground]
    near = np.hypot(obj[:, 0], obj[:, 1]) <= max_range
    obj, obj_floor = obj[near], obj_floor[near]
    if obj.shape[0] == 0:
        return []
    parts = bev_components(obj, CLUSTER_CELL)
    order = np.argsort(parts, kind="stable")
    starts = np.flatnonzero(np.r_[True, parts[order][1:] != parts[order][:-1]])
    ends = np.r_[starts[1:], order.shape[0]]
    out = []
    biggest = max(max(p[0] for p in priors.values()) * SIZE_SLACK, 1.0)
    tallest = max(p[2] for p in priors.values()) * SIZE_SLACK
    lowest = min(p[2] for p in priors.values()) * MIN_HEIGHT_SHARE
    for s, e in zip(starts, ends, strict=True):
        if e - s < MIN_POINTS:
            continue
        members = obj[order[s:e]]
        span = members[:, :2].max(axis=0) - members[:, :2].min(axis=0)
        height = float(np.ptp(members[:, 2]))
        if float(np.hypot(*span)) > biggest * 1.2 or not lowest <= height <= tallest:
            continue
        sample = members[:: max(1, members.shape[0] // FIT_SAMPLE)]
        box = fit_at_yaw(members, float(fit_box(sample, outlier_fraction=0.0)[6]))
        bottom, lowest_seen = float(np.median(obj_floor[order[s:e]])), float(members[:, 2].min())
        if lowest_seen - bottom > MAX_GAP:
            continue  # not standing on the ground: a canopy, a sign, a roof edge
        # On a slope the filtered floor lies low: the ground is at most BELOW_SEEN lower.
        bottom = max(bottom, lowest_seen - BELOW_SEEN)
        top = float(members[:, 2].max())
        found = _classify(np.array([box[3], box[4], top - bottom]), priors)
        if found is None:
            continue
        label, score = found
        grown = grow_to_prior(box, priors[label], bottom=bottom)
        confidence = score * min(1.0, (e - s) / 50.0)
        if confidence >= MIN_SCORE:
            out.append(Detection(tuple(float(v) for v in grown), label, confidence, int(e - s)))
    return out


def _ground_under(pts: NDArray[np.float64], ground: NDArray[np.bool_]) -> NDArray[np.float64]:
    """(N,) the ground height under each point: the filtered cell minimum of ground points."""
    from scipy import ndimage

    lo = pts[:, :2].min(axis=0) if pts.shape[0] else np.zeros(2)
    ij = np.floor((pts[:, :2] - lo) / GROUND_CELL).astype(np.int64)
    if pts.shape[0] == 0:
        return np.zeros(0)
    shape = tuple(int(v) + 1 for v in ij.max(axis=0))
    flat = ij[:, 0] * shape[1] + ij[:, 1]
    minima = np.full(shape[0] * shape[1], np.inf)
    np.minimum.at(minima, flat, pts[:, 2])
    size = 2 * GROUND_REACH + 1
    return np.asarray(
        ndimage.minimum_filter(minima.reshape(shape), size=size, mode="nearest").ravel()[flat]
    )


def link_tracks(
    frames: Sequence[Sequence[Detection]], dts: Sequence[float] | None = None
) -> list[list[Detection]]:
    """The detections of consecutive frames with track ids: a new list per frame.

    Frame to frame, each live track predicts its centre with its constant
    velocity (metres per frame step, ``dts`` seconds apart, default 0.1);
    detections of the same class are assigned to tracks by the Hungarian
    method on centre distance (scipy's ``linear_sum_assignment``), gated at
    TRACK_GATE metres. Unassigned detections start new tracks. Sensor
    coordinates are used as they are: pass ego-compensated detections when
    the sensor moves fast.
    """
    from scipy.optimize import linear_sum_assignment

    out: list[list[Detection]] = []
    tracks: dict[int, tuple[NDArray[np.float64], NDArray[np.float64], str]] = {}
    next_id = 0
    for k, dets in enumerate(frames):
        dt = 0.1 if dts is None or k == 0 else float(dts[k - 1])
        ids = list(tracks)
        pred = np.array([tracks[i][0] + tracks[i][1] * dt for i in ids]).reshape(-1, 2)
        centres = np.array([d.box[:2] for d in dets]).reshape(-1, 2)
        cost = np.linalg.norm(pred[:, None, :] - centres[None, :, :], axis=2)
        for a, i in enumerate(ids):
            for b, d in enumerate(dets):
                if tracks[i][2] != d.label or cost[a, b] > TRACK_GATE:
                    cost[a, b] = 1e6
        assigned: dict[int, int] = {}
        if cost.size:
            rows, cols = linear_sum_assignment(cost)
            assigned = {
                int(c): ids[int(r)] for r, c in zip(rows, cols, strict=True) if cost[r, c] < 1e6
            }
        new_tracks = {}
        frame_out = []
        for b, d in enumerate(dets):
            centre = np.array(d.box[:2])
            if b in assigned:
                tid = assigned[b]
                velocity = (centre - tracks[tid][0]) / dt
            else:
                tid, next_id = next_id, next_id + 1
                velocity = np.zeros(2)
            new_tracks[tid] = (centre, velocity, d.label)
            frame_out.append(Detection(d.box, d.label, d.score, d.points, tid))
        tracks = new_tracks
        out.append(frame_out)
    return out
