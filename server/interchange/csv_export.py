"""CSV export (write only): ``boxes.csv`` (one row per cuboid) and ``tags.csv``.

Attributes are JSON in one column. Lengths in metres, angles in radians,
coordinates in each frame's lidar frame.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

from server.interchange.exporter import SceneData
from server.interchange.model import Report

BOX_COLUMNS = [
    "frame", "frame_key", "track_id", "class", "cx", "cy", "cz", "length", "width", "height",
    "yaw", "pitch", "roll", "keyframe", "source", "attributes", "track_attributes",
]  # fmt: skip
TAG_COLUMNS = [
    "tag", "subject", "track_id", "related_track_id", "first_frame", "last_frame", "attributes",
]  # fmt: skip
LOST = ["ego poses and timestamps", "not importable (export only)"]


def write(data: SceneData, out: Path, *, points: bool) -> Report:
    labels = data.labels
    tracks = {t.id: t for t in labels.tracks}
    out.mkdir(parents=True, exist_ok=True)
    with (out / "boxes.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(BOX_COLUMNS)
        for b in labels.boxes:
            t = tracks[b.track_id]
            w.writerow([
                b.frame, labels.frames[b.frame].key, b.track_id, t.label, *b.center, *b.size,
                b.yaw, b.pitch, b.roll, b.keyframe, b.source, json.dumps(b.attributes),
                json.dumps(t.attributes),
            ])  # fmt: skip
    with (out / "tags.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(TAG_COLUMNS)
        for g in labels.tags:
            w.writerow([g.tag, g.subject, g.track_id or "", g.related_track_id or "",
                        g.first_frame, g.last_frame, json.dumps(g.attributes)])  # fmt: skip
    report = Report(lost=list(LOST))
    report.counts.update(boxes=len(labels.boxes), tags=len(labels.tags), frames=len(labels.frames))
    return report
