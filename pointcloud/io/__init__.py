"""Point-cloud file readers: one entry point, :func:`read_cloud`, and one module per format.

Every reader returns a :class:`~pointcloud.cloud.PointCloud` with positions in
metres in the file's own frame (sensor frame for lidar frames, the CRS for
LAS), an ``intensity`` float32 attribute (zeros when the file has none), and
non-finite points dropped and counted; a point past ``MAX_COORDINATE`` on any
axis refuses the whole file. Errors are
:class:`~pointcloud.errors.PointCloudError` subclasses; a missing file raises
``FileNotFoundError``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from pointcloud.cloud import PointCloud
from pointcloud.errors import UnsupportedFormatError
from pointcloud.io.binary import read_kitti_bin, read_npy, read_nuscenes_bin
from pointcloud.io.las import read_las
from pointcloud.io.pcd import read_pcd, write_pcd
from pointcloud.io.ply import read_ply
from pointcloud.io.sequence import format_of_name, list_frames, read_poses

__all__ = [
    "detect_format",
    "list_frames",
    "read_cloud",
    "read_kitti_bin",
    "read_las",
    "read_npy",
    "read_nuscenes_bin",
    "read_pcd",
    "read_ply",
    "read_poses",
    "write_pcd",
]

Reader = Callable[..., PointCloud]
READERS: dict[str, Reader] = {
    "las": read_las,
    "pcd": read_pcd,
    "ply": read_ply,
    "kitti": read_kitti_bin,
    "nuscenes": read_nuscenes_bin,
    "npy": read_npy,
}
# Leading bytes of formats that have a signature, for files with an unknown extension.
MAGIC = (
    (b"LASF", "las"),
    (b"ply\n", "ply"),
    (b"ply\r\n", "ply"),
    (b"\x93NUMPY", "npy"),
    (b"# .PCD", "pcd"),
    (b"VERSION", "pcd"),
)


def detect_format(path: str | Path) -> str:
    """The reader name for ``path``: by extension, else by the file's first bytes.

    Headerless ``.bin`` files are recognised by extension only. Raises
    :class:`UnsupportedFormatError` when neither identifies a format.
    """
    path = Path(path)
    fmt = format_of_name(path.name)
    if fmt is not None:
        return fmt
    with open(path, "rb") as f:
        head = f.read(16)
    for magic, name in MAGIC:
        if head.startswith(magic):
            return name
    raise UnsupportedFormatError(
        f"{path}: unknown point-cloud format ({path.suffix or 'no'} suffix)"
    )


def read_cloud(path: str | Path, *, max_points: int = 500_000_000) -> PointCloud:
    """Read any supported point-cloud file (LAS/LAZ/COPC, PCD, PLY, KITTI, nuScenes, npy).

    Raises :class:`TooLargeError` before allocating when the file declares more
    than ``max_points`` points, :class:`EmptyCloudError` when it has no finite
    point and :class:`CoordinatesOutOfRangeError` when a point is farther than
    ``pointcloud.cloud.MAX_COORDINATE`` (1e8 m) from the origin on some axis.
    """
    return READERS[detect_format(path)](path, max_points=max_points)
