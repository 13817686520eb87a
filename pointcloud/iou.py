"""Exact rotated IoU of oriented boxes, bird's-eye-view (BEV) and 3D, vectorised over pairs.

Boxes are float64 (N, 7) ``[cx, cy, cz, length, width, height, yaw]`` in
metres and radians (see :mod:`pointcloud.boxes`). IoU uses **yaw only**: the
columns ``pitch, roll`` of an (N, 9) array are ignored, i.e. every box is
treated as level (BEV footprint = its yaw-rotated length x width rectangle,
vertical extent ``cz +- height / 2``). For yaw-only boxes the result is exact
up to float rounding (about 1e-9 m^2).

The intersection of two rectangles is computed with Green's theorem: the
boundary of ``A & B`` is the part of A's edges inside B plus the part of B's
edges inside A, so ``area = 1/2 * sum (t1 - t0) * cross(start, direction)``
over each edge clipped to the other rectangle (Liang-Barsky on an axis-aligned
box in that rectangle's frame). Every pair costs the same fixed 2 x 4 edge
clips, so all pairs run as one set of numpy array operations: no per-pair
polygon, no sorting, no Python loop. Pairs whose centres are further apart
than the sum of their half-diagonals are rejected before any of that.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from pointcloud.boxes import InvalidGeometryError, as_boxes

__all__ = ["bev_intersection_pairs", "bev_iou", "iou_3d", "iou_pairs"]

Mode = Literal["bev", "3d"]
CHUNK_PAIRS = 4_000_000
"""Upper bound on the (rows x M) candidate matrix built at once by the all-pairs functions."""
ANGLE_SNAP = 1e-8
"""Relative yaws within this many radians of a multiple of pi/2 are treated as exactly parallel."""
EDGE_TOL = 1e-9
"""Metres: parallel edges closer than this are treated as collinear."""
# Rectangle corners in the box frame, counter-clockwise from front-right, as
# multiples of (length / 2, width / 2); edge k runs from corner k to k + 1.
SIGNS = np.array([[1.0, -1.0], [1.0, 1.0], [-1.0, 1.0], [-1.0, -1.0]])
QUARTER_COS = np.array([1.0, 0.0, -1.0, 0.0])
QUARTER_SIN = np.array([0.0, 1.0, 0.0, -1.0])


def _rotate(
    v: NDArray[np.float64], c: NDArray[np.float64], s: NDArray[np.float64]
) -> NDArray[np.float64]:
    """Rotate (K, ..., 2) vectors counter-clockwise by the angle with cosine ``c``, sine ``s`` (K, ...)."""
    return np.stack([c * v[..., 0] - s * v[..., 1], s * v[..., 0] + c * v[..., 1]], axis=-1)


def _clip(
    start: NDArray[np.float64], d: NDArray[np.float64], half: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Liang-Barsky: parameters [t0, t1] of ``start + t * d`` (K, 4, 2) inside ``|p| <= half`` (K, 1, 2).

    Edges parallel to an axis (``d`` exactly 0 on it) are kept whole when within
    EDGE_TOL of the slab, else dropped. Empty clips come back with ``t1 <= t0``.
    """
    parallel = d == 0.0
    inside = np.abs(start) <= half + EDGE_TOL
    with np.errstate(divide="ignore", invalid="ignore"):
        inv = 1.0 / d
        ta = (-half - start) * inv
        tb = (half - start) * inv
    enter = np.where(parallel, np.where(inside, -np.inf, np.inf), np.minimum(ta, tb))
    leave = np.where(parallel, np.where(inside, np.inf, -np.inf), np.maximum(ta, tb))
    t0 = np.maximum(np.maximum(enter[..., 0], enter[..., 1]), 0.0)
    t1 = np.minimum(np.minimum(leave[..., 0], leave[..., 1]), 1.0)
    return t0, t1


def _same_edge(
    start: NDArray[np.float64], d: NDArray[np.float64], half: NDArray[np.float64]
) -> NDArray[np.bool_]:
    """(K, 4) mask: the edge lies on the other rectangle's boundary and runs the same way.

    Such an edge is already counted from the other rectangle's side; counting it
    twice would break identical and edge-sharing boxes.
    """
    on = np.abs(np.abs(start) - half) <= EDGE_TOL
    side = np.sign(start)
    on_x = (d[..., 0] == 0.0) & on[..., 0] & (side[..., 0] * d[..., 1] > 0.0)
    on_y = (d[..., 1] == 0.0) & on[..., 1] & (side[..., 1] * d[..., 0] < 0.0)
    return on_x | on_y


def _relative_turn(
    a: NDArray[np.float64], b: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Cosine and sine of ``yaw_a - yaw_b``, exact (0, +-1) near multiples of pi/2."""
    delta = a[:, 6] - b[:, 6]
    quarter = np.round(delta / (math.pi / 2.0))
    snap = np.abs(delta - quarter * (math.pi / 2.0)) < ANGLE_SNAP
    k = np.mod(quarter, 4).astype(np.intp)
    c = np.where(snap, QUARTER_COS[k], np.cos(delta))
    s = np.where(snap, QUARTER_SIN[k], np.sin(delta))
    return c, s


def _area_pairs(a: NDArray[np.float64], b: NDArray[np.float64]) -> NDArray[np.float64]:
    """BEV intersection areas in m^2 of aligned pairs (K, >=7) x (K, >=7), without pre-filtering."""
    c, s = _relative_turn(a, b)
    cb, sb = np.cos(b[:, 6]), np.sin(b[:, 6])
    dx, dy = a[:, 0] - b[:, 0], a[:, 1] - b[:, 1]
    t_ab = np.stack([cb * dx + sb * dy, -sb * dx + cb * dy], axis=1)  # A's centre in B's frame
    t_ba = _rotate(-t_ab, c, -s)  # B's centre in A's frame
    half_a, half_b = a[:, None, 3:5] / 2.0, b[:, None, 3:5] / 2.0
    local_a, local_b = SIGNS * half_a, SIGNS * half_b
    a_in_b = t_ab[:, None, :] + _rotate(local_a, c[:, None], s[:, None])
    b_in_a = t_ba[:, None, :] + _rotate(local_b, c[:, None], -s[:, None])
    d_a_in_b = np.roll(a_in_b, -1, axis=1) - a_in_b
    d_b_in_a = np.roll(b_in_a, -1, axis=1) - b_in_a
    d_a = np.roll(local_a, -1, axis=1) - local_a
    t0a, t1a = _clip(a_in_b, d_a_in_b, half_b)
    t0b, t1b = _clip(b_in_a, d_b_in_a, half_a)
    t1b = np.where(_same_edge(b_in_a, d_b_in_a, half_a), t0b, t1b)
    cross_a = local_a[..., 0] * d_a[..., 1] - local_a[..., 1] * d_a[..., 0]
    cross_b = b_in_a[..., 0] * d_b_in_a[..., 1] - b_in_a[..., 1] * d_b_in_a[..., 0]
    twice = (np.maximum(t1a - t0a, 0.0) * cross_a).sum(axis=1)
    twice += (np.maximum(t1b - t0b, 0.0) * cross_b).sum(axis=1)
    cap = np.minimum(a[:, 3] * a[:, 4], b[:, 3] * b[:, 4])
    return np.clip(twice / 2.0, 0.0, cap)


def _near(a: NDArray[np.float64], b: NDArray[np.float64]) -> NDArray[np.bool_]:
    """Pairs (aligned, or broadcast) whose footprint circles touch: the only ones that can intersect."""
    ra = np.hypot(a[..., 3], a[..., 4]) / 2.0
    rb = np.hypot(b[..., 3], b[..., 4]) / 2.0
    dist2 = (a[..., 0] - b[..., 0]) ** 2 + (a[..., 1] - b[..., 1]) ** 2
    return dist2 <= (ra + rb) ** 2


def bev_intersection_pairs(a: ArrayLike, b: ArrayLike) -> NDArray[np.float64]:
    """BEV intersection area in m^2 of aligned pairs ``a[k], b[k]``: a new (K,) array (yaw only)."""
    aa, bb = _aligned(a, b)
    area = np.zeros(aa.shape[0])
    near = np.flatnonzero(_near(aa, bb))
    if near.size:
        area[near] = _area_pairs(aa[near], bb[near])
    return area


def _aligned(a: ArrayLike, b: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    aa, bb = as_boxes(a), as_boxes(b)
    if aa.shape[0] != bb.shape[0]:
        raise InvalidGeometryError(
            f"iou_pairs needs as many boxes in a as in b: {aa.shape[0]} != {bb.shape[0]}"
        )
    return aa, bb


def _iou_from_area(
    area: NDArray[np.float64], a: NDArray[np.float64], b: NDArray[np.float64], mode: Mode
) -> NDArray[np.float64]:
    """IoU of aligned pairs given their BEV intersection ``area``."""
    if mode == "bev":
        inter, size_a, size_b = area, a[:, 3] * a[:, 4], b[:, 3] * b[:, 4]
    else:
        top = np.minimum(a[:, 2] + a[:, 5] / 2.0, b[:, 2] + b[:, 5] / 2.0)
        bottom = np.maximum(a[:, 2] - a[:, 5] / 2.0, b[:, 2] - b[:, 5] / 2.0)
        inter = area * np.maximum(top - bottom, 0.0)
        size_a, size_b = a[:, 3] * a[:, 4] * a[:, 5], b[:, 3] * b[:, 4] * b[:, 5]
    return np.clip(inter / (size_a + size_b - inter), 0.0, 1.0)


def iou_pairs(a: ArrayLike, b: ArrayLike, *, mode: Mode = "3d") -> NDArray[np.float64]:
    """IoU of aligned pairs ``a[k], b[k]`` (both (K, 7) or (K, 9)): a new (K,) float64 array.

    ``mode="3d"``: BEV intersection area x z-overlap / union volume;
    ``mode="bev"``: intersection / union of the yaw-rotated footprints. Yaw only
    (pitch and roll ignored). Raises InvalidGeometryError for bad boxes or a
    length mismatch.
    """
    aa, bb = _aligned(a, b)
    iou = np.zeros(aa.shape[0])
    near = np.flatnonzero(_near(aa, bb))
    if near.size:
        sa, sb = aa[near], bb[near]
        iou[near] = _iou_from_area(_area_pairs(sa, sb), sa, sb, mode)
    return iou


def _all_pairs(a: ArrayLike, b: ArrayLike, mode: Mode) -> NDArray[np.float64]:
    aa, bb = as_boxes(a), as_boxes(b)
    n, m = aa.shape[0], bb.shape[0]
    out = np.zeros((n, m))
    rows = max(1, CHUNK_PAIRS // max(m, 1))
    for lo in range(0, n, rows):
        block = aa[lo : lo + rows]
        i, j = np.nonzero(_near(block[:, None, :], bb[None, :, :]))
        if i.size:
            sa, sb = block[i], bb[j]
            out[lo + i, j] = _iou_from_area(_area_pairs(sa, sb), sa, sb, mode)
    return out


def bev_iou(a: ArrayLike, b: ArrayLike) -> NDArray[np.float64]:
    """BEV IoU of every box in ``a`` (N, 7|9) with every box in ``b`` (M, 7|9): a new (N, M) array.

    Exact for the yaw-rotated footprints; pitch and roll are ignored. Memory
    stays bounded: rows are processed in chunks of at most CHUNK_PAIRS pairs.
    """
    return _all_pairs(a, b, "bev")


def iou_3d(a: ArrayLike, b: ArrayLike) -> NDArray[np.float64]:
    """3D IoU of every box in ``a`` (N, 7|9) with every box in ``b`` (M, 7|9): a new (N, M) array.

    Intersection volume = BEV intersection area x overlap of the z ranges
    ``cz +- h / 2``; union = sum of volumes - intersection. Exact for yaw-only
    boxes; pitch and roll are ignored.
    """
    return _all_pairs(a, b, "3d")
