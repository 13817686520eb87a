"""A 2D grid index over a point cloud, for counting points in boxes quickly.

Points are sorted once by the ground-plane cell they fall in; a box then only
looks at the points of the cells under its footprint instead of all points.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike, NDArray

from pointcloud.boxes import as_boxes, count_points_in_boxes


class GridIndex:
    """Points (N, 3) bucketed by ``cell``-metre squares in x, y (a sorted copy is kept)."""

    def __init__(self, points: ArrayLike, *, cell: float = 2.0) -> None:
        pts = np.asarray(points, dtype=np.float32)
        self.cell = float(cell)
        if len(pts) == 0:
            self.lo = np.zeros(2)
            self.shape = (1, 1)
            self.points = pts.reshape(0, 3)
            self.starts = np.zeros(2, dtype=np.int64)
            return
        self.lo = pts[:, :2].min(axis=0).astype(np.float64)
        ij = ((pts[:, :2] - self.lo) / self.cell).astype(np.int64)
        self.shape = (int(ij[:, 0].max()) + 1, int(ij[:, 1].max()) + 1)
        keys = ij[:, 0] * self.shape[1] + ij[:, 1]
        order = np.argsort(keys, kind="stable")
        self.points = pts[order]
        # starts[k] .. starts[k + 1] are the points of cell k.
        counts = np.bincount(keys, minlength=self.shape[0] * self.shape[1])
        self.starts = np.concatenate([[0], np.cumsum(counts)])

    def candidates(self, xmin: float, xmax: float, ymin: float, ymax: float) -> NDArray[np.float32]:
        """The points of every cell that meets the rectangle (a new array)."""
        lo_x, lo_y = float(self.lo[0]), float(self.lo[1])
        i0, j0 = math.floor((xmin - lo_x) / self.cell), math.floor((ymin - lo_y) / self.cell)
        i1, j1 = math.floor((xmax - lo_x) / self.cell), math.floor((ymax - lo_y) / self.cell)
        i0, i1 = max(i0, 0), min(i1, self.shape[0] - 1)
        j0, j1 = max(j0, 0), min(j1, self.shape[1] - 1)
        if i0 > i1 or j0 > j1:
            return self.points[:0]
        rows = [
            self.points[
                self.starts[i * self.shape[1] + j0] : self.starts[i * self.shape[1] + j1 + 1]
            ]
            for i in range(i0, i1 + 1)
        ]
        return np.concatenate(rows) if len(rows) > 1 else rows[0]

    def count_in_box(self, box: ArrayLike) -> int:
        """Points inside one box (7 or 9 values, see :mod:`pointcloud.boxes`; boundary included).

        Called for every box edit (a class's minimum points), so a box without
        pitch and roll is tested in a few scalar-coefficient array operations;
        the result equals :func:`~pointcloud.boxes.count_points_in_boxes`.
        """
        values = [float(v) for v in np.asarray(box, dtype=np.float64).ravel()]
        if len(values) not in (7, 9):
            as_boxes(values)  # raises the usual InvalidGeometryError
        if not all(math.isfinite(v) for v in values) or min(values[3:6]) <= 0:
            as_boxes(values)
        cx, cy, cz, length, width, height, yaw = values[:7]
        # The footprint's bounding square: half-diagonal of the full 3D box, safe for any angles.
        r = 0.5 * math.sqrt(length * length + width * width + height * height)
        near = self.candidates(cx - r, cx + r, cy - r, cy + r).astype(np.float64)
        if not len(near):
            return 0
        if len(values) == 9 and (values[7] != 0.0 or values[8] != 0.0):
            return int(count_points_in_boxes(near, np.array(values).reshape(1, -1))[0])
        c, s = math.cos(yaw), math.sin(yaw)
        dx = near[:, 0] - cx
        dy = near[:, 1] - cy
        along = dx * c + dy * s
        across = dy * c - dx * s
        inside = np.abs(along) <= length / 2.0
        inside &= np.abs(across) <= width / 2.0
        inside &= np.abs(near[:, 2] - cz) <= height / 2.0
        return int(np.count_nonzero(inside))
