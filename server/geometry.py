"""Geometry services on a frame's full-resolution points: auto-fit and ground height.

Inputs and outputs are in the frame's absolute coordinates (metres, radians);
the frame's points are local (absolute minus the frame offset).
"""

from __future__ import annotations

import math
from typing import Any

from pointcloud.boxes import points_in_box
from pointcloud.fitting import FitError, fit_box, ground_height
from pointcloud.spatial import GridIndex

GROUND_CLEARANCE = 0.2
"""Points lower than this above the ground are left out of a fit (metres)."""
GROUND_RADIUS = 4.0


def ground_at(
    grid: GridIndex, offset: tuple[float, float, float], x: float, y: float
) -> float | None:
    """The ground height under absolute (x, y), or None when too little ground is seen."""
    lx, ly = x - offset[0], y - offset[1]
    r = GROUND_RADIUS
    near = grid.candidates(lx - r, lx + r, ly - r, ly + r)
    if len(near) < 10:
        return None
    z = ground_height(near, lx, ly, radius=r)
    return None if z is None else z + offset[2]


def fit_in_frame(
    grid: GridIndex,
    offset: tuple[float, float, float],
    box: list[float],
    *,
    margin: float = 0.5,
) -> dict[str, Any]:
    """Fit a box to the object around ``box`` (cx, cy, cz, l, w, h, yaw; absolute).

    Takes the points inside the box grown by ``margin`` metres on every side,
    drops those within GROUND_CLEARANCE of the ground, fits an L-shape
    rectangle keeping the heading nearest the given yaw, and stands the box on
    the ground when the ground is seen. Raises FitError with too few points.
    """
    cx, cy, cz, length, width, height, yaw = box
    local = [cx - offset[0], cy - offset[1], cz - offset[2]]
    grown = [*local, length + 2 * margin, width + 2 * margin, height + 2 * margin, yaw]
    reach = 0.5 * math.hypot(grown[3], grown[4])
    near = grid.candidates(local[0] - reach, local[0] + reach, local[1] - reach, local[1] + reach)
    crop = near[points_in_box(near, grown)] if len(near) else near
    ground = ground_at(grid, offset, cx, cy)
    if ground is not None:
        crop = crop[crop[:, 2] > ground - offset[2] + GROUND_CLEARANCE]
    if len(crop) < 5:
        raise FitError(f"only {len(crop)} point(s) of an object around the box; nothing to fit")
    fx, fy, fz, fl, fw, fh, fyaw = (float(v) for v in fit_box(crop, yaw_hint=yaw))
    bottom, top = fz - fh / 2, fz + fh / 2
    if ground is not None:
        bottom = ground - offset[2]
    return {
        "center": [fx + offset[0], fy + offset[1], (bottom + top) / 2 + offset[2]],
        "size": [fl, fw, max(top - bottom, 0.05)],
        "yaw": fyaw,
        "points": int(len(crop)),
        "ground": ground,
    }
