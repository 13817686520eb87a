"""``pointlabel-json``: PointLabel's own nuScenes-like JSON layout (docs/formats.md).

Formerly exported as ``nuscenes``; the real nuScenes tables are ``nuscenes.py``.

A folder with ``annotations.json`` and the frames in ``lidar/``. Boxes are in
each frame's lidar frame (not nuScenes' global frame): ``translation`` is the
centre (m), ``size`` is nuScenes' (width, length, height) and ``rotation`` a
quaternion (w, x, y, z). Ego poses are ``ego_pose`` {translation, rotation}
(lidar to world).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pointcloud.io.sequence import list_frames
from server.interchange.classes import to_class
from server.interchange.exporter import SceneData
from server.interchange.geometry import euler_to_quat, pose_to_tq, quat_to_euler, tq_to_pose
from server.interchange.importer import Parsed
from server.interchange.model import (
    AnnotationSet,
    Box,
    FrameMeta,
    InterchangeError,
    Report,
    Tag,
    Track,
    frame_key,
)
from server.interchange.paths import ImportFolder
from server.taxonomy import Taxonomy

FILE = "annotations.json"
FORMAT = "pointlabel-json"
FORMERLY = "pointlabel-nuscenes-style"
LOST = ["cuboid and tag ids (new ids on import)"]


def write(data: SceneData, out: Path, *, points: bool) -> Report:
    labels = data.labels
    report = Report(lost=list(LOST))
    frames = []
    for i, f in enumerate(labels.frames):
        entry: dict[str, Any] = {"index": i, "file": f"lidar/{f.source.name if f.source else f.key}",
                                 "timestamp": f.timestamp, "ego_pose": None}  # fmt: skip
        if f.pose is not None:
            t, q = pose_to_tq(f.pose)
            entry["ego_pose"] = {"translation": t, "rotation": q}
        frames.append(entry)
    doc = {
        "format": FORMAT, "version": 1, "frames": frames,
        "instances": [{"token": t.id, "category": t.label, "attributes": t.attributes} for t in labels.tracks],
        "annotations": [
            {"instance_token": b.track_id, "frame": b.frame, "translation": list(b.center),
             "size": [b.size[1], b.size[0], b.size[2]],
             "rotation": list(euler_to_quat(b.yaw, b.pitch, b.roll)),
             "attributes": b.attributes, "keyframe": b.keyframe, "source": b.source}
            for b in labels.boxes
        ],
        "tags": [
            {"tag": g.tag, "subject": g.subject, "instance_token": g.track_id,
             "related_instance_token": g.related_track_id, "first_frame": g.first_frame,
             "last_frame": g.last_frame, "attributes": g.attributes}
            for g in labels.tags
        ],
    }  # fmt: skip
    out.mkdir(parents=True, exist_ok=True)
    (out / FILE).write_text(json.dumps(doc, indent=1))
    report.counts.update(boxes=len(labels.boxes), tags=len(labels.tags), frames=len(frames))
    if points:
        data.copy_points(out / "lidar", report)
    return report


def read(folder: ImportFolder, taxonomy: Taxonomy) -> Parsed:
    """Read ``annotations.json`` (or the file the user named) and the folder's frames."""
    file = folder.named or FILE
    text = folder.read_text(file)
    try:
        return _parse(json.loads(text), folder.root, taxonomy)
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise InterchangeError(f"{file}: not a {FORMAT} file: {exc!r}") from exc


def _parse(doc: dict[str, Any], folder: Path, taxonomy: Taxonomy) -> Parsed:
    report = Report()
    labels = AnnotationSet(frames=[FrameMeta(frame_key(f)) for f in list_frames(folder)])
    keys = [f.key for f in labels.frames]
    position: dict[int, int | None] = {}
    for n, fr in enumerate(doc.get("frames", [])):
        key = frame_key(fr["file"]) if fr.get("file") else None
        i = keys.index(key) if key in keys else (n if key is None and n < len(keys) else None)
        position[int(fr.get("index", n))] = i
        if i is not None:
            labels.frames[i].timestamp = fr.get("timestamp")
            pose = fr.get("ego_pose")
            if pose:
                labels.frames[i].pose = tq_to_pose(pose["translation"], pose["rotation"])
    for inst in doc.get("instances", []):
        label, extra = to_class("nuscenes", str(inst["category"]), taxonomy, report)
        labels.tracks.append(
            Track(str(inst["token"]), label, {**extra, **inst.get("attributes", {})})
        )
    known = {t.id for t in labels.tracks}
    for a in doc.get("annotations", []):
        frame = position.get(int(a["frame"]))
        if frame is None or str(a["instance_token"]) not in known:
            report.drop("box_without_frame" if frame is None else "box_without_instance")
            continue
        w, length, h = (float(v) for v in a["size"])
        yaw, pitch, roll = quat_to_euler(tuple(float(v) for v in a["rotation"]))  # type: ignore[arg-type]
        centre = tuple(float(v) for v in a["translation"])
        labels.boxes.append(Box(str(a["instance_token"]), frame, centre, (length, w, h), yaw, pitch,  # type: ignore[arg-type]
                                roll, dict(a.get("attributes", {})), bool(a.get("keyframe", True))))  # fmt: skip
    for g in doc.get("tags", []):
        first, last = position.get(int(g["first_frame"])), position.get(int(g["last_frame"]))
        if first is None or last is None:
            report.drop("tag_without_frame")
            continue
        labels.tags.append(Tag(str(g["tag"]), str(g.get("subject", "track")), first, last,
                               g.get("instance_token"), g.get("related_instance_token"),
                               dict(g.get("attributes", {}))))  # fmt: skip
    return Parsed(folder, labels, report)
