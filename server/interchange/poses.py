"""The ``poses.json`` sidecar (pointcloud.io.sequence.read_poses) for formats without poses."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from server.interchange.model import AnnotationSet, FrameMeta


def write_poses(
    labels: AnnotationSet, out: Path, folder: str, name: Callable[[FrameMeta], str] | None = None
) -> bool:
    """Write ``out/poses.json`` for frames in ``out/<folder>/``, named as the writer named
    their point files (``name``; default: the source file's name); False when no frame
    has a pose or a timestamp."""
    if all(f.pose is None and f.timestamp is None for f in labels.frames):
        return False
    frames = [
        {
            "frame": i,
            "file": f"{folder}/{name(f) if name else f.source.name if f.source else f.key}",
            "timestamp": f.timestamp,
            "pose": f.pose,
        }
        for i, f in enumerate(labels.frames)
    ]
    (out / "poses.json").write_text(json.dumps({"frames": frames}, indent=1))
    return True
