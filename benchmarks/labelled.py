"""Real labelled lidar frames from ../shared/data: SUSTechPOINTS (a 4-frame sequence) and KITTI.

Boxes are in the lidar frame, ``[cx, cy, cz, l, w, h, yaw]`` (metres, radians),
with the taxonomy class of each and its track id (SUSTechPOINTS ids persist
across frames; KITTI object frames have none, so each box is its own).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from pointcloud.io import read_cloud
from server.interchange.classes import to_class
from server.interchange.kitti import read_calib, velo_to_rect
from server.interchange.model import Report
from server.taxonomy import default_taxonomy


@dataclass
class LabelledFrame:
    """One frame: points (N, 3) float64 metres, boxes (K, 7), classes and track ids (K,)."""

    source: str
    name: str
    points: NDArray[np.float64]
    boxes: NDArray[np.float64]
    classes: list[str]
    tracks: list[str]


def sustech_frames(data_dir: Path) -> list[LabelledFrame]:
    """The SUSTechPOINTS frames that have labels, in frame order ([] when absent)."""
    root = data_dir / "sustech"
    frames = []
    for label_file in sorted((root / "label").glob("*.json")):
        cloud = root / "lidar" / f"{label_file.stem}.pcd"
        if not cloud.exists():
            continue
        boxes, classes, tracks = [], [], []
        for obj in json.loads(label_file.read_text()):
            psr = obj["psr"]
            p, s, r = psr["position"], psr["scale"], psr["rotation"]
            boxes.append([p["x"], p["y"], p["z"], s["x"], s["y"], s["z"], r["z"]])
            classes.append(to_class("sustech", obj["obj_type"], default_taxonomy(), Report())[0])
            tracks.append(str(obj["obj_id"]))
        frames.append(
            LabelledFrame(
                "sustech", label_file.stem, _points(cloud), np.array(boxes).reshape(-1, 7),
                classes, tracks,
            )
        )  # fmt: skip
    return frames


def kitti_frames(data_dir: Path) -> list[LabelledFrame]:
    """The KITTI object frames (DontCare lines skipped), [] when absent."""
    root = data_dir / "kitti"
    frames = []
    for label_file in sorted((root / "label_2").glob("*.txt")):
        cloud = root / "velodyne" / f"{label_file.stem}.bin"
        calib_file = root / "calib" / f"{label_file.stem}.txt"
        if not (cloud.exists() and calib_file.exists()):
            continue
        to_lidar = np.linalg.inv(velo_to_rect(read_calib(calib_file.read_text(), "calib")))
        boxes, classes, tracks = [], [], []
        for n, line in enumerate(label_file.read_text().splitlines()):
            parts = line.split()
            if not parts or parts[0] == "DontCare":
                continue
            h, w, length, x, y, z, ry = (float(v) for v in parts[8:15])
            centre = to_lidar @ np.array([x, y - h / 2, z, 1.0])
            yaw = math.remainder(-ry - math.pi / 2, 2 * math.pi)
            boxes.append([*centre[:3], length, w, h, yaw])
            classes.append(to_class("kitti", parts[0], default_taxonomy(), Report())[0])
            tracks.append(f"{label_file.stem}-{n}")
        frames.append(
            LabelledFrame(
                "kitti", label_file.stem, _points(cloud), np.array(boxes).reshape(-1, 7),
                classes, tracks,
            )
        )  # fmt: skip
    return frames


def _points(path: Path) -> NDArray[np.float64]:
    pts = read_cloud(path).xyz
    return pts[np.isfinite(pts).all(axis=1)]
