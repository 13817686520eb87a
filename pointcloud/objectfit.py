"""Fit a box to the object a rough box was drawn around: crop, pick the object, fit, grow to its prior.

The points are (M, 3) metres, z up, in the frame the box is in; the ground
should already be removed (see :func:`object_points`). Boxes use the layout of
:mod:`pointcloud.boxes`: float64 ``[cx, cy, cz, length, width, height, yaw]``.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from pointcloud.boxes import as_points, points_in_box
from pointcloud.fitting import MIN_SIZE, FitError, fit_box, grow_to_prior

__all__ = ["CLUSTER_CELL", "bev_components", "fit_at_yaw", "fit_object", "object_points"]

CLUSTER_CELL = 0.3
"""Metres: BEV cells this size that touch (8-neighbourhood) belong to one object."""
MIN_POINTS = 5
"""Fewer object points than this around a box: nothing to fit."""
CONTEXT = 1.0
"""Metres around the cropped box in which an object's components are followed out."""
KEEP = 0.6
"""A component with at least this share of its points in the crop belongs to the object."""
SPARSE_POINTS = 40
"""Fewer object points than this do not fix a heading: the rough box's yaw is kept."""


def bev_components(points: ArrayLike, cell: float = CLUSTER_CELL) -> NDArray[np.int64]:
    """(M,) component id of each point: points in touching ``cell``-metre BEV cells share one.

    Ids are 0.. in no particular order (scipy's connected-component labelling
    on the occupancy grid, 8-connected).
    """
    from scipy import ndimage

    pts = as_points(points)
    if pts.shape[0] == 0:
        return np.zeros(0, dtype=np.int64)
    ij = np.floor((pts[:, :2] - pts[:, :2].min(axis=0)) / cell).astype(np.int64)
    grid = np.zeros(tuple(int(v) + 1 for v in ij.max(axis=0)), dtype=np.bool_)
    grid[ij[:, 0], ij[:, 1]] = True
    labels, _ = ndimage.label(grid, structure=np.ones((3, 3), dtype=np.bool_))
    return np.asarray(labels[ij[:, 0], ij[:, 1]] - 1, dtype=np.int64)


def object_points(points: ArrayLike, box: ArrayLike, *, margin: float) -> NDArray[np.float64]:
    """The points of the object(s) ``box`` was drawn around: those within ``box`` grown by ``margin``.

    The points within ``box`` grown by ``margin + CONTEXT`` metres are split
    into BEV components (:func:`bev_components`). A component is kept when at
    least KEEP of its points lie within the ``margin``-grown box: a neighbour
    that only reaches into the margin is mostly outside and is dropped, while
    the pieces of one object that sparse scan lines or an occluder split stay.
    An empty (0, 3) array when nothing is near.
    """
    pts = as_points(points).astype(np.float64)
    b = np.asarray(box, dtype=np.float64).reshape(7)
    grown, context = b.copy(), b.copy()
    grown[3:6] += 2.0 * margin
    context[3:5] += 2.0 * (margin + CONTEXT)
    context[5] = grown[5]
    crop = pts[points_in_box(pts, context)] if pts.shape[0] else pts
    if crop.shape[0] == 0:
        return crop.reshape(0, 3)
    parts = bev_components(crop)
    inside = points_in_box(crop, grown)
    total = np.bincount(parts)
    held = np.bincount(parts[inside], minlength=total.shape[0])
    keep = (held > 0) & (held >= KEEP * total)
    return crop[keep[parts] & inside]


def fit_object(
    points: ArrayLike,
    rough: ArrayLike,
    *,
    prior: tuple[float, float, float] | None = None,
    sensor: tuple[float, float] = (0.0, 0.0),
    margin: float = 0.5,
    bottom: float | None = None,
) -> tuple[NDArray[np.float64], int]:
    """The box of the object around ``rough`` and how many points it was fitted to.

    1. :func:`object_points` with ``margin`` (metres) around the rough box.
    2. :func:`pointcloud.fitting.fit_box` with the rough yaw as the hint
       (fewer than SPARSE_POINTS points: the rectangle at the rough yaw).
    3. With a ``prior`` (the class's typical l, w, h in metres),
       :func:`pointcloud.fitting.grow_to_prior` grows a partly seen side away
       from ``sensor`` (BEV metres); with ``bottom`` (the ground z, metres)
       the box stands on it.
    4. Steps 1-3 again around that box with a 0.3 m margin: a rough box far
       off the object cut part of it away the first time.

    Raises FitError when fewer than MIN_POINTS object points are found.
    """
    box = np.asarray(rough, dtype=np.float64).reshape(7)
    count = 0
    for pad in (margin, 0.3):
        obj = object_points(points, box, margin=pad)
        if obj.shape[0] < MIN_POINTS:
            if count:
                break
            raise FitError(
                f"only {obj.shape[0]} point(s) of an object around the box; nothing to fit"
            )
        if obj.shape[0] < SPARSE_POINTS:
            fitted = fit_at_yaw(obj, float(box[6]))
        else:
            fitted = fit_box(obj, yaw_hint=float(box[6]))
        if prior is not None:
            box = grow_to_prior(fitted, prior, sensor=sensor, bottom=bottom)
        else:
            box = _stand(fitted, bottom)
        count = int(obj.shape[0])
    return box, count


def fit_at_yaw(points: ArrayLike, yaw: float) -> NDArray[np.float64]:
    """The tightest box of ``points`` (M, 3; metres) at heading ``yaw`` (radians)."""
    pts = as_points(points).astype(np.float64)
    c, s = np.cos(yaw), np.sin(yaw)
    u = pts[:, 0] * c + pts[:, 1] * s
    v = -pts[:, 0] * s + pts[:, 1] * c
    mu, mv = (u.min() + u.max()) / 2.0, (v.min() + v.max()) / 2.0
    z_lo, z_hi = float(pts[:, 2].min()), float(pts[:, 2].max())
    size = np.maximum([np.ptp(u), np.ptp(v), z_hi - z_lo], MIN_SIZE)
    return np.array(
        [mu * c - mv * s, mu * s + mv * c, (z_lo + z_hi) / 2.0, *size, yaw], dtype=np.float64
    )


def _stand(box: NDArray[np.float64], bottom: float | None) -> NDArray[np.float64]:
    """``box`` with its bottom at ``bottom`` metres (unchanged for None)."""
    if bottom is None:
        return box
    out = box.copy()
    top = out[2] + out[5] / 2.0
    out[2], out[5] = (bottom + top) / 2.0, max(top - bottom, MIN_SIZE)
    return out
