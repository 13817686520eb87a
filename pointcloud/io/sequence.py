"""Multi-frame sequences: which files are frames, in which order, and their poses."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path, PurePosixPath

import numpy as np
from numpy.typing import NDArray

from pointcloud.cloud import check_coordinates
from pointcloud.errors import CorruptFileError, UnsupportedFormatError

FRAME_FOLDERS = ("lidar", "velodyne")
POSES_FILE = "poses.json"
# Longest suffix first: ".pcd.bin" must win over ".bin".
SUFFIX_FORMATS = (
    (".pcd.bin", "nuscenes"),
    (".copc.laz", "las"),
    (".las", "las"),
    (".laz", "las"),
    (".pcd", "pcd"),
    (".ply", "ply"),
    (".bin", "kitti"),
    (".npy", "npy"),
)

Pose = tuple[float | None, NDArray[np.float64] | None]


def format_of_name(name: str) -> str | None:
    """The reader for a file name by its extension (case-insensitive), or None.

    One of ``"las"``, ``"pcd"``, ``"ply"``, ``"kitti"``, ``"nuscenes"``, ``"npy"``.
    """
    lower = name.lower()
    return next((fmt for suffix, fmt in SUFFIX_FORMATS if lower.endswith(suffix)), None)


def natural_key(name: str) -> list[int | str]:
    """Sort key that orders ``frame2`` before ``frame10``."""
    return [int(tok) if tok.isdigit() else tok.lower() for tok in re.split(r"(\d+)", name)]


def list_frames(path: str | Path) -> list[Path]:
    """The point-cloud files of a sequence, in natural order of their names.

    A file gives ``[file]``. A folder with a ``lidar/`` (or else ``velodyne/``)
    subfolder gives that subfolder's point-cloud files, otherwise the folder's own;
    hidden files and other extensions are ignored. Raises
    :class:`UnsupportedFormatError` when there is no frame file and
    ``FileNotFoundError`` when ``path`` does not exist.
    """
    path = Path(path)
    if path.is_file():
        if format_of_name(path.name) is None:
            raise UnsupportedFormatError(f"{path}: not a point-cloud file extension")
        return [path]
    if not path.is_dir():
        raise FileNotFoundError(path)
    folder = next((path / s for s in FRAME_FOLDERS if (path / s).is_dir()), path)
    frames = [
        p
        for p in folder.iterdir()
        if p.is_file() and not p.name.startswith(".") and format_of_name(p.name) is not None
    ]
    if not frames:
        raise UnsupportedFormatError(f"{folder}: no point-cloud frame files")
    return sorted(frames, key=lambda p: natural_key(p.name))


def read_poses(folder: str | Path) -> dict[str, Pose]:
    """Read ``<folder>/poses.json``: relative file path -> (timestamp s, 4x4 pose).

    The file is ``{"frames": [{"frame": 0, "file": "lidar/000000.pcd",
    "timestamp": 0.1, "pose": [[...4 rows...]]}]}``; ``pose`` is row-major,
    sensor frame to world frame, metres; ``timestamp`` and ``pose`` may be
    missing or null. Keys are POSIX paths relative to ``folder`` as written in
    the file (``./`` removed). Returns ``{}`` when there is no poses file. A
    translation past ``MAX_COORDINATE`` metres raises :class:`CoordinatesOutOfRangeError`.
    """
    file = Path(folder) / POSES_FILE
    if not file.is_file():
        return {}
    try:
        frames = json.loads(file.read_text(encoding="utf-8"))["frames"]
        return dict(_pose_entry(entry, file) for entry in frames)
    except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError) as exc:
        raise CorruptFileError(f"{file}: not a poses file: {exc!r}") from exc


def _pose_entry(entry: dict[str, object], file: Path) -> tuple[str, Pose]:
    name = PurePosixPath(str(entry["file"])).as_posix()
    stamp = entry.get("timestamp")
    if stamp is not None and not (isinstance(stamp, int | float) and math.isfinite(stamp)):
        raise CorruptFileError(f"{file}: frame {name}: timestamp {stamp!r} is not a number")
    raw = entry.get("pose")
    if raw is None:
        return name, (None if stamp is None else float(stamp), None)
    try:
        pose = np.array(raw, dtype=np.float64)
    except (ValueError, TypeError):
        raise CorruptFileError(f"{file}: frame {name}: pose is not a 4x4 matrix") from None
    if pose.shape != (4, 4) or not np.all(np.isfinite(pose)):
        raise CorruptFileError(f"{file}: frame {name}: pose must be 4x4 finite numbers")
    if not np.allclose(pose[3], [0.0, 0.0, 0.0, 1.0]):
        raise CorruptFileError(f"{file}: frame {name}: pose last row must be 0 0 0 1")
    check_coordinates(pose[:3, 3], pose[:3, 3], f"{file}: frame {name}: pose translation")
    return name, (None if stamp is None else float(stamp), pose)
