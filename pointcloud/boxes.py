"""Oriented 3D boxes: the shared array layout, corners and points-in-box tests.

A box is a centre (x, y, z) in metres in the scene frame, a size (length
along the heading, width, height) in metres, and a yaw in radians about +z,
0 along +x, counter-clockwise seen from above, normalised to (-pi, pi].
Pitch and roll are optional and default to 0.

Many boxes are a float64 array of shape (N, 7)::

    [cx, cy, cz, length, width, height, yaw]

or (N, 9) with ``pitch, roll`` appended. The rotation from box frame to
scene frame is ``Rz(yaw) @ Ry(pitch) @ Rx(roll)`` (intrinsic z-y'-x''), so a
point ``p`` is inside when ``|R.T @ (p - centre)| <= size / 2`` on every axis.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import overload

import numpy as np
from numpy.typing import ArrayLike, NDArray

from pointcloud.errors import PointCloudError

__all__ = [
    "Box",
    "InvalidGeometryError",
    "as_boxes",
    "as_points",
    "bev_corners",
    "box_corners",
    "count_points_in_boxes",
    "normalize_yaw",
    "points_in_box",
    "points_in_boxes",
    "rotation_matrices",
]

TWO_PI = 2.0 * math.pi
# Local corner signs: bottom face then top face, each counter-clockwise seen from
# above starting at front-right (+length/2, -width/2).
CORNER_SIGNS = np.array(
    [
        [1, -1, -1],
        [1, 1, -1],
        [-1, 1, -1],
        [-1, -1, -1],
        [1, -1, 1],
        [1, 1, 1],
        [-1, 1, 1],
        [-1, -1, 1],
    ],
    dtype=np.float64,
)
SORT_MIN_POINTS = 200_000
"""Above this many points ``points_in_boxes`` buckets points by x once instead of scanning per box."""


class InvalidGeometryError(PointCloudError):
    """A box or point array has the wrong shape, a non-finite value or a non-positive size."""

    code = "invalid_geometry"


@dataclass(frozen=True)
class Box:
    """One oriented box: centre in metres, size (length, width, height) in metres, angles in radians."""

    cx: float
    cy: float
    cz: float
    length: float
    width: float
    height: float
    yaw: float = 0.0
    pitch: float = 0.0
    roll: float = 0.0

    def as_array(self, *, with_pitch_roll: bool = False) -> NDArray[np.float64]:
        """A new (7,) array ``[cx, cy, cz, l, w, h, yaw]`` (or (9,) with pitch, roll); yaw normalised."""
        values = [self.cx, self.cy, self.cz, self.length, self.width, self.height]
        values.append(normalize_yaw(self.yaw))
        if with_pitch_roll:
            values += [self.pitch, self.roll]
        return np.array(values, dtype=np.float64)

    @classmethod
    def from_array(cls, values: ArrayLike) -> Box:
        """A box from a (7,) or (9,) array; raises InvalidGeometryError for anything else."""
        row = as_boxes(values)
        if row.shape[0] != 1:
            raise InvalidGeometryError(f"expected one box, got {row.shape[0]}")
        v = [float(x) for x in row[0]]
        return cls(*v)


@overload
def normalize_yaw(yaw: float) -> float: ...
@overload
def normalize_yaw(yaw: NDArray[np.floating]) -> NDArray[np.float64]: ...
def normalize_yaw(yaw: float | NDArray[np.floating]) -> float | NDArray[np.float64]:
    """Angles in radians wrapped into (-pi, pi]; a float for a float, else a new float64 array."""
    wrapped = np.pi - np.mod(np.pi - np.asarray(yaw, dtype=np.float64), TWO_PI)
    if isinstance(yaw, np.ndarray):
        return wrapped
    return float(wrapped)


def as_boxes(boxes: ArrayLike) -> NDArray[np.float64]:
    """Validate boxes and return them as a float64 (N, 7) or (N, 9) array.

    A single (7,) or (9,) box becomes (1, 7) or (1, 9). The result is a view
    of the input when it already is a C-ordered float64 2-D array, else a copy.
    Raises InvalidGeometryError for another shape, a non-finite value or a
    size that is not > 0.
    """
    arr = np.asarray(boxes, dtype=np.float64)
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2 or arr.shape[1] not in (7, 9):
        raise InvalidGeometryError(f"boxes must have shape (N, 7) or (N, 9), got {arr.shape}")
    if not np.isfinite(arr).all():
        raise InvalidGeometryError("boxes contain a non-finite value")
    if arr.shape[0] and not (arr[:, 3:6] > 0).all():
        raise InvalidGeometryError("box sizes (length, width, height) must be > 0")
    return arr


def as_points(points: ArrayLike) -> NDArray[np.floating]:
    """Validate an (M, 3) point array (float32 or float64 kept, anything else to float64)."""
    arr = np.asarray(points)
    if arr.dtype not in (np.float32, np.float64):
        arr = arr.astype(np.float64)
    if arr.ndim != 2 or arr.shape[1] != 3:
        raise InvalidGeometryError(f"points must have shape (M, 3), got {arr.shape}")
    return arr


def rotation_matrices(boxes: ArrayLike) -> NDArray[np.float64]:
    """Box-to-scene rotations ``Rz(yaw) @ Ry(pitch) @ Rx(roll)`` as a new (N, 3, 3) array."""
    b = as_boxes(boxes)
    n = b.shape[0]
    cy, sy = np.cos(b[:, 6]), np.sin(b[:, 6])
    if b.shape[1] == 9:
        cp, sp = np.cos(b[:, 7]), np.sin(b[:, 7])
        cr, sr = np.cos(b[:, 8]), np.sin(b[:, 8])
    else:
        cp, sp, cr, sr = np.ones(n), np.zeros(n), np.ones(n), np.zeros(n)
    rot = np.empty((n, 3, 3))
    rot[:, 0] = np.stack([cy * cp, cy * sp * sr - sy * cr, cy * sp * cr + sy * sr], axis=1)
    rot[:, 1] = np.stack([sy * cp, sy * sp * sr + cy * cr, sy * sp * cr - cy * sr], axis=1)
    rot[:, 2] = np.stack([-sp, cp * sr, cp * cr], axis=1)
    return rot


def box_corners(boxes: ArrayLike) -> NDArray[np.float64]:
    """The 8 corners of each box as a new (N, 8, 3) array in metres, scene frame.

    Order: bottom face (z = -h/2 in the box frame) then top face, each
    counter-clockwise seen from above, starting at front-right
    (+length/2, -width/2). Pitch and roll are applied when given.
    """
    b = as_boxes(boxes)
    local = CORNER_SIGNS[None, :, :] * (b[:, None, 3:6] / 2.0)
    return np.einsum("nij,nkj->nki", rotation_matrices(b), local) + b[:, None, 0:3]


def bev_corners(boxes: ArrayLike) -> NDArray[np.float64]:
    """The 4 bird's-eye-view corners (x, y) of each box, counter-clockwise, as a new (N, 4, 2) array.

    Uses yaw only (pitch and roll ignored), same order as the bottom face of :func:`box_corners`.
    """
    b = as_boxes(boxes)
    c, s = np.cos(b[:, 6])[:, None], np.sin(b[:, 6])[:, None]
    lx = CORNER_SIGNS[None, :4, 0] * b[:, 3:4] / 2.0
    ly = CORNER_SIGNS[None, :4, 1] * b[:, 4:5] / 2.0
    return np.stack([b[:, 0:1] + c * lx - s * ly, b[:, 1:2] + s * lx + c * ly], axis=2)


def _inside_local(
    pts: NDArray[np.floating], box: NDArray[np.float64], rot: NDArray[np.float64], margin: float
) -> NDArray[np.bool_]:
    """Exact test for a (K, 3) subset against one box given its (3, 3) rotation."""
    local = (pts - box[0:3]) @ rot
    half = box[3:6] / 2.0 + margin
    return np.asarray((np.abs(local) <= half).all(axis=1), dtype=np.bool_)


def _bounding_radius(box: NDArray[np.float64]) -> tuple[float, float]:
    """Half-extents (xy, z) of an axis-aligned region that surely contains the box."""
    half = box[3:6] / 2.0
    if box.shape[0] == 9 and (box[7] != 0.0 or box[8] != 0.0):
        r = float(np.linalg.norm(half))
        return r, r
    return float(math.hypot(half[0], half[1])), float(half[2])


def _candidates(
    xyz: NDArray[np.floating], box: NDArray[np.float64], margin: float
) -> NDArray[np.bool_]:
    """Bounding-square pre-filter: a mask over ``xyz`` that keeps every point the box may hold."""
    rxy, rz = _bounding_radius(box)
    rxy, rz = rxy + margin, rz + margin
    keep = np.abs(xyz[:, 0] - box[0]) <= rxy
    keep &= np.abs(xyz[:, 1] - box[1]) <= rxy
    keep &= np.abs(xyz[:, 2] - box[2]) <= rz
    return keep


def points_in_box(
    points: ArrayLike, box: ArrayLike | Box, *, margin: float = 0.0
) -> NDArray[np.bool_]:
    """A new (M,) bool mask of the points inside one box (boundary included).

    ``points`` is (M, 3) in metres, same frame as the box; ``box`` is a
    (7,) / (9,) array or a :class:`Box`. ``margin`` in metres grows the box on
    every side (negative shrinks it). Pitch and roll are honoured.
    """
    pts = as_points(points)
    b = as_boxes(box.as_array(with_pitch_roll=True) if isinstance(box, Box) else box)
    if b.shape[0] != 1:
        raise InvalidGeometryError(f"expected one box, got {b.shape[0]}")
    row = b[0]
    mask = _candidates(pts, row, margin)
    idx = np.flatnonzero(mask)
    mask[idx] = _inside_local(pts[idx], row, rotation_matrices(row)[0], margin)
    return mask


def _x_buckets(
    x: NDArray[np.floating], bucket: float
) -> tuple[NDArray[np.intp], NDArray[np.intp], float, float]:
    """Point indices sorted by x bucket, bucket start offsets, the x origin and bucket width."""
    lo, hi = float(x.min()), float(x.max())
    width = max(bucket, (hi - lo) / 60_000.0)
    keys = ((x - lo) / width).astype(np.int32).astype(np.uint16)
    order = np.argsort(keys, kind="stable")
    starts = np.concatenate([[0], np.cumsum(np.bincount(keys, minlength=int(keys.max()) + 2))])
    return order, starts.astype(np.intp), lo, width


def _box_members(
    pts: NDArray[np.floating], boxes: NDArray[np.float64], margin: float
) -> list[NDArray[np.intp]]:
    """For each box, the sorted indices of the points inside it."""
    rots = rotation_matrices(boxes)
    members: list[NDArray[np.intp]] = []
    if pts.shape[0] < SORT_MIN_POINTS or boxes.shape[0] < 3:
        for row, rot in zip(boxes, rots, strict=True):
            idx = np.flatnonzero(_candidates(pts, row, margin))
            members.append(idx[_inside_local(pts[idx], row, rot, margin)])
        return members
    order, starts, x0, width = _x_buckets(pts[:, 0], 0.25)
    last = starts.shape[0] - 2
    for row, rot in zip(boxes, rots, strict=True):
        rxy = _bounding_radius(row)[0] + margin
        # One spare bucket each side absorbs float32 rounding of the point keys.
        first = int(np.clip(math.floor((row[0] - rxy - x0) / width) - 1, 0, last))
        stop = int(np.clip(math.floor((row[0] + rxy - x0) / width) + 1, -1, last))
        idx = order[starts[first] : starts[stop + 1]] if stop >= first else order[:0]
        sub = pts[idx]
        keep = _candidates(sub, row, margin)
        idx, sub = idx[keep], sub[keep]
        members.append(np.sort(idx[_inside_local(sub, row, rot, margin)]))
    return members


def points_in_boxes(
    points: ArrayLike, boxes: ArrayLike, *, margin: float = 0.0
) -> NDArray[np.intp]:
    """For each point, the index of the first box that holds it, or -1: a new (M,) int array.

    ``points`` is (M, 3) in metres; ``boxes`` is (N, 7) or (N, 9). Where boxes
    overlap the lowest box index wins; use :func:`count_points_in_boxes` to
    count every box. Memory is O(M + N): no (M, N) array is built; above
    ``SORT_MIN_POINTS`` points are bucketed by x once so each box only
    examines its own slab.
    """
    pts = as_points(points)
    b = as_boxes(boxes)
    owner = np.full(pts.shape[0], -1, dtype=np.intp)
    if pts.shape[0] == 0:
        return owner
    for i, idx in reversed(list(enumerate(_box_members(pts, b, margin)))):
        owner[idx] = i
    return owner


def count_points_in_boxes(
    points: ArrayLike, boxes: ArrayLike, *, margin: float = 0.0
) -> NDArray[np.intp]:
    """The number of points inside each box, a new (N,) int array (overlaps count in every box)."""
    pts = as_points(points)
    b = as_boxes(boxes)
    if pts.shape[0] == 0:
        return np.zeros(b.shape[0], dtype=np.intp)
    return np.array([idx.shape[0] for idx in _box_members(pts, b, margin)], dtype=np.intp)
