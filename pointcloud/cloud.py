"""The in-memory point cloud every reader returns."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike, NDArray

from pointcloud.errors import CoordinatesOutOfRangeError

MAX_COORDINATE = 1e8
"""Largest accepted |coordinate| in metres (file frame).

Sensor-frame lidar stays within a few km; georeferenced data reaches ~6.4e6 m
(ECEF), 1e7 m (UTM northing, southern hemisphere), 2e7 m (web mercator) and
~5e7 m (Gauss-Krueger eastings with a zone prefix, e.g. CGCS2000 3-degree zones).
1e8 m leaves room for all of these (and for US survey feet) while refusing the
1e38-scale values that random bytes read as float32 produce.
"""


@dataclass
class PointCloud:
    """Points with full precision: ``offset + local`` is the position in metres.

    ``offset`` is a float64 (3,) origin in the file's own frame (it carries the
    large part of georeferenced coordinates); ``local`` is float32 (N, 3)
    relative to it, small enough that float32 keeps millimetres. Attributes are
    (N,) arrays keyed by name (``intensity`` as float32, ``classification`` as
    uint8, ``rgb`` as uint8 (N, 3), ...). ``dropped`` counts non-finite points
    that the reader removed.
    """

    offset: NDArray[np.float64]
    local: NDArray[np.float32]
    attributes: dict[str, NDArray[np.generic]] = field(default_factory=dict)
    dropped: int = 0

    def __len__(self) -> int:
        return int(self.local.shape[0])

    @property
    def xyz(self) -> NDArray[np.float64]:
        """Absolute positions as a new float64 (N, 3) array (a copy)."""
        return self.local.astype(np.float64) + self.offset

    @classmethod
    def from_xyz(
        cls,
        xyz: NDArray[np.floating],
        attributes: dict[str, NDArray[np.generic]] | None = None,
        *,
        offset: NDArray[np.float64] | None = None,
    ) -> PointCloud:
        """Build a cloud from absolute positions, dropping non-finite points.

        Without ``offset`` the origin is the centre of the bounding box, rounded
        to whole metres, so that ``local`` stays small for georeferenced data.
        """
        xyz = np.asarray(xyz)
        attrs = dict(attributes or {})
        finite = np.isfinite(xyz).all(axis=1)
        dropped = int(xyz.shape[0] - np.count_nonzero(finite))
        if dropped:
            xyz = xyz[finite]
            attrs = {k: v[finite] for k, v in attrs.items()}
        if offset is None:
            if len(xyz):
                lo = xyz.min(axis=0).astype(np.float64)
                hi = xyz.max(axis=0).astype(np.float64)
                offset = np.round((lo + hi) / 2.0)
            else:
                offset = np.zeros(3)
            if np.all(np.abs(offset) < 1e4):
                offset = np.zeros(3)
        local = (xyz.astype(np.float64) - offset).astype(np.float32)
        return cls(np.asarray(offset, dtype=np.float64), local, attrs, dropped)


def check_coordinates(
    lo: ArrayLike, hi: ArrayLike, source: object, *, limit: float = MAX_COORDINATE
) -> None:
    """Refuse a cloud whose bounding box (per-axis ``lo``/``hi``, metres) is non-finite or
    reaches past ``limit`` metres from the origin, with :class:`CoordinatesOutOfRangeError`.

    ``source`` (a path or a description) starts the message.
    """
    bounds = np.abs(np.concatenate([np.ravel(lo), np.ravel(hi)]).astype(np.float64))
    if np.all(bounds <= limit):
        return
    if not np.all(np.isfinite(bounds)):
        found = "a coordinate that is not a finite number"
    else:
        found = f"a coordinate of {float(bounds.max()):.3g} m"
    raise CoordinatesOutOfRangeError(
        f"{source}: {found}; no sensor or map projection puts a point beyond "
        f"{limit:.0e} m from the origin. Is the file what its name says?"
    )


def check_points(
    xyz: NDArray[np.floating], source: object, *, limit: float = MAX_COORDINATE
) -> None:
    """:func:`check_coordinates` over the points of ``xyz`` ((N, 3), metres) that are finite.

    Points with a NaN or infinite coordinate are ignored here: readers drop and
    count them (:meth:`PointCloud.from_xyz`). Makes no copy of ``xyz``.
    """
    rows = np.isfinite(xyz).all(axis=1)
    if not rows.any():
        return
    kept = rows[:, None]
    lo = np.min(xyz, axis=0, where=kept, initial=np.inf)
    hi = np.max(xyz, axis=0, where=kept, initial=-np.inf)
    check_coordinates(lo, hi, source, limit=limit)
