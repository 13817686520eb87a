"""Geometry services on a frame's full-resolution points: auto-fit and ground height.

Inputs and outputs are in the frame's absolute coordinates (metres, radians);
the frame's points are local (absolute minus the frame offset).
"""

from __future__ import annotations

import math
from typing import Any

from pointcloud.fitting import ground_height
from pointcloud.objectfit import fit_object
from pointcloud.spatial import GridIndex
from server.priors import size_prior

GROUND_CLEARANCE = 0.2
"""Points lower than this above the ground are left out of a fit (metres)."""
GROUND_RADIUS = 4.0
"""Metres: the ground under a point is fitted to the points this far around it."""
GROUND_BEYOND = 5.0
"""Metres: a fit looks for ground this far beyond the box's corners (the object hides its own)."""


def ground_at(
    grid: GridIndex,
    offset: tuple[float, float, float],
    x: float,
    y: float,
    radius: float = GROUND_RADIUS,
) -> float | None:
    """The ground height under absolute (x, y), from the points within ``radius`` metres, or None
    when too little ground is seen."""
    lx, ly = x - offset[0], y - offset[1]
    r = radius
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
    label: str | None = None,
) -> dict[str, Any]:
    """Fit a box to the object around ``box`` (cx, cy, cz, l, w, h, yaw; absolute).

    Drops the points within GROUND_CLEARANCE of the ground, then
    :func:`pointcloud.objectfit.fit_object`: the object's points within
    ``margin`` metres of the box, an L-shape rectangle keeping the heading
    nearest the given yaw, grown away from the sensor (the frame's origin) to
    the typical size of class ``label`` when only part of it is seen. The box
    stands on the ground when the ground is seen. Raises FitError with too few
    points.
    """
    cx, cy, cz, length, width, height, yaw = box
    local = [cx - offset[0], cy - offset[1], cz - offset[2], length, width, height, yaw]
    reach = 0.5 * math.hypot(length + 2 * margin, width + 2 * margin) + 3.0
    near = grid.candidates(local[0] - reach, local[0] + reach, local[1] - reach, local[1] + reach)
    # The object hides the ground under it: look far enough out to see ground around it.
    reach_ground = max(GROUND_RADIUS, 0.5 * math.hypot(length, width) + GROUND_BEYOND)
    ground = ground_at(grid, offset, cx, cy, reach_ground)
    if ground is not None:
        near = near[near[:, 2] > ground - offset[2] + GROUND_CLEARANCE]
    sensor = (-offset[0], -offset[1])
    bottom = None if ground is None else ground - offset[2]
    fitted, count = fit_object(
        near, local, prior=size_prior(label), sensor=sensor, margin=margin, bottom=bottom
    )
    fx, fy, fz, fl, fw, fh, fyaw = (float(v) for v in fitted)
    return {
        "center": [fx + offset[0], fy + offset[1], fz + offset[2]],
        "size": [fl, fw, max(fh, 0.05)],
        "yaw": fyaw,
        "points": count,
        "ground": ground,
    }
