"""Headerless float arrays: KITTI ``.bin``, nuScenes ``.pcd.bin`` and numpy ``.npy``.

Also holds :func:`finish_cloud`, the last step every reader in this package
shares (default ``intensity``, empty check).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from pointcloud.cloud import PointCloud, check_points
from pointcloud.errors import CorruptFileError, EmptyCloudError, TooLargeError

Attributes = dict[str, NDArray[np.generic]]

KITTI_COLUMNS = 4
NUSCENES_COLUMNS = 5


def check_point_count(declared: int, max_points: int, path: str | Path) -> None:
    """Raise :class:`TooLargeError` if ``declared`` exceeds ``max_points`` (before allocating)."""
    if declared > max_points:
        raise TooLargeError(f"{path}: {declared} points declared, the limit is {max_points}")


def finish_cloud(
    xyz: NDArray[np.floating],
    attributes: Attributes,
    path: str | Path,
    *,
    offset: NDArray[np.float64] | None = None,
) -> PointCloud:
    """Build a :class:`PointCloud` from absolute (N, 3) positions in metres, file frame.

    Non-finite points (NaN or infinite in any coordinate: "no return" in
    organised clouds) are dropped and counted; ``intensity`` is added as float32
    zeros when the file has none. Raises :class:`EmptyCloudError` when no finite
    point remains and :class:`CoordinatesOutOfRangeError` when a remaining point
    is past ``MAX_COORDINATE`` metres.
    """
    check_points(xyz, path)
    attrs = dict(attributes)
    if "intensity" in attrs:
        attrs["intensity"] = attrs["intensity"].astype(np.float32, copy=False)
    else:
        attrs["intensity"] = np.zeros(len(xyz), dtype=np.float32)
    cloud = PointCloud.from_xyz(xyz, attrs, offset=offset)
    if len(cloud) == 0:
        raise EmptyCloudError(f"{path}: no finite points ({cloud.dropped} non-finite dropped)")
    return cloud


def _read_float32_columns(path: str | Path, columns: int, max_points: int) -> NDArray[np.float32]:
    """Read a headerless little-endian float32 file as an (N, columns) array (a new array)."""
    size = os.path.getsize(path)
    record = 4 * columns
    if size % record:
        raise CorruptFileError(
            f"{path}: {size} bytes is not a whole number of {columns} x float32 records "
            f"({record} bytes); trailing {size % record} bytes",
            offset=size - size % record,
        )
    check_point_count(size // record, max_points, path)
    data = np.fromfile(path, dtype="<f4")
    return data.reshape(-1, columns).astype(np.float32, copy=False)


def read_kitti_bin(path: str | Path, *, max_points: int = 500_000_000) -> PointCloud:
    """Read a KITTI velodyne ``.bin``: float32 x, y, z (metres, sensor frame), reflectance.

    Reflectance (0..1) becomes ``intensity``.
    """
    data = _read_float32_columns(path, KITTI_COLUMNS, max_points)
    return finish_cloud(data[:, :3], {"intensity": data[:, 3]}, path)


def read_nuscenes_bin(path: str | Path, *, max_points: int = 500_000_000) -> PointCloud:
    """Read a nuScenes ``.pcd.bin``: float32 x, y, z (metres, sensor frame), intensity, ring.

    ``ring`` (the laser index, stored as a float) becomes uint16.
    """
    data = _read_float32_columns(path, NUSCENES_COLUMNS, max_points)
    ring = np.clip(np.nan_to_num(data[:, 4]), 0, np.iinfo(np.uint16).max)
    attrs: Attributes = {"intensity": data[:, 3], "ring": np.rint(ring).astype(np.uint16)}
    return finish_cloud(data[:, :3], attrs, path)


def read_npy(path: str | Path, *, max_points: int = 500_000_000) -> PointCloud:
    """Read a ``.npy`` array of real numbers shaped (N, 3+): x, y, z in metres, then extras.

    Column 3 becomes ``intensity``; further columns become ``column_4``,
    ``column_5``, ... (float32). A structured array with fields ``x``, ``y``,
    ``z`` is also accepted; its other scalar fields keep their names and dtypes.
    """
    try:
        array = np.load(path, mmap_mode="r", allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise CorruptFileError(f"{path}: not a readable .npy file: {exc}") from exc
    if array.dtype.names is not None:
        return _structured_to_cloud(array, path, max_points)
    if array.ndim != 2 or array.shape[1] < 3 or array.dtype.kind not in "fiu":
        raise CorruptFileError(
            f"{path}: expected a real (N, 3+) array, got {array.dtype} of shape {array.shape}"
        )
    check_point_count(array.shape[0], max_points, path)
    attrs: Attributes = {}
    if array.shape[1] > 3:
        attrs["intensity"] = np.array(array[:, 3], dtype=np.float32)
    for col in range(4, array.shape[1]):
        attrs[f"column_{col}"] = np.array(array[:, col], dtype=np.float32)
    return finish_cloud(np.array(array[:, :3], dtype=np.float64), attrs, path)


def _structured_to_cloud(array: NDArray[np.void], path: str | Path, max_points: int) -> PointCloud:
    """Convert a 1-D structured array with x, y, z fields."""
    names = array.dtype.names or ()
    if array.ndim != 1 or not {"x", "y", "z"} <= set(names):
        raise CorruptFileError(f"{path}: structured .npy needs 1-D fields x, y, z; got {names}")
    check_point_count(array.shape[0], max_points, path)
    xyz = np.column_stack([np.asarray(array[k], dtype=np.float64) for k in "xyz"])
    attrs: Attributes = {
        k: np.array(array[k])
        for k in names
        if k not in ("x", "y", "z") and array.dtype[k].kind in "fiub"
    }
    return finish_cloud(xyz, attrs, path)
