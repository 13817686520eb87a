"""The ``poses.json`` sidecar (pointcloud.io.sequence.read_poses) for formats without poses."""

from __future__ import annotations

import json
from pathlib import Path

from server.interchange.model import AnnotationSet


def write_poses(labels: AnnotationSet, out: Path, folder: str) -> bool:
    """Write ``out/poses.json`` for frames in ``out/<folder>/``; False when no frame has any."""
    if all(f.pose is None and f.timestamp is None for f in labels.frames):
        return False
    frames = [
        {
            "frame": i,
            "file": f"{folder}/{f.source.name if f.source else f.key}",
            "timestamp": f.timestamp,
            "pose": f.pose,
        }
        for i, f in enumerate(labels.frames)
    ]
    (out / "poses.json").write_text(json.dumps({"frames": frames}, indent=1))
    return True
